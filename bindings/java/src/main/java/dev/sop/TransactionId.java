package dev.sop;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * A transaction's id and the sequence of its snapshot: what {@link Sop#commitOutcome}
 * needs after an {@link OutcomeUnknownException}.
 */
public final class TransactionId {
    private final byte[] id;
    private final long sinceSeq;

    /** The 16-byte id (big-endian) and the snapshot's sequence number. */
    public TransactionId(byte[] id, long sinceSeq) {
        if (id.length != 16) {
            throw new IllegalArgumentException("a transaction id has 16 bytes, not " + id.length);
        }
        this.id = id.clone();
        this.sinceSeq = sinceSeq;
    }

    /** The 16 bytes of the id. */
    public byte[] id() {
        return id.clone();
    }

    /** The sequence of the snapshot the transaction began on (unsigned). */
    public long sinceSeq() {
        return sinceSeq;
    }

    byte[] rawId() {
        return id;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TransactionId && Arrays.equals(id, ((TransactionId) o).id)
                && sinceSeq == ((TransactionId) o).sinceSeq;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(id) * 31 + Long.hashCode(sinceSeq);
    }

    @Override
    public String toString() {
        return HexFormat.of().formatHex(id) + "@" + Long.toUnsignedString(sinceSeq);
    }
}
