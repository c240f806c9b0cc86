package dev.sop;

/**
 * The C ABI of {@code crates/sop-ffi/include/sop.h}, bound by JNA direct mapping
 * ({@link NativeLoader} registers these methods).
 *
 * <p>Handles ({@code SopDb*}, {@code SopTx*}, ...) are passed as {@code long}: the
 * library looks them up in its registry and never dereferences them, so to Java
 * they are opaque numbers. {@code size_t} is a {@code long} too (the loader refuses
 * a platform whose pointers or {@code size_t} are not 64 bits). Text arguments are
 * NUL-terminated UTF-8 {@code byte[]}s built by {@link Text#cString}; out-pointers
 * are one-element arrays. The hot calls (item gets, puts and removes, cursor moves) take
 * addresses in this thread's {@link Scratch} buffer instead, for inputs and outputs alike:
 * JNA then converts no array.
 */
final class SopNative {
    private SopNative() {}

    static native long sop_version();

    static native int sop_abi_version();

    static native long sop_last_error_message();

    static native void sop_string_free(long s);

    static native void sop_bytes_free(long p, long len);

    // Database.
    static native int sop_open(byte[] path, byte[] optionsJson, long[] outDb);

    static native int sop_close(long db);

    static native int sop_begin(long db, int mode, long[] outTx);

    static native int sop_commit_outcome(long db, byte[] txnId, long sinceSeq, int[] outCommitted);

    static native int sop_stats(long db, long[] outJson);

    static native int sop_check(long db, long[] outJson);

    static native int sop_recover(long db, long[] outJson);

    // Transactions.
    static native int sop_tx_commit(long tx);

    static native int sop_tx_rollback(long tx);

    static native int sop_tx_free(long tx);

    static native int sop_tx_id(long tx, byte[] outId, long[] outSinceSeq);

    static native int sop_tx_list_stores(long tx, long[] outJson);

    static native int sop_tx_drop_store(long tx, byte[] name);

    static native int sop_tx_store_info(long tx, byte[] name, long[] outJson);

    // Stores.
    static native int sop_json_store_create(long tx, byte[] name, byte[] keySpec, byte[] optionsJson, long[] outStore);

    static native int sop_json_store_open(long tx, byte[] name, long[] outStore);

    static native int sop_raw_store_create(long tx, byte[] name, byte[] keyType, byte[] optionsJson, long[] outStore);

    static native int sop_raw_store_open(long tx, byte[] name, long[] outStore);

    static native int sop_store_close(long store);

    static native int sop_store_count(long store, long[] outCount);

    // JSON store items.
    static native int sop_json_put(long store, long keyJson, long valueJson, int mode, long outDone);

    static native int sop_json_remove(long store, long keyJson, long outDone);

    static native int sop_json_get(long store, long keyJson, long outFound, long outValueJson);

    static native int sop_json_put_many(long store, byte[] itemsJson, int mode, long[] outDone);

    // Byte store items.
    static native int sop_raw_put(long store, long key, long keyLen, long value, long valueLen, int mode, long outDone);

    static native int sop_raw_remove(long store, long key, long keyLen, long outDone);

    static native int sop_raw_get(long store, long key, long keyLen, long outFound, long outValue, long outLen);

    static native int sop_raw_put_many(long store, long[] keys, long[] keyLens, long[] values, long[] valueLens,
            long count, int mode, long[] outDone);

    // Cursors.
    static native int sop_cursor_open(long store, byte[] lo, long loLen, byte[] hi, long hiLen, int flags, long[] outCursor);

    static native int sop_cursor_first(long cursor, long outValid);

    static native int sop_cursor_seek(long cursor, long key, long keyLen, long outValid);

    static native int sop_cursor_next(long cursor, long outValid);

    static native int sop_cursor_prev(long cursor, long outValid);

    static native int sop_cursor_key(long cursor, long outPtr, long outLen);

    static native int sop_cursor_value(long cursor, long outPtr, long outLen);

    static native int sop_cursor_free(long cursor);
}
