package dev.sop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApiTest {
    @TempDir
    Path dir;

    @Test
    void versionsOfTheLoadedLibrary() {
        assertEquals(NativeLoader.ABI_VERSION, Sop.abiVersion());
        assertTrue(Sop.libraryVersion().matches("\\d+\\.\\d+\\.\\d+.*"), Sop.libraryVersion());
    }

    @Test
    void putGetUpdateRemoveCommitted() {
        try (Sop db = Sop.open(dir)) {
            try (Transaction tx = db.beginWrite()) {
                JsonStore users = tx.createJsonStore("users");
                assertTrue(users.put("\"ada\"", "{\"name\":\"Ada\",\"born\":1815}"));
                assertFalse(users.put("\"ada\"", "{\"name\":\"Ada Lovelace\",\"born\":1815}"), "upsert replaced");
                assertFalse(users.add("\"ada\"", "1"), "add keeps an existing key in a unique store");
                assertTrue(users.addIfAbsent("\"bob\"", "2"));
                assertFalse(users.addIfAbsent("\"bob\"", "3"));
                assertTrue(users.update("\"bob\"", "[2,\"two\"]"));
                assertFalse(users.update("\"carl\"", "4"), "update of a missing key");
                assertTrue(users.add("\"dan\"", "null"));
                assertTrue(users.remove("\"dan\""));
                assertFalse(users.remove("\"dan\""));
                assertEquals(2, users.count());
                tx.commit();
                assertFalse(tx.isActive());
            }
            try (Transaction tx = db.beginRead()) {
                JsonStore users = tx.openJsonStore("users");
                assertEquals(Optional.of("{\"name\":\"Ada Lovelace\",\"born\":1815}"), users.get("\"ada\""));
                assertEquals(Optional.of("[2,\"two\"]"), users.get("\"bob\""));
                assertEquals(Optional.empty(), users.get("\"carl\""));
                assertTrue(users.containsKey("\"bob\""));
                assertEquals(2, users.count());
                tx.commit();
            }
        }
    }

    @Test
    void closingWithoutCommitRollsBack() {
        try (Sop db = Sop.open(dir)) {
            db.runInTransaction(tx -> tx.createJsonStore("s").put("1", "\"one\""));
            try (Transaction tx = db.beginWrite()) {
                JsonStore s = tx.openJsonStore("s");
                s.put("2", "\"two\"");
                s.remove("1");
                assertEquals(1, s.count());
            }
            try (Transaction tx = db.beginWrite()) {
                JsonStore s = tx.openJsonStore("s");
                s.put("3", "\"three\"");
                tx.rollback();
            }
            try (Transaction tx = db.beginRead()) {
                JsonStore s = tx.openJsonStore("s");
                assertEquals(List.of("1"), keys(s.range()));
                assertEquals(Optional.of("\"one\""), s.get("1"));
            }
        }
    }

    @Test
    void rangesInBothDirectionsWithBounds() {
        try (Sop db = Sop.open(dir); Transaction tx = db.beginWrite()) {
            JsonStore s = tx.createJsonStore("n");
            for (int i = 10; i >= 1; i--) {
                s.put(Integer.toString(i), "\"v" + i + "\"");
            }
            assertEquals(List.of("1", "2", "3", "4", "5", "6", "7", "8", "9", "10"), keys(s.range()));
            assertEquals(List.of("3", "4", "5"), keys(s.range("3", "5")));
            assertEquals(List.of("4"), keys(s.range("3", "5", RangeOption.LOW_EXCLUSIVE, RangeOption.HIGH_EXCLUSIVE)));
            assertEquals(List.of("5", "4", "3"), keys(s.range("3", "5", RangeOption.DESCENDING)));
            assertEquals(List.of("8", "9", "10"), keys(s.range("8", null)));
            assertEquals(List.of("2", "1"), keys(s.range(null, "2", RangeOption.DESCENDING)));
            assertEquals(List.of(), keys(s.range("11", null)));

            try (Cursor<String, String> c = s.range("2", "8")) {
                assertTrue(c.seek("5"));
                assertEquals(new Item<>("5", "\"v5\""), c.item());
                assertTrue(c.prev());
                assertEquals("4", c.key());
                assertTrue(c.next());
                assertTrue(c.next());
                assertEquals("\"v6\"", c.value());
                assertFalse(c.seek("9"), "past the upper bound");
                assertTrue(c.first());
                assertEquals("2", c.key());
                assertFalse(c.prev(), "before the lower bound");
                // Each iteration starts again from the first item.
                assertEquals(7, count(c));
                assertEquals(7, count(c));
            }

            List<Item<String, String>> streamed;
            try (Stream<Item<String, String>> items = s.stream("9", null)) {
                streamed = items.collect(Collectors.toList());
            }
            assertEquals(List.of(new Item<>("9", "\"v9\""), new Item<>("10", "\"v10\"")), streamed);
            assertEquals(List.of("10", "9", "8"),
                    s.stream(RangeOption.DESCENDING).limit(3).map(Item::key).collect(Collectors.toList()));
            tx.commit();
        }
    }

    @Test
    void streamReadToItsEndClosesItsCursor() {
        try (Sop db = Sop.open(dir); Transaction tx = db.beginWrite()) {
            JsonStore s = tx.createJsonStore("s");
            s.put("1", "1");
            Cursor<String, String> c = s.range();
            assertEquals(1, c.stream().count());
            assertTrue(c.isClosed());
            Cursor<String, String> open = s.range();
            Stream<Item<String, String>> st = open.stream();
            st.close();
            assertTrue(open.isClosed());
            Cursor<String, String> leftOpen = s.range();
            tx.commit();
            assertFalse(leftOpen.isClosed());
            tx.close();
            assertTrue(leftOpen.isClosed(), "the transaction closes its cursors");
        }
    }

    @Test
    void compoundKeysOrderedBySpec() {
        try (Sop db = Sop.open(dir); Transaction tx = db.beginWrite()) {
            JsonStore people = tx.createJsonStore("people", "last,age:desc", StoreOptions.defaults());
            people.put("{\"last\":\"Lovelace\",\"age\":36}", "{\"first\":\"Ada\"}");
            people.put("{\"last\":\"Lovelace\",\"age\":60}", "{\"first\":\"Byron\"}");
            people.put("{\"last\":\"Babbage\",\"age\":79}", "{\"first\":\"Charles\"}");
            assertEquals(List.of("{\"last\":\"Babbage\",\"age\":79}", "{\"last\":\"Lovelace\",\"age\":60}",
                    "{\"last\":\"Lovelace\",\"age\":36}"), keys(people.range()));
            // Members outside the spec do not take part: the same key.
            assertFalse(people.put("{\"age\":36,\"last\":\"Lovelace\",\"x\":1}", "{\"first\":\"A.\"}"));
            assertEquals(3, people.count());
            assertThrows(InvalidInputException.class, () -> people.put("\"not an object\"", "1"));
            tx.commit();
        }
    }

    @Test
    void byteStoresOrderUnsignedBytes() {
        byte[][] keys = {{}, {0}, {0, 0}, {1}, {(byte) 0x7f}, {(byte) 0x80}, {(byte) 0xff}, {(byte) 0xff, 0}};
        try (Sop db = Sop.open(dir)) {
            try (Transaction tx = db.beginWrite()) {
                ByteStore b = tx.createByteStore("bytes");
                for (int i = keys.length - 1; i >= 0; i--) {
                    assertTrue(b.put(keys[i], new byte[] {(byte) i, 0, (byte) 0xfe}));
                }
                tx.commit();
            }
            try (Transaction tx = db.beginRead(); Cursor<byte[], byte[]> c = tx.openByteStore("bytes").range()) {
                int i = 0;
                for (Item<byte[], byte[]> item : c) {
                    assertArrayEquals(keys[i], item.key(), "key " + i);
                    assertArrayEquals(new byte[] {(byte) i, 0, (byte) 0xfe}, item.value());
                    i++;
                }
                assertEquals(keys.length, i);
                ByteStore b = tx.openByteStore("bytes");
                assertArrayEquals(new byte[] {6, 0, (byte) 0xfe}, b.get(new byte[] {(byte) 0xff}).orElseThrow());
                assertTrue(b.get(new byte[] {2}).isEmpty());
                assertEquals(List.of(1, 2), b.stream(new byte[] {0}, new byte[] {0, 0})
                        .map(it -> (int) it.value()[0]).collect(Collectors.toList()));
            }
        }
    }

    @Test
    void batchPuts() {
        try (Sop db = Sop.open(dir); Transaction tx = db.beginWrite()) {
            JsonStore j = tx.createJsonStore("j");
            Map<String, String> items = new LinkedHashMap<>();
            for (int i = 0; i < 1000; i++) {
                items.put(Integer.toString(i), "{\"i\":" + i + "}");
            }
            assertEquals(1000, j.putAll(items));
            assertEquals(0, j.putAll(List.of(new Item<>("5", "\"again\"")), PutMode.UPSERT), "replaced, none inserted");
            assertEquals(1, j.putAll(List.of(Map.entry("5", "0"), Map.entry("1000", "0")), PutMode.ADD_IF_ABSENT));
            assertEquals(1001, j.count());
            assertEquals(Optional.of("\"again\""), j.get("5"));

            ByteStore b = tx.createByteStore("b");
            List<Item<byte[], byte[]>> raw = new ArrayList<>();
            for (int i = 0; i < 500; i++) {
                raw.add(new Item<>(String.format("k%04d", i).getBytes(StandardCharsets.UTF_8), new byte[i % 7]));
            }
            raw.add(new Item<>(new byte[0], new byte[0]));
            assertEquals(501, b.putAll(raw, PutMode.ADD));
            assertEquals(501, b.count());
            assertArrayEquals(new byte[3], b.get("k0010".getBytes(StandardCharsets.UTF_8)).orElseThrow());
            assertArrayEquals(new byte[0], b.get(new byte[0]).orElseThrow());
            assertEquals(0, b.putAll(List.of(), PutMode.ADD));

            // A bad item stops the batch; the ones before it stay in the transaction.
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> j.putAll(List.of(Map.entry("2000", "1"), Map.entry("[1]", "1")), PutMode.UPSERT));
            assertTrue(e.getMessage().contains("1"), e.getMessage());
            assertTrue(j.containsKey("2000"));
            tx.commit();
        }
    }

    @Test
    void storesListedDescribedAndDropped() {
        try (Sop db = Sop.open(dir)) {
            db.runInTransaction(tx -> {
                tx.createJsonStore("b-json", "id", StoreOptions.defaults().unique(false).slotLength(16)
                        .values(ValuePlacement.INLINE).description("with \"quotes\""));
                tx.createByteStore("a-bytes");
            });
            try (Transaction tx = db.beginWrite()) {
                assertEquals(List.of("a-bytes", "b-json"), tx.storeNames());
                String info = tx.storeInfo("b-json");
                assertTrue(info.contains("\"unique\":false"), info);
                assertTrue(info.contains("\"slot_length\":16"), info);
                assertTrue(info.contains("with \\\"quotes\\\""), info);
                JsonStore dup = tx.openJsonStore("b-json");
                assertTrue(dup.add("{\"id\":1}", "\"first\""));
                assertTrue(dup.add("{\"id\":1}", "\"second\""), "duplicates allowed");
                assertEquals(Optional.of("\"first\""), dup.get("{\"id\":1}"));
                assertEquals(2, dup.count());
                tx.dropStore("a-bytes");
                assertEquals(List.of("b-json"), tx.storeNames());
                tx.commit();
            }
            try (Transaction tx = db.beginWrite()) {
                assertEquals(List.of("b-json"), tx.storeNames());
                ByteStore reopened = tx.openOrCreateByteStore("a-bytes", StoreOptions.defaults());
                assertEquals(0, reopened.count());
                assertEquals("b-json", tx.openOrCreateJsonStore("b-json", null, StoreOptions.defaults()).name());
            }
            String stats = db.stats();
            assertTrue(stats.contains("\"b-json\""), stats);
            String check = db.check();
            assertTrue(check.contains("\"ok\":true"), check);
        }
    }

    @Test
    void callInTransactionReturnsAndCommits() {
        try (Sop db = Sop.open(dir)) {
            long n = db.callInTransaction(tx -> {
                JsonStore s = tx.createJsonStore("s");
                s.put("1", "1");
                s.put("2", "2");
                return s.count();
            });
            assertEquals(2, n);
            long m = db.callInTransaction(TxMode.NO_CHECK, 1, tx -> tx.openJsonStore("s").count());
            assertEquals(2, m);
        }
    }

    @Test
    void reopenedDatabaseSeesCommittedData() {
        try (Sop db = Sop.open(dir.toString())) {
            db.runInTransaction(tx -> tx.createJsonStore("s").put("\"k\"", "\"v\""));
        }
        try (Sop db = Sop.open(dir, OpenOptions.defaults().create(false).exclusive(true).cacheBytes(1 << 20));
             Transaction tx = db.beginRead()) {
            assertEquals(Optional.of("\"v\""), tx.openJsonStore("s").get("\"k\""));
        }
    }

    static List<String> keys(Cursor<String, String> c) {
        try (c) {
            List<String> out = new ArrayList<>();
            for (Item<String, String> item : c) {
                out.add(item.key());
            }
            return out;
        }
    }

    private static int count(Iterable<?> it) {
        int n = 0;
        for (Object o : it) {
            n++;
        }
        return n;
    }
}
