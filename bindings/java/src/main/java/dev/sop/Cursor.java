package dev.sop;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A cursor over a range of a store ({@link Store#range}): iterate it with for-each (each
 * iteration starts again from the first item), or move it by hand with {@link #first()},
 * {@link #seek}, {@link #next()}, {@link #prev()} and read {@link #key()}/{@link #value()}.
 * Close it when done (try-with-resources), or leave it to its transaction's close.
 *
 * @param <K> the key type
 * @param <V> the value type
 */
public final class Cursor<K, V> extends TxChild implements Iterable<Item<K, V>> {
    private final Store<K, V> store;

    Cursor(Store<K, V> store, long handle) {
        super(store.tx, handle, Release.Kind.CURSOR);
        this.store = store;
    }

    /** Move to the first item in range, in the cursor's direction; false if the range is empty. */
    public boolean first() {
        synchronized (tx.lock) {
            Scratch s = Scratch.get(0);
            Errors.check(SopNative.sop_cursor_first(handle(), s.out(Scratch.OUT0)));
            return s.outInt(Scratch.OUT0) == 1;
        }
    }

    /**
     * Move to the first item in range at or after {@code key} in the cursor's direction
     * (descending: the last key at or before it); false if there is none.
     */
    public boolean seek(K key) {
        byte[] k = store.encodeKey(key);
        synchronized (tx.lock) {
            Scratch s = Scratch.get(k.length);
            Errors.check(SopNative.sop_cursor_seek(handle(), s.put(Scratch.DATA, k, false), k.length,
                    s.out(Scratch.OUT0)));
            return s.outInt(Scratch.OUT0) == 1;
        }
    }

    /** Move one item on in the cursor's direction; false once it leaves the range. */
    public boolean next() {
        synchronized (tx.lock) {
            Scratch s = Scratch.get(0);
            Errors.check(SopNative.sop_cursor_next(handle(), s.out(Scratch.OUT0)));
            return s.outInt(Scratch.OUT0) == 1;
        }
    }

    /** Move one item back, against the cursor's direction; false once it leaves the range. */
    public boolean prev() {
        synchronized (tx.lock) {
            Scratch s = Scratch.get(0);
            Errors.check(SopNative.sop_cursor_prev(handle(), s.out(Scratch.OUT0)));
            return s.outInt(Scratch.OUT0) == 1;
        }
    }

    /**
     * The current item's key.
     *
     * @throws BadArgumentException the cursor is not on an item
     */
    public K key() {
        synchronized (tx.lock) {
            Scratch s = Scratch.get(0);
            Errors.check(SopNative.sop_cursor_key(handle(), s.out(Scratch.OUT0), s.out(Scratch.OUT1)));
            return store.decodeKey(Text.takeBytes(s.outLong(Scratch.OUT0), s.outLong(Scratch.OUT1)));
        }
    }

    /**
     * The current item's value.
     *
     * @throws BadArgumentException the cursor is not on an item
     */
    public V value() {
        synchronized (tx.lock) {
            Scratch s = Scratch.get(0);
            Errors.check(SopNative.sop_cursor_value(handle(), s.out(Scratch.OUT0), s.out(Scratch.OUT1)));
            return store.decodeValue(Text.takeBytes(s.outLong(Scratch.OUT0), s.outLong(Scratch.OUT1)));
        }
    }

    /** The current item. */
    public Item<K, V> item() {
        synchronized (tx.lock) {
            return new Item<>(key(), value());
        }
    }

    /** The items in range, from the first; one iteration at a time. */
    @Override
    public Iterator<Item<K, V>> iterator() {
        return new Items(false);
    }

    /** The items in range as a stream that closes this cursor when it is closed or read to its end. */
    public Stream<Item<K, V>> stream() {
        Spliterator<Item<K, V>> s = Spliterators.spliteratorUnknownSize(new Items(true),
                Spliterator.ORDERED | Spliterator.NONNULL);
        return StreamSupport.stream(s, false).onClose(this::close);
    }

    @Override
    String what() {
        return "the cursor";
    }

    private final class Items implements Iterator<Item<K, V>> {
        private final boolean closeAtEnd;
        private boolean started;
        private boolean valid;

        Items(boolean closeAtEnd) {
            this.closeAtEnd = closeAtEnd;
        }

        @Override
        public boolean hasNext() {
            if (!started) {
                started = true;
                valid = first();
                if (!valid && closeAtEnd) {
                    close();
                }
            }
            return valid;
        }

        @Override
        public Item<K, V> next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            Item<K, V> item = item();
            valid = Cursor.this.next();
            if (!valid && closeAtEnd) {
                close();
            }
            return item;
        }
    }
}
