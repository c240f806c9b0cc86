package dev.sop;

/** Another process or handle holds the database in a way that excludes this use (an exclusive open; closing a database whose transactions are still open). */
public class InUseException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public InUseException(int nativeCode, String message) {
        super(nativeCode, message);
    }
}
