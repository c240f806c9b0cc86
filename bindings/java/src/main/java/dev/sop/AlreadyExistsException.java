package dev.sop;

/** The store (or database) already exists. */
public class AlreadyExistsException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public AlreadyExistsException(int nativeCode, String message) {
        super(nativeCode, message);
    }
}
