package dev.sop;

/** The coordinator (Redis) cannot be reached; nothing was committed. */
public class UnavailableException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public UnavailableException(int nativeCode, String message) {
        super(nativeCode, message);
    }
}
