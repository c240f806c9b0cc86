package dev.sop;

/** A bad argument to the C ABI: malformed options or key spec, text with a NUL character, a cursor that is not on an item. */
public class BadArgumentException extends SopException {
    private static final long serialVersionUID = 1L;

    /** The error with the library's message. */
    public BadArgumentException(int nativeCode, String message) {
        super(nativeCode, message);
    }
}
