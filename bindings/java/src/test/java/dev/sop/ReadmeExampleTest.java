package dev.sop;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The example of README.md's Java section, as written there (but printing to a buffer). */
class ReadmeExampleTest {
    @TempDir
    Path tmp;

    @Test
    void readmeExample() {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(buffer, true, StandardCharsets.UTF_8);
        try (Sop db = Sop.open(tmp.resolve("my-data"))) {
            try (Transaction tx = db.beginWrite()) {
                JsonStore users = tx.openOrCreateJsonStore("users", null, StoreOptions.defaults());
                users.put("\"ada\"", "{\"name\":\"Ada Lovelace\"}");
                tx.commit();
            }
            db.runInTransaction(tx -> tx.openJsonStore("users").put("\"bob\"", "1"));
            try (Transaction tx = db.beginRead()) {
                tx.openJsonStore("users").stream("\"a\"", "\"c\"").forEach(item -> out.println(item));
            }
        }
        assertEquals("Item[key=\"ada\", value={\"name\":\"Ada Lovelace\"}]\nItem[key=\"bob\", value=1]\n",
                buffer.toString(StandardCharsets.UTF_8));
    }
}
