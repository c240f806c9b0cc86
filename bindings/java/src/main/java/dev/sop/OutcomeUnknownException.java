package dev.sop;

/**
 * The commit may or may not be durable (an error after the commit point). Do not retry
 * blindly: ask {@link Sop#commitOutcome(TransactionId)} with {@link #transactionId()}.
 */
public class OutcomeUnknownException extends SopException {
    private static final long serialVersionUID = 1L;
    private final TransactionId transactionId;

    /** The error with the library's message and the id of the transaction whose commit it was. */
    public OutcomeUnknownException(int nativeCode, String message, TransactionId transactionId) {
        super(nativeCode, message);
        this.transactionId = transactionId;
    }

    /** What {@link Sop#commitOutcome} needs; null if it could not be read. */
    public TransactionId transactionId() {
        return transactionId;
    }
}
