package dev.sop;

/** A panic inside the library was caught at the boundary (a bug in SOP); the objects the call used may be unusable. */
public class InternalException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public InternalException(int nativeCode, String message) {
        super(nativeCode, message);
    }
}
