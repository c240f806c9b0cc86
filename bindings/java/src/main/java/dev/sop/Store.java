package dev.sop;

import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A store opened in a transaction: an ordered map from keys to values. Its calls work while
 * its transaction is active ({@link TransactionEndedException} afterwards). Closing it is
 * optional: the transaction closes it.
 *
 * @param <K> the key type ({@code String} JSON text, or {@code byte[]})
 * @param <V> the value type
 */
public abstract sealed class Store<K, V> extends TxChild permits JsonStore, ByteStore {
    private final String name;

    Store(Transaction tx, long handle, String name) {
        super(tx, handle, Release.Kind.STORE);
        this.name = name;
    }

    /** The store's name. */
    public final String name() {
        return name;
    }

    /** The transaction the store was opened in. */
    public final Transaction transaction() {
        return tx;
    }

    /** The value of {@code key}; empty if there is none (the first one, in a store allowing duplicates). */
    public abstract Optional<V> get(K key);

    /**
     * Put one item with {@code mode}; what the mode reports: true if an add inserted, an update
     * replaced, an upsert inserted (false: it replaced).
     *
     * @throws InvalidInputException a key that does not fit the store, a read-only transaction
     */
    public abstract boolean put(K key, V value, PutMode mode);

    /** Insert or replace ({@link PutMode#UPSERT}); true if it inserted, false if it replaced. */
    public final boolean put(K key, V value) {
        return put(key, value, PutMode.UPSERT);
    }

    /** Insert ({@link PutMode#ADD}); in a unique store an existing key stays and this returns false. */
    public final boolean add(K key, V value) {
        return put(key, value, PutMode.ADD);
    }

    /** Insert only if no item has the key ({@link PutMode#ADD_IF_ABSENT}); true if it inserted. */
    public final boolean addIfAbsent(K key, V value) {
        return put(key, value, PutMode.ADD_IF_ABSENT);
    }

    /** Replace the value of an existing key ({@link PutMode#UPDATE}); false if there is none. */
    public final boolean update(K key, V value) {
        return put(key, value, PutMode.UPDATE);
    }

    /** Remove the item with {@code key} (the first, in a store allowing duplicates); true if one was. */
    public abstract boolean remove(K key);

    /** Whether an item has {@code key}. */
    public final boolean containsKey(K key) {
        return get(key).isPresent();
    }

    /**
     * Put many items in one native call, in order, with {@code mode}; the number of items for
     * which {@link #put(Object, Object, PutMode)} would have returned true. On an error the items
     * before the failing one stay put in the transaction (roll back to undo them).
     */
    public abstract long putAll(Iterable<? extends Map.Entry<? extends K, ? extends V>> items, PutMode mode);

    /** Upsert every entry of {@code items} in one native call; the number inserted. */
    public final long putAll(Map<? extends K, ? extends V> items) {
        return putAll(items.entrySet(), PutMode.UPSERT);
    }

    /** The number of items as this transaction sees them. */
    public final long count() {
        synchronized (tx.lock) {
            long[] out = new long[1];
            Errors.check(SopNative.sop_store_count(handle(), out));
            return out[0];
        }
    }

    /**
     * A cursor over the items with keys from {@code low} to {@code high} (inclusive unless an
     * option says otherwise; null is unbounded), ascending unless {@link RangeOption#DESCENDING}.
     * Iterate it with for-each, and close it (try-with-resources) or leave it to the transaction.
     */
    public final Cursor<K, V> range(K low, K high, RangeOption... options) {
        synchronized (tx.lock) {
            byte[] lo = low == null ? null : encodeKey(low);
            byte[] hi = high == null ? null : encodeKey(high);
            long[] out = new long[1];
            Errors.check(SopNative.sop_cursor_open(handle(), lo, lo == null ? 0 : lo.length, hi,
                    hi == null ? 0 : hi.length, RangeOption.flags(options), out));
            return tx.adopt(new Cursor<>(this, out[0]));
        }
    }

    /** A cursor over all items. */
    public final Cursor<K, V> range(RangeOption... options) {
        return range(null, null, options);
    }

    /**
     * The items with keys from {@code low} to {@code high} as a stream, as {@link #range}; the
     * cursor is closed when the stream is closed or has been read to its end.
     */
    public final Stream<Item<K, V>> stream(K low, K high, RangeOption... options) {
        return range(low, high, options).stream();
    }

    /** All items as a stream (see {@link #stream(Object, Object, RangeOption...)}). */
    public final Stream<Item<K, V>> stream(RangeOption... options) {
        return stream(null, null, options);
    }

    @Override
    final String what() {
        return "the store " + name;
    }

    /** A key as the C ABI's bytes (range bounds, seek). */
    abstract byte[] encodeKey(K key);

    abstract K decodeKey(byte[] bytes);

    abstract V decodeValue(byte[] bytes);

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + name + "]";
    }
}
