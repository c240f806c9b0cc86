package dev.sop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Using objects in the wrong state gives a typed error, never a crash or a silent success. */
class MisuseTest {
    @TempDir
    Path dir;

    @Test
    void commitAfterRollbackAndTwice() {
        try (Sop db = Sop.open(dir)) {
            try (Transaction tx = db.beginWrite()) {
                tx.createJsonStore("s");
                tx.rollback();
                TransactionEndedException e = assertThrows(TransactionEndedException.class, tx::commit);
                assertEquals(ErrorCode.TX_ENDED, e.code());
                assertThrows(TransactionEndedException.class, tx::rollback);
            }
            try (Transaction tx = db.beginWrite()) {
                tx.createJsonStore("s");
                tx.commit();
                assertThrows(TransactionEndedException.class, tx::commit);
                assertThrows(TransactionEndedException.class, tx::rollback);
                assertThrows(TransactionEndedException.class, tx::storeNames);
                assertThrows(TransactionEndedException.class, () -> tx.openJsonStore("s"));
            }
            try (Transaction tx = db.beginRead()) {
                assertTrue(tx.storeNames().contains("s"), "the first commit was not undone");
            }
        }
    }

    @Test
    void storesAndCursorsAfterTheirTransactionEnded() {
        try (Sop db = Sop.open(dir)) {
            JsonStore s;
            Cursor<String, String> c;
            try (Transaction tx = db.beginWrite()) {
                s = tx.createJsonStore("s");
                s.put("1", "1");
                c = s.range();
                tx.commit();
                assertThrows(TransactionEndedException.class, () -> s.get("1"));
                assertThrows(TransactionEndedException.class, () -> s.put("2", "2"));
                assertThrows(TransactionEndedException.class, s::count);
                assertThrows(TransactionEndedException.class, c::first);
                assertThrows(TransactionEndedException.class, () -> s.range());
            }
            // After the transaction's close they are closed.
            assertTrue(s.isClosed());
            assertTrue(c.isClosed());
            assertThrows(ClosedException.class, () -> s.get("1"));
            assertThrows(ClosedException.class, c::next);
            s.close();
            c.close();
        }
    }

    @Test
    void useAfterClose() {
        Sop db = Sop.open(dir);
        Transaction tx = db.beginWrite();
        JsonStore s = tx.createJsonStore("s");
        Cursor<String, String> c = s.range();
        c.close();
        assertThrows(ClosedException.class, c::first);
        c.close();
        s.close();
        ClosedException e = assertThrows(ClosedException.class, () -> s.put("1", "1"));
        assertEquals(ErrorCode.BAD_HANDLE, e.code());
        assertTrue(tx.isActive(), "closing a store leaves its transaction");
        tx.openJsonStore("s").put("1", "1");
        tx.commit();
        tx.close();
        tx.close();
        assertFalse(tx.isActive());
        assertThrows(ClosedException.class, tx::commit);
        assertThrows(ClosedException.class, () -> tx.openJsonStore("s"));
        assertThrows(ClosedException.class, tx::id);
        db.close();
        db.close();
        assertThrows(ClosedException.class, db::beginRead);
        assertThrows(ClosedException.class, db::stats);
    }

    @Test
    void aTransactionNeverClosedIsReleasedOnceUnreachable() throws InterruptedException {
        Sop db = Sop.open(dir);
        Release release = leak(db);
        for (int i = 0; i < 500 && !release.isDone(); i++) {
            System.gc();
            Thread.sleep(10);
        }
        assertTrue(release.isDone(), "the Cleaner released the transaction");
        db.close(); // no InUseException: no transaction is left
        try (Sop again = Sop.open(dir); Transaction tx = again.beginRead()) {
            assertEquals(java.util.List.of(), tx.storeNames(), "the leaked transaction was rolled back");
        }
    }

    private static Release leak(Sop db) {
        Transaction tx = db.beginWrite();
        tx.createJsonStore("s").range();
        return tx.release();
    }

    @Test
    void iteratorPastItsEnd() {
        try (Sop db = Sop.open(dir); Transaction tx = db.beginWrite()) {
            JsonStore s = tx.createJsonStore("s");
            s.put("1", "1");
            Iterator<Item<String, String>> it = s.range().iterator();
            assertTrue(it.hasNext());
            assertEquals("1", it.next().key());
            assertFalse(it.hasNext());
            assertThrows(NoSuchElementException.class, it::next);
        }
    }

    @Test
    void nullArgumentsAreRefusedInJava() {
        try (Sop db = Sop.open(dir); Transaction tx = db.beginWrite()) {
            JsonStore s = tx.createJsonStore("s");
            assertThrows(NullPointerException.class, () -> s.put(null, "1"));
            assertThrows(NullPointerException.class, () -> s.put("1", null));
            ByteStore b = tx.createByteStore("b");
            assertThrows(NullPointerException.class, () -> b.get(null));
        }
    }

    @Test
    void transactionIdSurvivesTheEnd() {
        try (Sop db = Sop.open(dir); Transaction tx = db.beginWrite()) {
            tx.createJsonStore("s").put("1", "1");
            TransactionId before = tx.id();
            tx.commit();
            assertEquals(before, tx.id());
            assertTrue(db.commitOutcome(before), "a committed transaction is found");
            try (Transaction other = db.beginWrite()) {
                TransactionId neverCommitted = other.id();
                other.rollback();
                assertFalse(db.commitOutcome(neverCommitted));
            }
        }
    }
}
