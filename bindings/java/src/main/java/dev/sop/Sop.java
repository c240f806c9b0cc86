package dev.sop;

import java.lang.ref.Cleaner;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * An open SOP database: the entry point of the binding.
 *
 * <pre>{@code
 * try (Sop db = Sop.open(Path.of("my-data"));
 *      Transaction tx = db.beginWrite()) {
 *     JsonStore users = tx.openOrCreateJsonStore("users", null, StoreOptions.defaults());
 *     users.put("\"ada\"", "{\"name\":\"Ada Lovelace\"}");
 *     tx.commit();
 * }
 * }</pre>
 *
 * <p>Threads: a {@code Sop} may be shared by any number of threads; give each thread its own
 * transactions ({@link Transaction} says what may be shared). Close it after its transactions.
 */
public final class Sop implements AutoCloseable {
    /** How often {@link #runInTransaction(TransactionAction)} tries before it gives up on conflicts. */
    public static final int DEFAULT_MAX_ATTEMPTS = 50;

    private final Path path;
    private final long handle;
    private final Release release;
    private final Cleaner.Cleanable cleanable;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed; // guarded by lock

    private Sop(Path path, long handle) {
        this.path = path;
        this.handle = handle;
        this.release = new Release(Release.Kind.DATABASE, handle);
        this.cleanable = Release.CLEANER.register(this, release);
    }

    /** Open the database in folder {@code path}, creating it if there is none. */
    public static Sop open(Path path) {
        return open(path, OpenOptions.defaults());
    }

    /** Open the database in folder {@code path}, creating it if there is none. */
    public static Sop open(String path) {
        return open(Path.of(path), OpenOptions.defaults());
    }

    /**
     * Open the database in folder {@code path} with options.
     *
     * @throws NotFoundException no database there and {@code create(false)}
     * @throws InUseException held exclusively by another handle or process
     * @throws UnavailableException Redis cannot be reached (Clustered)
     */
    public static Sop open(Path path, OpenOptions options) {
        NativeLoader.ensureLoaded();
        long[] out = new long[1];
        Errors.check(SopNative.sop_open(Text.cString(path.toString(), "path"),
                Text.cString(options.toJson(), "options"), out));
        return new Sop(path, out[0]);
    }

    /** The native library's version ("0.1.0"). */
    public static String libraryVersion() {
        NativeLoader.ensureLoaded();
        return Text.borrowed(SopNative.sop_version());
    }

    /** The C ABI version of the loaded library (equal to the binding's, or it would not have loaded). */
    public static int abiVersion() {
        NativeLoader.ensureLoaded();
        return SopNative.sop_abi_version();
    }

    /** The folder this database was opened from. */
    public Path path() {
        return path;
    }

    /** Begin a transaction in {@code mode}. */
    public Transaction begin(TxMode mode) {
        lock.readLock().lock();
        try {
            long[] out = new long[1];
            Errors.check(SopNative.sop_begin(handle(), mode.code, out));
            return new Transaction(this, out[0], mode);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Begin a read-write transaction ({@link TxMode#FOR_WRITING}). */
    public Transaction beginWrite() {
        return begin(TxMode.FOR_WRITING);
    }

    /** Begin a validated read-only transaction ({@link TxMode#FOR_READING}). */
    public Transaction beginRead() {
        return begin(TxMode.FOR_READING);
    }

    /**
     * Run {@code action} in a new write transaction and commit it; on a {@link ConflictException}
     * (from the work or the commit) run it again in a new transaction, up to
     * {@link #DEFAULT_MAX_ATTEMPTS} times. Any other exception rolls back and propagates at once.
     */
    public void runInTransaction(TransactionAction action) {
        callInTransaction(TxMode.FOR_WRITING, DEFAULT_MAX_ATTEMPTS, tx -> {
            action.run(tx);
            return null;
        });
    }

    /** As {@link #runInTransaction(TransactionAction)}, returning the work's result. */
    public <T> T callInTransaction(TransactionFunction<T> work) {
        return callInTransaction(TxMode.FOR_WRITING, DEFAULT_MAX_ATTEMPTS, work);
    }

    /**
     * Run {@code work} in a new transaction of {@code mode} and commit it (unless the work ended
     * the transaction itself), retrying on {@link ConflictException} only, at most
     * {@code maxAttempts} times in all, with a short random pause between attempts.
     *
     * @throws ConflictException the last conflict, once the attempts are used up
     */
    public <T> T callInTransaction(TxMode mode, int maxAttempts, TransactionFunction<T> work) {
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be at least 1, not " + maxAttempts);
        }
        ConflictException last = null;
        for (int attempt = 1; attempt <= maxAttempts; attempt++) {
            try (Transaction tx = begin(mode)) {
                T result = work.apply(tx);
                if (tx.isActive()) {
                    tx.commit();
                }
                return result;
            } catch (ConflictException e) {
                last = e;
                if (attempt < maxAttempts && !pause(attempt)) {
                    break;
                }
            }
        }
        throw last;
    }

    private static boolean pause(int attempt) {
        int ceiling = Math.min(50, 1 << Math.min(attempt, 6));
        try {
            Thread.sleep(ThreadLocalRandom.current().nextInt(1, ceiling + 1));
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * After an {@link OutcomeUnknownException}: whether the transaction with this id committed.
     */
    public boolean commitOutcome(TransactionId id) {
        lock.readLock().lock();
        try {
            int[] out = new int[1];
            Errors.check(SopNative.sop_commit_outcome(handle(), id.rawId(), id.sinceSeq(), out));
            return out[0] == 1;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Statistics as JSON: {@code {"head":seq,"stores":[{"name","items","nodes",...}]}}. */
    public String stats() {
        return report(SopNative::sop_stats);
    }

    /**
     * Check the database's integrity; the report as JSON:
     * {@code {"ok":bool,"head","records","stores":[...],"problems":[...],"garbage":[...]}}.
     */
    public String check() {
        return report(SopNative::sop_check);
    }

    /** Recover what dead processes left; the report as JSON. */
    public String recover() {
        return report(SopNative::sop_recover);
    }

    private interface ReportCall {
        int call(long db, long[] out);
    }

    private String report(ReportCall call) {
        lock.readLock().lock();
        try {
            long[] out = new long[1];
            Errors.check(call.call(handle(), out));
            return Text.take(out[0]);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        lock.readLock().lock();
        try {
            return closed;
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Close the handle (closing twice does nothing). The handle is released whatever happens.
     *
     * @throws InUseException transactions of it are still open: the database closes when the
     *     last of them is closed
     * @throws SopIOException writing out the journal (exclusive mode) failed
     */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            int rc = release.now();
            String message = rc == 0 ? null : Errors.lastMessage();
            cleanable.clean();
            if (rc != 0) {
                throw Errors.of(rc, message, null);
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    private long handle() {
        if (closed) {
            throw Errors.closed("the database " + path);
        }
        return handle;
    }

    @Override
    public String toString() {
        return "Sop[" + path + (isClosed() ? ", closed]" : "]");
    }
}
