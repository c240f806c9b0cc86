package dev.sop;

/**
 * An error reported by SOP. Unchecked: each subclass says what to do about it
 * ({@link ConflictException}: run the transaction again; {@link OutcomeUnknownException}:
 * ask {@link Sop#commitOutcome}; {@link FencedException}/{@link PoisonedException}: reopen; ...).
 */
public class SopException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int nativeCode;

    /** An error with the C ABI's code {@code nativeCode} and the library's message. */
    public SopException(int nativeCode, String message) {
        super(message);
        this.nativeCode = nativeCode;
    }

    /** The kind of error. */
    public ErrorCode code() {
        return ErrorCode.of(nativeCode);
    }

    /** The number the C ABI returned (kept as is when this binding does not know it). */
    public int nativeCode() {
        return nativeCode;
    }

    /** Whether running the whole transaction again may succeed (a conflict). */
    public boolean isRetryable() {
        return false;
    }
}
