package dev.sop;

/** The C ABI's error codes ({@code SOP_ERR_*} in sop.h); each maps to one exception class. */
public enum ErrorCode {
    /** {@code SOP_ERR_RETRY}: a conflict; run the whole transaction again ({@link ConflictException}). */
    RETRY(1),
    /** {@code SOP_ERR_OUTCOME_UNKNOWN}: the commit may or may not be durable ({@link OutcomeUnknownException}). */
    OUTCOME_UNKNOWN(2),
    /** {@code SOP_ERR_POISONED}: the database handle cannot go on; reopen ({@link PoisonedException}). */
    POISONED(3),
    /** {@code SOP_ERR_FENCED}: this process was fenced off (Clustered mode); reopen ({@link FencedException}). */
    FENCED(4),
    /** {@code SOP_ERR_CORRUPT}: damaged data ({@link CorruptException}). */
    CORRUPT(5),
    /** {@code SOP_ERR_INVALID_INPUT}: the engine refused the input ({@link InvalidInputException}). */
    INVALID_INPUT(6),
    /** {@code SOP_ERR_NOT_FOUND}: no such database or store ({@link NotFoundException}). */
    NOT_FOUND(7),
    /** {@code SOP_ERR_ALREADY_EXISTS}: the database or store exists ({@link AlreadyExistsException}). */
    ALREADY_EXISTS(8),
    /** {@code SOP_ERR_IN_USE}: held by another user ({@link InUseException}). */
    IN_USE(9),
    /** {@code SOP_ERR_DISK_FULL}: the volume is full ({@link DiskFullException}). */
    DISK_FULL(10),
    /** {@code SOP_ERR_IO}: another I/O error ({@link SopIOException}). */
    IO(11),
    /** {@code SOP_ERR_UNAVAILABLE}: Redis cannot be reached ({@link UnavailableException}). */
    UNAVAILABLE(12),
    /** {@code SOP_ERR_UNSUPPORTED}: this build cannot serve this database ({@link UnsupportedException}). */
    UNSUPPORTED(13),
    /** {@code SOP_ERR_OTHER}, and any code this binding does not know ({@link SopException}). */
    OTHER(14),
    /** {@code SOP_ERR_BAD_ARGUMENT}: a bad argument to the C ABI ({@link BadArgumentException}). */
    BAD_ARGUMENT(20),
    /** {@code SOP_ERR_BAD_HANDLE}: a closed object ({@link ClosedException}). */
    BAD_HANDLE(21),
    /** {@code SOP_ERR_TX_ENDED}: the transaction was committed or rolled back ({@link TransactionEndedException}). */
    TX_ENDED(22),
    /** {@code SOP_ERR_PANIC}: a bug in SOP caught at the boundary ({@link InternalException}). */
    PANIC(23);

    private final int code;

    ErrorCode(int code) {
        this.code = code;
    }

    /** The number in sop.h. */
    public int code() {
        return code;
    }

    /** The code with this number; {@link #OTHER} for a number this binding does not know. */
    public static ErrorCode of(int code) {
        for (ErrorCode c : values()) {
            if (c.code == code) {
                return c;
            }
        }
        return OTHER;
    }
}
