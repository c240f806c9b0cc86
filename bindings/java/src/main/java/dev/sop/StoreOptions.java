package dev.sop;

/**
 * Options of a new store, immutable: {@code StoreOptions.defaults().unique(false).slotLength(500)}.
 * What is not set keeps the engine's default (unique, 64 items per leaf, values by size).
 */
public final class StoreOptions {
    private final Boolean unique;
    private final Integer slotLength;
    private final ValuePlacement values;
    private final Boolean cacheValues;
    private final Boolean leafLoadBalancing;
    private final String description;

    private StoreOptions(Boolean unique, Integer slotLength, ValuePlacement values, Boolean cacheValues,
            Boolean leafLoadBalancing, String description) {
        this.unique = unique;
        this.slotLength = slotLength;
        this.values = values;
        this.cacheValues = cacheValues;
        this.leafLoadBalancing = leafLoadBalancing;
        this.description = description;
    }

    /** The engine's defaults. */
    public static StoreOptions defaults() {
        return new StoreOptions(null, null, null, null, null, null);
    }

    /** Reject a second item with an equal key (true by default); false allows duplicates. */
    public StoreOptions unique(boolean unique) {
        return new StoreOptions(unique, slotLength, values, cacheValues, leafLoadBalancing, description);
    }

    /** Maximum items per leaf (and children per internal node). */
    public StoreOptions slotLength(int slotLength) {
        return new StoreOptions(unique, slotLength, values, cacheValues, leafLoadBalancing, description);
    }

    /** Where values are kept. */
    public StoreOptions values(ValuePlacement values) {
        return new StoreOptions(unique, slotLength, values, cacheValues, leafLoadBalancing, description);
    }

    /** Keep separate values in the shared cache (true by default). */
    public StoreOptions cacheValues(boolean cacheValues) {
        return new StoreOptions(unique, slotLength, values, cacheValues, leafLoadBalancing, description);
    }

    /** On leaf overflow, shift items into a sibling with room before splitting. */
    public StoreOptions leafLoadBalancing(boolean on) {
        return new StoreOptions(unique, slotLength, values, cacheValues, on, description);
    }

    /** Free text saved with the store. */
    public StoreOptions description(String description) {
        return new StoreOptions(unique, slotLength, values, cacheValues, leafLoadBalancing, description);
    }

    /** The options as the C ABI's JSON object. */
    String toJson() {
        StringBuilder b = new StringBuilder("{");
        member(b, "unique", unique == null ? null : unique.toString());
        member(b, "slot_length", slotLength == null ? null : slotLength.toString());
        member(b, "values", values == null ? null : values.json());
        member(b, "cache_values", cacheValues == null ? null : cacheValues.toString());
        member(b, "leaf_load_balancing", leafLoadBalancing == null ? null : leafLoadBalancing.toString());
        member(b, "description", description == null ? null : Json.quote(description));
        return b.append('}').toString();
    }

    static void member(StringBuilder b, String name, String json) {
        if (json != null) {
            if (b.length() > 1) {
                b.append(',');
            }
            b.append('"').append(name).append("\":").append(json);
        }
    }

    @Override
    public String toString() {
        return toJson();
    }
}
