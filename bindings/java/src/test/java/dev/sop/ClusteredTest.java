package dev.sop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Clustered mode against the real Redis of the test run (SOP_TEST_REDIS_URL). */
class ClusteredTest {
    @TempDir
    Path dir;

    @Test
    void threadsCommitThroughRedisCoordination() throws Exception {
        try (Sop db = Sop.open(dir, OpenOptions.defaults().redis(TestEnv.redisUrl()))) {
            ThreadsTest.writeConcurrently(db, "clustered");
            ThreadsTest.assertCounts(db, "clustered");
        }
        String coordination = java.nio.file.Files.readString(dir.resolve("sop.json"));
        assertTrue(coordination.contains("redis"), coordination);
    }

    @Test
    void redisThatCannotBeReachedIsUnavailable() {
        UnavailableException e = assertThrows(UnavailableException.class,
                () -> Sop.open(dir, OpenOptions.defaults().redis("redis://127.0.0.1:1/")));
        assertEquals(ErrorCode.UNAVAILABLE, e.code());
    }

    @Test
    void twoHandlesOnOneClusteredFolder() {
        try (Sop a = Sop.open(dir, OpenOptions.defaults().redis(TestEnv.redisUrl()));
             Sop b = Sop.open(dir)) {
            a.runInTransaction(tx -> tx.createJsonStore("s").put("\"n\"", "0"));
            for (int i = 0; i < 20; i++) {
                Sop db = i % 2 == 0 ? a : b;
                db.runInTransaction(tx -> {
                    JsonStore s = tx.openJsonStore("s");
                    s.put("\"n\"", Long.toString(Long.parseLong(s.get("\"n\"").orElseThrow()) + 1));
                });
            }
            try (Transaction ta = a.beginRead(); Transaction tb = b.beginRead()) {
                assertEquals(Optional.of("20"), ta.openJsonStore("s").get("\"n\""));
                assertEquals(Optional.of("20"), tb.openJsonStore("s").get("\"n\""));
            }
            assertTrue(b.check().contains("\"ok\":true"));
        }
    }
}
