package dev.sop;

/** Data in the folder is damaged: run {@link Sop#check()}; retrying does not help. */
public class CorruptException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public CorruptException(int nativeCode, String message) {
        super(nativeCode, message);
    }
}
