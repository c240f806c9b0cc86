package dev.sop;

/** The volume is full; nothing committed was lost. */
public class DiskFullException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public DiskFullException(int nativeCode, String message) {
        super(nativeCode, message);
    }
}
