package dev.sop;

/** The transaction was already committed or rolled back (or its commit failed): the call needs a live transaction. */
public class TransactionEndedException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public TransactionEndedException(int nativeCode, String message) {
        super(nativeCode, message);
    }
}
