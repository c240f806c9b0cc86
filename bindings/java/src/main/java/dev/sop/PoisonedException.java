package dev.sop;

/** The database handle cannot go on after an earlier error (a failed fsync): close it and open the database again. */
public class PoisonedException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public PoisonedException(int nativeCode, String message) {
        super(nativeCode, message);
    }
}
