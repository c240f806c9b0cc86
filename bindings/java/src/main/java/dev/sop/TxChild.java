package dev.sop;

import java.lang.ref.Cleaner;

/**
 * A native object that lives in a transaction: a store or a cursor. It keeps its
 * {@link Transaction} reachable, takes the transaction's lock for each call (so closing
 * it from another thread never races a call with a released handle), and is closed
 * by the transaction's own close if not before.
 */
abstract class TxChild implements AutoCloseable {
    final Transaction tx;
    private final long handle;
    private final Release release;
    private final Cleaner.Cleanable cleanable;
    private boolean closed; // guarded by tx.lock

    TxChild(Transaction tx, long handle, Release.Kind kind) {
        this.tx = tx;
        this.handle = handle;
        this.release = new Release(kind, handle);
        this.cleanable = Release.CLEANER.register(this, release);
    }

    /** The handle for a native call; the caller holds {@code tx.lock}. */
    final long handle() {
        if (closed) {
            throw Errors.closed(what());
        }
        return handle;
    }

    abstract String what();

    /** Whether {@link #close()} was called (or its transaction was closed). */
    public final boolean isClosed() {
        synchronized (tx.lock) {
            return closed;
        }
    }

    /** Release the native handle; closing twice does nothing. */
    @Override
    public final void close() {
        synchronized (tx.lock) {
            if (!closed) {
                tx.forget(this);
                closeLocked();
            }
        }
    }

    /** Release the handle; the caller holds {@code tx.lock}. */
    final void closeLocked() {
        closed = true;
        release.now();
        cleanable.clean();
    }
}
