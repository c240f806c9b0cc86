package dev.sop;

/** This process was fenced off by others (Clustered mode): open the database again. */
public class FencedException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public FencedException(int nativeCode, String message) {
        super(nativeCode, message);
    }
}
