package dev.sop;

/** The engine refused the input: a key that does not fit the store's key spec, invalid JSON, a write in a read-only transaction, a key too long, ... */
public class InvalidInputException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public InvalidInputException(int nativeCode, String message) {
        super(nativeCode, message);
    }
}
