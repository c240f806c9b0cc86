package dev.sop;

/** Turning the C ABI's return codes into exceptions. */
final class Errors {
    private Errors() {}

    /** Throw the exception for {@code rc} unless it is {@code SOP_OK}. Call right after the native call. */
    static void check(int rc) {
        if (rc != 0) {
            throw of(rc, Text.borrowed(SopNative.sop_last_error_message()), null);
        }
    }

    /** The calling thread's last error message (read it right after the failed call). */
    static String lastMessage() {
        return Text.borrowed(SopNative.sop_last_error_message());
    }

    static SopException of(int rc, String message, TransactionId id) {
        switch (ErrorCode.of(rc)) {
            case RETRY: return new ConflictException(rc, message);
            case OUTCOME_UNKNOWN: return new OutcomeUnknownException(rc, message, id);
            case POISONED: return new PoisonedException(rc, message);
            case FENCED: return new FencedException(rc, message);
            case CORRUPT: return new CorruptException(rc, message);
            case INVALID_INPUT: return new InvalidInputException(rc, message);
            case NOT_FOUND: return new NotFoundException(rc, message);
            case ALREADY_EXISTS: return new AlreadyExistsException(rc, message);
            case IN_USE: return new InUseException(rc, message);
            case DISK_FULL: return new DiskFullException(rc, message);
            case IO: return new SopIOException(rc, message);
            case UNAVAILABLE: return new UnavailableException(rc, message);
            case UNSUPPORTED: return new UnsupportedException(rc, message);
            case BAD_ARGUMENT: return new BadArgumentException(rc, message);
            case BAD_HANDLE: return new ClosedException(rc, message);
            case TX_ENDED: return new TransactionEndedException(rc, message);
            case PANIC: return new InternalException(rc, message);
            default: return new SopException(rc, message);
        }
    }

    static ClosedException closed(String what) {
        return new ClosedException(ErrorCode.BAD_HANDLE.code(), what + " is closed");
    }
}
