package dev.sop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The same folder through this binding and through the `sop` CLI (Rust): what one writes the
 * other reads identically, in the same order, with the keys where languages disagree most.
 */
class CliInteropTest {
    @TempDir
    Path dir;

    /**
     * Primitive keys in the store's order (docs/FORMAT.md): null < false < true < numbers by
     * exact value < strings by UTF-8 bytes. Java's own String and double orders differ: "😀" is
     * before "\uFFFF" in UTF-16, and 2^53 + 1 is 2^53 as a double.
     */
    static final List<String> ORDERED_KEYS = List.of(
            "null", "false", "true",
            "-9223372036854775808", "-1.5", "-0", "0.1", "1",
            "9007199254740992", "9007199254740993",
            "18446744073709551615", "1.8446744073709552e+19", "1e+300",
            "\"\"", "\"A\"", "\"a\"",
            "\"e\u0301\"", // e + combining acute accent (decomposed)
            "\"tab\\tquote\\\"\"",
            "\"\u00e9\"", // é precomposed: another key than the decomposed one, after "t" in UTF-8
            "\"\uffff\"", "\"\uD83D\uDE00\"");

    static String valueFor(int i) {
        return "{\"i\":" + i + ",\"big\":18446744073709551615,\"min\":-9223372036854775808,\"d\":0.1,\"exact\":2.50,"
                + "\"nested\":{\"a\":[1,{\"b\":null}],\"s\":\"\u00e9\\n\"},\"n\":null}";
    }

    @Test
    void writtenFromJavaReadByTheCli() throws Exception {
        try (Sop db = Sop.open(dir); Transaction tx = db.beginWrite()) {
            JsonStore s = tx.createJsonStore("interop");
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < ORDERED_KEYS.size(); i++) {
                order.add(i);
            }
            Collections.shuffle(order, new Random(7));
            for (int i : order) {
                assertTrue(s.add(ORDERED_KEYS.get(i), valueFor(i)), ORDERED_KEYS.get(i));
            }
            // Equal numbers are one key, whatever their text.
            assertFalse(s.add("0", "\"zero\""), "-0 equals 0");
            assertFalse(s.add("1.0", "\"one\""), "1.0 equals 1");
            assertFalse(s.add(Double.toString(1e300), "\"java\""), "Java's 1.0E300 equals 1e+300");
            assertFalse(s.add("9007199254740992.0", "\"double\""), "2^53 as a double equals the integer");
            assertEquals(ORDERED_KEYS.size(), s.count());
            tx.commit();
        }

        List<String> expected = new ArrayList<>();
        try (Sop db = Sop.open(dir); Transaction tx = db.beginRead()) {
            List<Item<String, String>> items = tx.openJsonStore("interop").stream().collect(Collectors.toList());
            for (int i = 0; i < ORDERED_KEYS.size(); i++) {
                assertEquals(new Item<>(ORDERED_KEYS.get(i), valueFor(i)), items.get(i), "item " + i);
                expected.add("{\"key\":" + ORDERED_KEYS.get(i) + ",\"value\":" + valueFor(i) + "}");
            }
            assertEquals(ORDERED_KEYS.size(), items.size());
        }

