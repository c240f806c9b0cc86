package dev.sop;

/**
 * How to open a database, immutable: {@code OpenOptions.defaults().exclusive(true)}.
 * What is not set keeps the engine's default (shared, Standalone, created if missing).
 */
public final class OpenOptions {
    private final Boolean exclusive;
    private final String redisUrl;
    private final Long cacheBytes;
    private final Boolean create;
    private final Boolean readOnly;

    private OpenOptions(Boolean exclusive, String redisUrl, Long cacheBytes, Boolean create, Boolean readOnly) {
        this.exclusive = exclusive;
        this.redisUrl = redisUrl;
        this.cacheBytes = cacheBytes;
        this.create = create;
        this.readOnly = readOnly;
    }

    /** The engine's defaults. */
    public static OpenOptions defaults() {
        return new OpenOptions(null, null, null, null, null);
    }

    /** This handle alone uses the folder (others get {@link InUseException}); commits go through a journal. */
    public OpenOptions exclusive(boolean exclusive) {
        return new OpenOptions(exclusive, redisUrl, cacheBytes, create, readOnly);
    }

    /** A new database is Clustered, coordinated through the Redis at {@code url} ({@code redis://host:port/}). */
    public OpenOptions redis(String url) {
        return new OpenOptions(exclusive, url, cacheBytes, create, readOnly);
    }

    /** The node cache's size in bytes. */
    public OpenOptions cacheBytes(long bytes) {
        return new OpenOptions(exclusive, redisUrl, bytes, create, readOnly);
    }

    /** Create the database if the folder has none (true by default; false gives {@link NotFoundException}). */
    public OpenOptions create(boolean create) {
        return new OpenOptions(exclusive, redisUrl, cacheBytes, create, readOnly);
    }

    /** Open read-only: nothing is written, write transactions are refused. */
    public OpenOptions readOnly(boolean readOnly) {
        return new OpenOptions(exclusive, redisUrl, cacheBytes, create, readOnly);
    }

    /** The options as the C ABI's JSON object. */
    String toJson() {
        StringBuilder b = new StringBuilder("{");
        StoreOptions.member(b, "exclusive", exclusive == null ? null : exclusive.toString());
        StoreOptions.member(b, "coordination", redisUrl == null ? null : "{\"redis\":" + Json.quote(redisUrl) + "}");
        StoreOptions.member(b, "cache_bytes", cacheBytes == null ? null : cacheBytes.toString());
        StoreOptions.member(b, "create", create == null ? null : create.toString());
        StoreOptions.member(b, "read_only", readOnly == null ? null : readOnly.toString());
        return b.append('}').toString();
    }

    @Override
    public String toString() {
        return toJson();
    }
}
