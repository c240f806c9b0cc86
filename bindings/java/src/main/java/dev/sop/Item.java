package dev.sop;

import java.util.Map;
import java.util.Objects;

/**
 * One item of a store: its key and value ({@code String} JSON text in a {@link JsonStore},
 * {@code byte[]} in a {@link ByteStore}). Immutable; a {@link Map.Entry} so that it can be
 * given back to {@link Store#putAll(Iterable, PutMode)}.
 *
 * @param key the key
 * @param value the value
 * @param <K> the key type
 * @param <V> the value type
 */
public record Item<K, V>(K key, V value) implements Map.Entry<K, V> {
    @Override
    public K getKey() {
        return key;
    }

    @Override
    public V getValue() {
        return value;
    }

    /** Equal to any {@link Map.Entry} with equal key and value (as {@link Map.Entry} defines). */
    @Override
    public boolean equals(Object o) {
        return o instanceof Map.Entry<?, ?> e && Objects.equals(key, e.getKey()) && Objects.equals(value, e.getValue());
    }

    @Override
    public int hashCode() {
        return Objects.hashCode(key) ^ Objects.hashCode(value);
    }

    /** Items are immutable. */
    @Override
    public V setValue(V value) {
        throw new UnsupportedOperationException("an Item is immutable");
    }
}
