package dev.sop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Many threads over one database handle: exact counts, no lost update. */
class ThreadsTest {
    static final int THREADS = 4;
    static final int ROUNDS = 40;

    @TempDir
    Path dir;

    /** Each thread adds its own items and increments shared counters, with retries on conflict. */
    static void writeConcurrently(Sop db, String store) throws Exception {
        db.runInTransaction(tx -> tx.createJsonStore(store).put("\"counter\"", "0"));
        AtomicLong attempts = new AtomicLong();
        runAll(THREADS, t -> {
            for (int i = 0; i < ROUNDS; i++) {
                int round = i;
                db.runInTransaction(tx -> {
                    attempts.incrementAndGet();
                    JsonStore s = tx.openJsonStore(store);
                    long n = Long.parseLong(s.get("\"counter\"").orElseThrow());
                    s.put("\"counter\"", Long.toString(n + 1));
                    s.add("\"t" + t + "-" + round + "\"", "{\"thread\":" + t + ",\"round\":" + round + "}");
                });
            }
            return null;
        });
        assertTrue(attempts.get() >= THREADS * ROUNDS);
    }

    static void assertCounts(Sop db, String store) {
        try (Transaction tx = db.beginRead()) {
            JsonStore s = tx.openJsonStore(store);
            assertEquals(Optional.of(Long.toString(THREADS * ROUNDS)), s.get("\"counter\""));
            assertEquals(THREADS * ROUNDS + 1, s.count());
            for (int t = 0; t < THREADS; t++) {
                for (int i = 0; i < ROUNDS; i++) {
                    assertEquals(Optional.of("{\"thread\":" + t + ",\"round\":" + i + "}"),
                            s.get("\"t" + t + "-" + i + "\""));
                }
            }
            tx.commit();
        }
    }

    @Test
    void threadsCommittingToOneStore() throws Exception {
        try (Sop db = Sop.open(dir)) {
            writeConcurrently(db, "shared");
            assertCounts(db, "shared");
            assertTrue(db.check().contains("\"ok\":true"));
        }
    }

    @Test
    void oneTransactionSharedByThreads() throws Exception {
        try (Sop db = Sop.open(dir)) {
            try (Transaction tx = db.beginWrite()) {
                JsonStore s = tx.createJsonStore("s");
                runAll(THREADS, t -> {
                    for (int i = 0; i < 250; i++) {
                        s.put("\"" + t + "/" + i + "\"", Integer.toString(i));
                        s.get("\"" + t + "/" + i + "\"").orElseThrow();
                    }
                    return null;
                });
                assertEquals(THREADS * 250, s.count());
                tx.commit();
            }
            try (Transaction tx = db.beginRead()) {
                assertEquals(THREADS * 250, tx.openJsonStore("s").count());
            }
        }
    }

    @Test
    void closingATransactionWhileOtherThreadsUseIt() throws Exception {
        try (Sop db = Sop.open(dir)) {
            db.runInTransaction(tx -> tx.createJsonStore("s").put("1", "1"));
            for (int round = 0; round < 20; round++) {
                Transaction tx = db.beginWrite();
                JsonStore s = tx.openJsonStore("s");
                ExecutorService pool = Executors.newFixedThreadPool(THREADS);
                List<Future<Integer>> done = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    done.add(pool.submit(() -> {
                        int ok = 0;
                        while (true) {
                            try (Cursor<String, String> c = s.range()) {
                                for (Item<String, String> item : c) {
                                    assertEquals("1", item.key());
                                }
                                s.get("1");
                                ok++;
                            } catch (ClosedException | TransactionEndedException expected) {
                                return ok;
                            }
                        }
                    }));
                }
                Thread.sleep(2);
                tx.close();
                for (Future<Integer> f : done) {
                    f.get(30, TimeUnit.SECONDS);
                }
                pool.shutdown();
            }
            try (Transaction tx = db.beginRead()) {
                assertEquals(1, tx.openJsonStore("s").count());
            }
        }
    }

    interface Work {
        Void run(int thread) throws Exception;
    }

    static void runAll(int threads, Work work) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Void>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                Callable<Void> c = () -> work.run(id);
                futures.add(pool.submit(c));
            }
            for (Future<Void> f : futures) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
