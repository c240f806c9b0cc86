package dev.sop;

import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * A transaction: open stores in it, then {@link #commit()} (durable when it returns) or
 * {@link #rollback()}. {@link #close()} rolls back a transaction that was not committed, and
 * closes its stores and cursors; use it in try-with-resources:
 *
 * <pre>{@code
 * try (Transaction tx = db.beginWrite()) {
 *     tx.openJsonStore("users").put("\"ada\"", "1");
 *     tx.commit();
 * }
 * }</pre>
 *
 * <p>Threads: a transaction, its stores and its cursors may be used from any thread, one call at
 * a time; calls from several threads are serialized by the transaction's lock (safe, not
 * parallel). For parallel work give each thread its own transaction.
 */
public final class Transaction implements AutoCloseable {
    final Object lock = new Object();
    private final Sop db;
    private final long handle;
    private final TxMode mode;
    private final Release release;
    private final Cleaner.Cleanable cleanable;
    private final Set<TxChild> children = Collections.newSetFromMap(new IdentityHashMap<>());
    private boolean ended; // guarded by lock
    private boolean closed; // guarded by lock

    Transaction(Sop db, long handle, TxMode mode) {
        this.db = db;
        this.handle = handle;
        this.mode = mode;
        this.release = new Release(Release.Kind.TRANSACTION, handle);
        this.cleanable = Release.CLEANER.register(this, release);
    }

    /** The database this transaction belongs to. */
    public Sop database() {
        return db;
    }

    /** The transaction's mode. */
    public TxMode mode() {
        return mode;
    }

    /** True until {@link #commit()}, {@link #rollback()} or {@link #close()}. */
    public boolean isActive() {
        synchronized (lock) {
            return !ended && !closed;
        }
    }

    // ---- stores

    /** Create a JSON store whose keys are primitives (null, booleans, numbers, strings). */
    public JsonStore createJsonStore(String name) {
        return createJsonStore(name, null, StoreOptions.defaults());
    }

    /**
     * Create a JSON store.
     *
     * @param keySpec null for primitive keys, or the fields that order object keys:
     *     {@code "last,age:desc"} or {@code [{"field":"last","order":"asc"},...]}
     * @throws AlreadyExistsException a store of this name exists
     */
    public JsonStore createJsonStore(String name, String keySpec, StoreOptions options) {
        synchronized (lock) {
            long[] out = new long[1];
            Errors.check(SopNative.sop_json_store_create(handle(), Text.cString(name, "store name"),
                    Text.cString(keySpec, "key spec"), Text.cString(options.toJson(), "options"), out));
            return adopt(new JsonStore(this, out[0], name));
        }
    }

    /**
     * Open an existing JSON store.
     *
     * @throws NotFoundException there is no store of this name
     * @throws InvalidInputException the store is not a JSON store
     */
    public JsonStore openJsonStore(String name) {
        synchronized (lock) {
            long[] out = new long[1];
            Errors.check(SopNative.sop_json_store_open(handle(), Text.cString(name, "store name"), out));
            return adopt(new JsonStore(this, out[0], name));
        }
    }

    /** Open the JSON store, or create it with this key spec and options if there is none. */
    public JsonStore openOrCreateJsonStore(String name, String keySpec, StoreOptions options) {
        synchronized (lock) {
            try {
                return openJsonStore(name);
            } catch (NotFoundException e) {
                return createJsonStore(name, keySpec, options);
            }
        }
    }

    /** Create a byte store: keys are compared as unsigned bytes. */
    public ByteStore createByteStore(String name) {
        return createByteStore(name, StoreOptions.defaults());
    }

    /**
     * Create a byte store with options.
     *
     * @throws AlreadyExistsException a store of this name exists
     */
    public ByteStore createByteStore(String name, StoreOptions options) {
        synchronized (lock) {
            long[] out = new long[1];
            Errors.check(SopNative.sop_raw_store_create(handle(), Text.cString(name, "store name"), null,
                    Text.cString(options.toJson(), "options"), out));
            return adopt(new ByteStore(this, out[0], name));
        }
    }

    /**
     * Open an existing store at the byte level (a JSON store's values are then its item frames,
     * docs/FORMAT.md).
     *
     * @throws NotFoundException there is no store of this name
     */
    public ByteStore openByteStore(String name) {
        synchronized (lock) {
            long[] out = new long[1];
            Errors.check(SopNative.sop_raw_store_open(handle(), Text.cString(name, "store name"), out));
            return adopt(new ByteStore(this, out[0], name));
        }
    }

    /** Open the byte store, or create it with these options if there is none. */
    public ByteStore openOrCreateByteStore(String name, StoreOptions options) {
        synchronized (lock) {
            try {
                return openByteStore(name);
            } catch (NotFoundException e) {
                return createByteStore(name, options);
            }
        }
    }

    /** The names of all stores this transaction sees, sorted. */
    public List<String> storeNames() {
        synchronized (lock) {
            long[] out = new long[1];
            Errors.check(SopNative.sop_tx_list_stores(handle(), out));
            return Collections.unmodifiableList(new ArrayList<>(Json.parseStringArray(Text.take(out[0]))));
        }
    }

    /**
     * A store's saved info and item count as JSON:
     * {@code {"name","id","key_type","key_spec","options":{...},"count"}}.
     *
     * @throws NotFoundException there is no store of this name
     */
    public String storeInfo(String name) {
        synchronized (lock) {
            long[] out = new long[1];
            Errors.check(SopNative.sop_tx_store_info(handle(), Text.cString(name, "store name"), out));
            return Text.take(out[0]);
        }
    }

    /**
     * Drop the store and everything in it (durable with the commit).
     *
     * @throws NotFoundException there is no store of this name
     */
    public void dropStore(String name) {
        synchronized (lock) {
            Errors.check(SopNative.sop_tx_drop_store(handle(), Text.cString(name, "store name")));
        }
    }

    // ---- ending

    /**
     * Commit: durable when it returns. The transaction has ended afterwards, whatever the result.
     *
     * @throws ConflictException run the whole transaction again (nothing was committed)
     * @throws OutcomeUnknownException maybe durable: ask {@link Sop#commitOutcome}
     * @throws TransactionEndedException it was committed or rolled back before
     */
    public void commit() {
        synchronized (lock) {
            int rc = SopNative.sop_tx_commit(handle());
            if (rc != 0) {
                String message = Errors.lastMessage();
                ended = true;
                TransactionId id = rc == ErrorCode.OUTCOME_UNKNOWN.code() ? idOrNull() : null;
                throw Errors.of(rc, message, id);
            }
            ended = true;
        }
    }

    /**
     * Roll back: discard the changes. The transaction has ended afterwards.
     *
     * @throws TransactionEndedException it was committed or rolled back before
     */
    public void rollback() {
        synchronized (lock) {
            Errors.check(SopNative.sop_tx_rollback(handle()));
            ended = true;
        }
    }

    /** The id and snapshot sequence, for {@link Sop#commitOutcome} (also after the end). */
    public TransactionId id() {
        synchronized (lock) {
            byte[] id = new byte[16];
            long[] seq = new long[1];
            Errors.check(SopNative.sop_tx_id(handle(), id, seq));
            return new TransactionId(id, seq[0]);
        }
    }

    private TransactionId idOrNull() {
        byte[] id = new byte[16];
        long[] seq = new long[1];
        return SopNative.sop_tx_id(handle, id, seq) == 0 ? new TransactionId(id, seq[0]) : null;
    }

    /**
     * Close the transaction's stores and cursors and release it, rolling it back if it was
     * neither committed nor rolled back. Closing twice does nothing.
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            for (TxChild c : children) {
                c.closeLocked();
            }
            children.clear();
            release.now();
            cleanable.clean();
        }
    }

    // ---- for stores and cursors (the caller holds the lock)

    long handle() {
        if (closed) {
            throw Errors.closed("the transaction");
        }
        return handle;
    }

    Release release() {
        return release;
    }

    <C extends TxChild> C adopt(C child) {
        children.add(child);
        return child;
    }

    void forget(TxChild child) {
        children.remove(child);
    }

    @Override
    public String toString() {
        return "Transaction[" + mode + (isActive() ? "]" : ", ended]");
    }
}
