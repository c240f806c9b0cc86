package dev.sop;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A store whose keys and values are bytes; keys order as unsigned bytes (lexicographically,
 * a prefix first). The arrays given are copied; those returned are the caller's.
 */
public final class ByteStore extends Store<byte[], byte[]> {
    ByteStore(Transaction tx, long handle, String name) {
        super(tx, handle, name);
    }

    @Override
    public Optional<byte[]> get(byte[] key) {
        Objects.requireNonNull(key, "key");
        synchronized (tx.lock) {
            Scratch s = Scratch.get(key.length);
            Errors.check(SopNative.sop_raw_get(handle(), s.put(Scratch.DATA, key, false), key.length,
                    s.out(Scratch.OUT0), s.out(Scratch.OUT1), s.out(Scratch.OUT2)));
            return s.outInt(Scratch.OUT0) == 1
                    ? Optional.of(Text.takeBytes(s.outLong(Scratch.OUT1), s.outLong(Scratch.OUT2)))
                    : Optional.empty();
        }
    }

    @Override
    public boolean put(byte[] key, byte[] value, PutMode mode) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        synchronized (tx.lock) {
            Scratch s = Scratch.get((long) key.length + value.length);
            long k = s.put(Scratch.DATA, key, false);
            long v = s.put(Scratch.DATA + key.length, value, false);
            Errors.check(SopNative.sop_raw_put(handle(), k, key.length, v, value.length, mode.code,
                    s.out(Scratch.OUT0)));
            return s.outInt(Scratch.OUT0) == 1;
        }
    }

    @Override
    public boolean remove(byte[] key) {
        Objects.requireNonNull(key, "key");
        synchronized (tx.lock) {
            Scratch s = Scratch.get(key.length);
            Errors.check(SopNative.sop_raw_remove(handle(), s.put(Scratch.DATA, key, false), key.length,
                    s.out(Scratch.OUT0)));
            return s.outInt(Scratch.OUT0) == 1;
        }
    }

    /** Put the items in one call: every key and value is copied into one native buffer first. */
    @Override
    public long putAll(Iterable<? extends Map.Entry<? extends byte[], ? extends byte[]>> items, PutMode mode) {
        List<byte[]> keys = new ArrayList<>();
        List<byte[]> values = new ArrayList<>();
        long total = 1;
        for (Map.Entry<? extends byte[], ? extends byte[]> e : items) {
            byte[] k = Objects.requireNonNull(e.getKey(), "key");
            byte[] v = Objects.requireNonNull(e.getValue(), "value");
            keys.add(k);
            values.add(v);
            total += k.length + (long) v.length;
        }
        int n = keys.size();
        long[] keyPtrs = new long[n];
        long[] keyLens = new long[n];
        long[] valuePtrs = new long[n];
        long[] valueLens = new long[n];
        try (Memory buffer = new Memory(total)) {
            long base = Pointer.nativeValue(buffer);
            long at = 0;
            for (int i = 0; i < n; i++) {
                at = place(buffer, base, at, keys.get(i), keyPtrs, keyLens, i);
                at = place(buffer, base, at, values.get(i), valuePtrs, valueLens, i);
            }
            synchronized (tx.lock) {
                long[] done = new long[1];
                Errors.check(SopNative.sop_raw_put_many(handle(), keyPtrs, keyLens, valuePtrs, valueLens, n,
                        mode.code, done));
                return done[0];
            }
        }
    }

    private static long place(Memory buffer, long base, long at, byte[] b, long[] ptrs, long[] lens, int i) {
        buffer.write(at, b, 0, b.length);
        ptrs[i] = base + at;
        lens[i] = b.length;
        return at + b.length;
    }

    @Override
    byte[] encodeKey(byte[] key) {
        return key;
    }

    @Override
    byte[] decodeKey(byte[] bytes) {
        return bytes;
    }

    @Override
    byte[] decodeValue(byte[] bytes) {
        return bytes;
    }
}
