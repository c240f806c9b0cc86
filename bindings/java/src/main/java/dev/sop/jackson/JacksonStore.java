package dev.sop.jackson;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sop.Cursor;
import dev.sop.Item;
import dev.sop.JsonStore;
import dev.sop.PutMode;
import dev.sop.RangeOption;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A {@link JsonStore} seen through Jackson: keys and values are Java objects, written with
 * {@link ObjectMapper#writeValueAsString} and read with {@link ObjectMapper#readValue}.
 * Needs {@code com.fasterxml.jackson.core:jackson-databind} on the class path (an optional
 * dependency of this library).
 *
 * <pre>{@code
 * record User(String name, int born) {}
 * JacksonStore<Long, User> users = JacksonStore.of(tx.openJsonStore("users"), Long.class, User.class);
 * users.put(9007199254740993L, new User("Ada", 1815));
 * }</pre>
 *
 * <p>Numbers: {@code long} and {@link java.math.BigInteger} keys stay exact; a {@code double}
 * is written as Java prints it ({@code 1.0E300}), which SOP reads as the same double. Errors
 * of Jackson itself (a value that cannot be written or read as the type) are
 * {@link UncheckedIOException}s; the store's own are its {@code SopException}s.
 *
 * @param <K> the key type
 * @param <V> the value type
 */
public final class JacksonStore<K, V> {
    private static final ObjectMapper DEFAULT_MAPPER = new ObjectMapper();

    private final JsonStore store;
    private final ObjectMapper mapper;
    private final JavaType keyType;
    private final JavaType valueType;

    private JacksonStore(JsonStore store, ObjectMapper mapper, JavaType keyType, JavaType valueType) {
        this.store = store;
        this.mapper = mapper;
        this.keyType = keyType;
        this.valueType = valueType;
    }

    /** The store with a default {@link ObjectMapper}. */
    public static <K, V> JacksonStore<K, V> of(JsonStore store, Class<K> keyType, Class<V> valueType) {
        return of(store, DEFAULT_MAPPER, keyType, valueType);
    }

    /** The store with {@code mapper}. */
    public static <K, V> JacksonStore<K, V> of(JsonStore store, ObjectMapper mapper, Class<K> keyType,
            Class<V> valueType) {
        return new JacksonStore<>(store, mapper, mapper.constructType(keyType), mapper.constructType(valueType));
    }

    /** The store with {@code mapper} and generic types ({@code mapper.getTypeFactory()...}). */
    public static <K, V> JacksonStore<K, V> of(JsonStore store, ObjectMapper mapper, JavaType keyType,
            JavaType valueType) {
        return new JacksonStore<>(store, mapper, keyType, valueType);
    }

    /** The JSON store underneath. */
    public JsonStore store() {
        return store;
    }

    /** The value of {@code key}, if any. */
    public Optional<V> get(K key) {
        return store.get(write(key)).map(v -> read(v, valueType));
    }

    /** Insert or replace; true if it inserted. */
    public boolean put(K key, V value) {
        return store.put(write(key), write(value), PutMode.UPSERT);
    }

    /** Put with {@code mode}; what the mode reports ({@link JsonStore#put(Object, Object, PutMode)}). */
    public boolean put(K key, V value, PutMode mode) {
        return store.put(write(key), write(value), mode);
    }

    /** Remove the item with {@code key}; true if there was one. */
    public boolean remove(K key) {
        return store.remove(write(key));
    }

    /** Upsert every entry in one native call; the number inserted. */
    public long putAll(Map<? extends K, ? extends V> items) {
        List<Item<String, String>> encoded = new ArrayList<>(items.size());
        for (Map.Entry<? extends K, ? extends V> e : items.entrySet()) {
            encoded.add(new Item<>(write(e.getKey()), write(e.getValue())));
        }
        return store.putAll(encoded, PutMode.UPSERT);
    }

    /** The number of items. */
    public long count() {
        return store.count();
    }

    /**
     * The items with keys from {@code low} to {@code high} (null: unbounded), as
     * {@link JsonStore#stream(Object, Object, RangeOption...)}: close the stream, or read it to
     * its end.
     */
    public Stream<Item<K, V>> stream(K low, K high, RangeOption... options) {
        Cursor<String, String> c = store.range(low == null ? null : write(low), high == null ? null : write(high),
                options);
        return c.stream().map(it -> new Item<>(read(it.key(), keyType), read(it.value(), valueType)));
    }

    private String write(Object o) {
        try {
            return mapper.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("cannot write " + o.getClass().getName() + " as JSON", e);
        }
    }

    private <T> T read(String json, JavaType type) {
        try {
            return mapper.readValue(json, type);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("cannot read " + json + " as " + type, e);
        }
    }

    @Override
    public String toString() {
        return "JacksonStore[" + store.name() + ", " + keyType + " -> " + valueType + "]";
    }
}
