package dev.sop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each C ABI error code arrives as its own exception, with the library's message. */
class ErrorsTest {
    @TempDir
    Path dir;

    @Test
    void missingDatabaseAndStoreAreNotFound() {
        NotFoundException e = assertThrows(NotFoundException.class,
                () -> Sop.open(dir.resolve("none"), OpenOptions.defaults().create(false)));
        assertEquals(ErrorCode.NOT_FOUND, e.code());
        assertFalse(e.getMessage().isEmpty());
        try (Sop db = Sop.open(dir); Transaction tx = db.beginWrite()) {
            assertThrows(NotFoundException.class, () -> tx.openJsonStore("nope"));
            assertThrows(NotFoundException.class, () -> tx.openByteStore("nope"));
            assertThrows(NotFoundException.class, () -> tx.dropStore("nope"));
            assertThrows(NotFoundException.class, () -> tx.storeInfo("nope"));
        }
    }

    @Test
    void secondCreateIsAlreadyExists() {
        try (Sop db = Sop.open(dir); Transaction tx = db.beginWrite()) {
            tx.createJsonStore("s");
            AlreadyExistsException e = assertThrows(AlreadyExistsException.class, () -> tx.createByteStore("s"));
            assertTrue(e.getMessage().contains("s"), e.getMessage());
        }
    }

    @Test
    void badKeysAndReadOnlyWritesAreInvalidInput() {
        try (Sop db = Sop.open(dir)) {
            db.runInTransaction(tx -> tx.createJsonStore("s").put("1", "1"));
            try (Transaction tx = db.beginWrite()) {
                JsonStore s = tx.openJsonStore("s");
                assertThrows(InvalidInputException.class, () -> s.put("[1,2]", "1"), "array key without a spec");
                assertThrows(InvalidInputException.class, () -> s.put("{\"a\":1}", "1"), "object key without a spec");
                assertThrows(InvalidInputException.class, () -> s.put("not json", "1"));
                assertThrows(InvalidInputException.class, () -> s.put("1", "{\"a\":1,\"a\":2}"), "duplicate member");
                assertThrows(InvalidInputException.class, () -> s.put("18446744073709551616", "1"), "beyond u64");
                assertThrows(InvalidInputException.class, () -> s.put("9007199254740993.0", "1"), "more than a double");
                assertThrows(InvalidInputException.class, () -> s.get("{"));
                assertThrows(InvalidInputException.class, () -> s.range("[", null));
                // The transaction goes on after a refused input.
                assertTrue(s.put("2", "2"));
                tx.commit();
            }
            try (Transaction tx = db.beginRead()) {
                JsonStore s = tx.openJsonStore("s");
                InvalidInputException e = assertThrows(InvalidInputException.class, () -> s.put("3", "3"));
                assertEquals(ErrorCode.INVALID_INPUT, e.code());
                assertThrows(InvalidInputException.class, () -> tx.createJsonStore("t"));
                assertEquals(2, s.count());
            }
        }
        try (Sop ro = Sop.open(dir, OpenOptions.defaults().readOnly(true))) {
            assertThrows(InvalidInputException.class, ro::beginWrite);
            try (Transaction tx = ro.beginRead()) {
                assertEquals(Optional.of("2"), tx.openJsonStore("s").get("2"));
            }
        }
    }

    @Test
    void badArgumentsToTheAbi() {
        try (Sop db = Sop.open(dir); Transaction tx = db.beginWrite()) {
            assertThrows(BadArgumentException.class, () -> tx.createJsonStore("s", "age:sideways", StoreOptions.defaults()));
            assertThrows(BadArgumentException.class, () -> tx.createJsonStore("nul\0name"));
            JsonStore s = tx.createJsonStore("s");
            try (Cursor<String, String> c = s.range()) {
                assertFalse(c.first());
                BadArgumentException e = assertThrows(BadArgumentException.class, c::key, "not on an item");
                assertEquals(ErrorCode.BAD_ARGUMENT, e.code());
            }
        }
    }

    @Test
    void sameKeyWrittenByTwoTransactionsIsAConflict() {
        try (Sop db = Sop.open(dir)) {
            db.runInTransaction(tx -> tx.createJsonStore("s").put("\"n\"", "0"));
            try (Transaction a = db.beginWrite(); Transaction b = db.beginWrite()) {
                JsonStore sa = a.openJsonStore("s");
                JsonStore sb = b.openJsonStore("s");
                assertEquals(Optional.of("0"), sa.get("\"n\""));
                assertEquals(Optional.of("0"), sb.get("\"n\""));
                sa.put("\"n\"", "1");
                sb.put("\"n\"", "2");
                a.commit();
                ConflictException e = assertThrows(ConflictException.class, b::commit);
                assertTrue(e.isRetryable());
                assertEquals(ErrorCode.RETRY, e.code());
                assertFalse(b.isActive(), "a failed commit ends the transaction");
                assertThrows(TransactionEndedException.class, () -> sb.get("\"n\""));
            }
            try (Transaction tx = db.beginRead()) {
                assertEquals(Optional.of("1"), tx.openJsonStore("s").get("\"n\""));
            }
        }
    }

