package dev.sop;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A store whose keys and values are JSON documents, given and returned as JSON text.
 * Keys order as docs/FORMAT.md defines ("JSON key order"): by type, numbers by exact value
 * (so {@code 9007199254740993} and {@code 9007199254740992} are two keys), strings by UTF-8
 * bytes, objects by the store's key spec. Values come back with the text they were put with.
 */
public final class JsonStore extends Store<String, String> {
    JsonStore(Transaction tx, long handle, String name) {
        super(tx, handle, name);
    }

    @Override
    public Optional<String> get(String keyJson) {
        byte[] k = Text.utf8Checked(Objects.requireNonNull(keyJson, "key"), "key");
        synchronized (tx.lock) {
            Scratch s = Scratch.get(k.length + 1L);
            Errors.check(SopNative.sop_json_get(handle(), s.put(Scratch.DATA, k, true), s.out(Scratch.OUT0),
                    s.out(Scratch.OUT1)));
            return s.outInt(Scratch.OUT0) == 1 ? Optional.of(Text.take(s.outLong(Scratch.OUT1))) : Optional.empty();
        }
    }

    @Override
    public boolean put(String keyJson, String valueJson, PutMode mode) {
        byte[] k = Text.utf8Checked(Objects.requireNonNull(keyJson, "key"), "key");
        byte[] v = Text.utf8Checked(Objects.requireNonNull(valueJson, "value"), "value");
        synchronized (tx.lock) {
            Scratch s = Scratch.get(k.length + v.length + 2L);
            long key = s.put(Scratch.DATA, k, true);
            long value = s.put(Scratch.DATA + k.length + 1, v, true);
            Errors.check(SopNative.sop_json_put(handle(), key, value, mode.code, s.out(Scratch.OUT0)));
            return s.outInt(Scratch.OUT0) == 1;
        }
    }

    @Override
    public boolean remove(String keyJson) {
        byte[] k = Text.utf8Checked(Objects.requireNonNull(keyJson, "key"), "key");
        synchronized (tx.lock) {
            Scratch s = Scratch.get(k.length + 1L);
            Errors.check(SopNative.sop_json_remove(handle(), s.put(Scratch.DATA, k, true), s.out(Scratch.OUT0)));
            return s.outInt(Scratch.OUT0) == 1;
        }
    }

    /** Put the items in one call: they travel as one JSON array of {@code [key, value]} pairs. */
    @Override
    public long putAll(Iterable<? extends Map.Entry<? extends String, ? extends String>> items, PutMode mode) {
        StringBuilder b = new StringBuilder().append('[');
        for (Map.Entry<? extends String, ? extends String> e : items) {
            if (b.length() > 1) {
                b.append(',');
            }
            b.append('[').append(Objects.requireNonNull(e.getKey(), "key")).append(',')
                    .append(Objects.requireNonNull(e.getValue(), "value")).append(']');
        }
        byte[] all = Text.cString(b.append(']').toString(), "items");
        synchronized (tx.lock) {
            long[] done = new long[1];
            Errors.check(SopNative.sop_json_put_many(handle(), all, mode.code, done));
            return done[0];
        }
    }

    @Override
    byte[] encodeKey(String key) {
        return Text.utf8(key);
    }

    @Override
    String decodeKey(byte[] bytes) {
        return Text.fromUtf8(bytes);
    }

    @Override
    String decodeValue(byte[] bytes) {
        return Text.fromUtf8(bytes);
    }
}
