package dev.sop;

/** This build cannot serve this database (format version, missing feature). */
public class UnsupportedException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public UnsupportedException(int nativeCode, String message) {
        super(nativeCode, message);
    }
}
