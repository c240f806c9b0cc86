package dev.sop;

/** How a transaction reads and writes ({@code SOP_TX_*}). */
public enum TxMode {
    /** Reads and writes, validated and merged at commit (serializable). */
    FOR_WRITING(1),
    /** Reads only; the commit fails with {@link ConflictException} if what was read changed. */
    FOR_READING(2),
    /** Reads only from a snapshot, no validation at commit. */
    NO_CHECK(3);

    final int code;

    TxMode(int code) {
        this.code = code;
    }
}
