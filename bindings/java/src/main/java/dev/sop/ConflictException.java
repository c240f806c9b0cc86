package dev.sop;

/**
 * Another commit changed what the transaction used, the commit ran past its maximum
 * commit time, or its snapshot is gone: run the whole transaction again in a new
 * transaction ({@link Sop#runInTransaction} does). Nothing of it was committed.
 */
public class ConflictException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public ConflictException(int nativeCode, String message) {
        super(nativeCode, message);
    }

    @Override
    public boolean isRetryable() {
        return true;
    }
}