    @Test
    void validatedReaderConflictsWhenWhatItReadChanged() {
        try (Sop db = Sop.open(dir)) {
            db.runInTransaction(tx -> tx.createJsonStore("s").put("1", "1"));
            try (Transaction reader = db.beginRead()) {
                reader.openJsonStore("s").get("1");
                db.runInTransaction(tx -> tx.openJsonStore("s").put("1", "2"));
                assertThrows(ConflictException.class, reader::commit);
            }
        }
    }

    @Test
    void runInTransactionRetriesConflictsOnly() {
        try (Sop db = Sop.open(dir)) {
            db.runInTransaction(tx -> tx.createJsonStore("s").put("\"n\"", "0"));
            AtomicInteger attempts = new AtomicInteger();
            // The first attempt loses a race against a commit made while it runs; the second wins.
            db.runInTransaction(tx -> {
                JsonStore s = tx.openJsonStore("s");
                long n = Long.parseLong(s.get("\"n\"").orElseThrow());
                if (attempts.incrementAndGet() == 1) {
                    db.runInTransaction(other -> other.openJsonStore("s").put("\"n\"", "100"));
                }
                s.put("\"n\"", Long.toString(n + 1));
            });
            assertEquals(2, attempts.get());
            try (Transaction tx = db.beginRead()) {
                assertEquals(Optional.of("101"), tx.openJsonStore("s").get("\"n\""));
            }

            AtomicInteger failing = new AtomicInteger();
            assertThrows(InvalidInputException.class, () -> db.runInTransaction(tx -> {
                failing.incrementAndGet();
                tx.openJsonStore("s").put("[]", "1");
            }));
            assertEquals(1, failing.get(), "no retry on other errors");

            AtomicInteger always = new AtomicInteger();
            ConflictException e = assertThrows(ConflictException.class, () -> db.callInTransaction(TxMode.FOR_WRITING, 3, tx -> {
                int attempt = always.incrementAndGet();
                JsonStore s = tx.openJsonStore("s");
                s.get("\"n\"");
                db.runInTransaction(other -> other.openJsonStore("s").put("\"n\"", Integer.toString(-attempt)));
                return s.put("\"n\"", "1");
            }));
            assertEquals(3, always.get(), "gives up after maxAttempts");
            assertTrue(e.isRetryable());
        }
    }

    @Test
    void exclusiveOpenExcludesOthers() {
        try (Sop db = Sop.open(dir, OpenOptions.defaults().exclusive(true))) {
            InUseException e = assertThrows(InUseException.class, () -> Sop.open(dir));
            assertEquals(ErrorCode.IN_USE, e.code());
            db.runInTransaction(tx -> tx.createJsonStore("s"));
        }
        try (Sop again = Sop.open(dir)) {
            assertFalse(again.isClosed());
        }
    }

    @Test
    void closingADatabaseWithOpenTransactionsIsInUse() {
        Sop db = Sop.open(dir);
        Transaction tx = db.beginWrite();
        tx.createJsonStore("s").put("1", "1");
        assertThrows(InUseException.class, db::close);
        assertTrue(db.isClosed());
        assertThrows(ClosedException.class, db::beginWrite);
        // The transaction goes on; the database closes when it is closed.
        tx.commit();
        tx.close();
        try (Sop again = Sop.open(dir); Transaction r = again.beginRead()) {
            assertEquals(1, r.openJsonStore("s").count());
        }
    }

    @Test
    void damagedFilesAreCorrupt() throws java.io.IOException {
        Path a = dir.resolve("a");
        try (Sop db = Sop.open(a)) {
            db.runInTransaction(tx -> tx.createJsonStore("s").put("1", "\"one\""));
        }
        // One hex digit of the database id changed: sop.json's checksum no longer matches.
        Path conf = a.resolve("sop.json");
        String text = java.nio.file.Files.readString(conf);
        int at = text.indexOf("\"id\":\"") + 6;
        char c = text.charAt(at);
        java.nio.file.Files.writeString(conf, text.substring(0, at) + (c == '0' ? '1' : '0') + text.substring(at + 1));
        CorruptException e = assertThrows(CorruptException.class, () -> Sop.open(a));
        assertEquals(ErrorCode.CORRUPT, e.code());
        assertTrue(e.getMessage().contains("sop.json"), e.getMessage());
    }

    @Test
    void unknownCodesAreOther() {
        assertEquals(ErrorCode.OTHER, ErrorCode.of(99));
        SopException e = Errors.of(99, "new kind", null);
        assertEquals(SopException.class, e.getClass());
        assertEquals(99, e.nativeCode());
        assertEquals(ErrorCode.OTHER, e.code());
        assertFalse(e.isRetryable());
        for (ErrorCode c : ErrorCode.values()) {
            SopException mapped = Errors.of(c.code(), "m", null);
            assertEquals(c, mapped.code());
            assertEquals(c == ErrorCode.OTHER, mapped.getClass() == SopException.class, c.toString());
        }
    }

    @Test
    void abiMismatchIsRefused() {
        UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class,
                () -> NativeLoader.checkAbi(NativeLoader.ABI_VERSION + 1, "/x/libsop_ffi.so"));
        assertTrue(e.getMessage().contains("version " + NativeLoader.ABI_VERSION), e.getMessage());
        NativeLoader.checkAbi(NativeLoader.ABI_VERSION, "here");
    }
}