        assertEquals(expected, lines(sop("export", "interop")));
        assertEquals(valueFor(9), sop("get", "interop", "9007199254740993").strip());
        assertEquals(valueFor(8), sop("get", "interop", "9007199254740992").strip());
        assertEquals(valueFor(18), sop("get", "interop", "\"\u00e9\"").strip());
        assertEquals(lines(sop("scan", "interop", "--desc", "--limit", "2")),
                List.of(expected.get(expected.size() - 1), expected.get(expected.size() - 2)));
        sop("check");
    }

    @Test
    void writtenByTheCliReadFromJava() throws Exception {
        // Keys ordered by last ascending, then age descending; members outside the spec ride along.
        List<String> orderedKeys = List.of(
                "{\"last\":\"Babbage\",\"age\":79}",
                "{\"last\":\"Lovelace\",\"age\":9007199254740993}",
                "{\"last\":\"Lovelace\",\"age\":9007199254740992}",
                "{\"last\":\"Lovelace\",\"age\":36.5}",
                "{\"last\":\"Lovelace\",\"age\":36,\"extra\":[true,null]}",
                "{\"last\":\"Lovelace\",\"age\":-0.25}",
                "{\"last\":\"Lovelace\",\"age\":null}",
                "{\"last\":\"Lovelace\"}",
                "{\"last\":\"\u00c5str\u00f6m\",\"age\":1}",
                "{\"last\":\"\uD83D\uDE00\",\"age\":1}");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < orderedKeys.size(); i++) {
            lines.add("{\"key\":" + orderedKeys.get(i) + ",\"value\":" + valueFor(i) + "}");
        }
        List<String> shuffled = new ArrayList<>(lines);
        Collections.shuffle(shuffled, new Random(11));
        Path file = dir.resolve("people.jsonl");
        Files.write(file, shuffled, StandardCharsets.UTF_8);
        Path db = dir.resolve("db");

        sop(db, "init");
        sop(db, "store", "create", "people", "--unique", "--key-spec", "last,age:desc");
        // The Java handle is open while the CLI, another process, imports into the folder.
        try (Sop java = Sop.open(db)) {
            try (Transaction tx = java.beginRead()) {
                assertEquals(0, tx.openJsonStore("people").count());
            }
            sop(db, "import", "people", file.toString(), "--batch", "3");
            sop(db, "put", "people", "{\"last\":\"\uD83D\uDE01\",\"age\":1}", "{\"v\":1E5,\"w\":[2.50E-3]}");
            try (Transaction tx = java.beginRead()) {
                JsonStore people = tx.openJsonStore("people");
                List<Item<String, String>> items = people.stream().collect(Collectors.toList());
                assertEquals(orderedKeys.size() + 1, items.size());
                for (int i = 0; i < orderedKeys.size(); i++) {
                    assertEquals(new Item<>(orderedKeys.get(i), valueFor(i)), items.get(i), "item " + i);
                }
                // Exponents are written lower case with a sign (docs/FORMAT.md, Numbers).
                assertEquals(Optional.of("{\"v\":1e+5,\"w\":[2.50e-3]}"), people.get("{\"last\":\"\uD83D\uDE01\",\"age\":1}"));
                assertEquals(Optional.of(valueFor(4)), people.get("{\"age\":36.0,\"last\":\"Lovelace\"}"));
                assertEquals(List.of(orderedKeys.get(1), orderedKeys.get(2)),
                        people.stream("{\"last\":\"Lovelace\",\"age\":1e20}", "{\"last\":\"Lovelace\",\"age\":100}")
                                .map(Item::key).collect(Collectors.toList()));
                tx.commit();
            }
            // And Java's writes back to the CLI, in the same open folder.
            java.runInTransaction(tx -> tx.openJsonStore("people").put("{\"last\":\"Lovelace\",\"age\":37}", "\"java\""));
        }
        List<String> exported = lines(sop(db, "export", "people"));
        assertEquals(lines.subList(0, 3), exported.subList(0, 3));
        assertEquals("{\"key\":{\"last\":\"Lovelace\",\"age\":37},\"value\":\"java\"}", exported.get(3));
        assertEquals(lines.subList(3, lines.size()), exported.subList(4, lines.size() + 1));
        sop(db, "check");
    }

    @Test
    void javaThreadsAndACliImportWriteOneStoreAtOnce() throws Exception {
        Path db = dir.resolve("db");
        sop(db, "init");
        sop(db, "store", "create", "mixed", "--unique", "--key-spec", "who,n");
        int cliItems = 2000;
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < cliItems; i++) {
            lines.add("{\"key\":{\"who\":\"cli\",\"n\":" + i + "},\"value\":{\"from\":\"rust\",\"i\":" + i + "}}");
        }
        Path file = dir.resolve("mixed.jsonl");
        Files.write(file, lines, StandardCharsets.UTF_8);

        Process cli = new ProcessBuilder(TestEnv.cli().toString(), "--db", db.toString(), "import", "mixed",
                file.toString(), "--batch", "50").redirectErrorStream(true).start();
        try (Sop java = Sop.open(db)) {
            java.runInTransaction(tx -> tx.openJsonStore("mixed").put("{\"who\":\"counter\",\"n\":0}", "0"));
            ThreadsTest.runAll(2, t -> {
                for (int i = 0; i < 100; i++) {
                    int n = t * 100 + i;
                    java.runInTransaction(tx -> {
                        JsonStore s = tx.openJsonStore("mixed");
                        String counter = "{\"who\":\"counter\",\"n\":0}";
                        s.put(counter, Long.toString(Long.parseLong(s.get(counter).orElseThrow()) + 1));
                        s.add("{\"who\":\"java\",\"n\":" + n + "}", "{\"from\":\"java\",\"i\":" + n + "}");
                    });
                }
                return null;
            });
            String out = new String(cli.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(cli.waitFor(120, TimeUnit.SECONDS), "sop import did not finish");
            assertEquals(0, cli.exitValue(), () -> "sop import failed: " + out);

            try (Transaction tx = java.beginRead()) {
                JsonStore s = tx.openJsonStore("mixed");
                assertEquals(cliItems + 200 + 1, s.count());
                assertEquals(Optional.of("200"), s.get("{\"who\":\"counter\",\"n\":0}"));
                List<String> javaOrder = s.stream().map(it -> "{\"key\":" + it.key() + ",\"value\":" + it.value() + "}")
                        .collect(Collectors.toList());
                assertEquals(lines, javaOrder.subList(0, cliItems), "cli < counter < java, each by n");
                assertEquals(lines(sop(db, "export", "mixed")), javaOrder);
            }
        }
        sop(db, "check");
    }

    private String sop(String... args) throws IOException, InterruptedException {
        return sop(dir, args);
    }

    /** Run the `sop` CLI on folder {@code db}; its stdout. A non-zero exit fails the test. */
    static String sop(Path db, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(TestEnv.cli().toString());
        cmd.add("--db");
        cmd.add(db.toString());
        Collections.addAll(cmd, args);
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.PIPE).start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        byte[] err = p.getErrorStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "sop " + args[0] + " did not finish");
        assertEquals(0, p.exitValue(), () -> "sop " + String.join(" ", args) + " failed: "
                + new String(err, StandardCharsets.UTF_8));
        return new String(out, StandardCharsets.UTF_8);
    }

    static List<String> lines(String text) {
        return text.lines().collect(Collectors.toList());
    }
}
