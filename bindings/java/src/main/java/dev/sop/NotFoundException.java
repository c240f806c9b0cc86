package dev.sop;

/** The database (opened with {@code create(false)}) or the store does not exist. */
public class NotFoundException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public NotFoundException(int nativeCode, String message) {
        super(nativeCode, message);
    }
}
