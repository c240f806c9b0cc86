package dev.sop;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Releases one native handle exactly once: from {@code close()} (which wants the return
 * code) or, for an object that was never closed, from the {@link Cleaner} once the object
 * is unreachable. It holds the handle's number only, never the Java object.
 */
final class Release implements Runnable {
    static final Cleaner CLEANER = Cleaner.create();

    enum Kind { DATABASE, TRANSACTION, STORE, CURSOR }

    private final Kind kind;
    private final long handle;
    private final AtomicBoolean done = new AtomicBoolean();

    Release(Kind kind, long handle) {
        this.kind = kind;
        this.handle = handle;
    }

    /** Release the handle now; its return code, or 0 if it was released before. */
    int now() {
        if (!done.compareAndSet(false, true)) {
            return 0;
        }
        switch (kind) {
            case DATABASE: return SopNative.sop_close(handle);
            case TRANSACTION: return SopNative.sop_tx_free(handle);
            case STORE: return SopNative.sop_store_close(handle);
            default: return SopNative.sop_cursor_free(handle);
        }
    }

    /** Whether the handle was released. */
    boolean isDone() {
        return done.get();
    }

    @Override
    public void run() {
        now();
    }
}
