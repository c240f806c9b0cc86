package dev.sop;

/** An I/O error; the message names the path. */
public class SopIOException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public SopIOException(int nativeCode, String message) {
        super(nativeCode, message);
    }
}
