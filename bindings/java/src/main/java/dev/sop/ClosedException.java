package dev.sop;

/** The object (database, transaction, store or cursor) was closed. */
public class ClosedException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public ClosedException(int nativeCode, String message) {
        super(nativeCode, message);
    }
}
