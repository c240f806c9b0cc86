package dev.sop;

/** Options of a range ({@code SOP_CURSOR_*} flags). */
public enum RangeOption {
    /** Highest key first. */
    DESCENDING(1),
    /** The lower bound itself is out of range. */
    LOW_EXCLUSIVE(2),
    /** The upper bound itself is out of range. */
    HIGH_EXCLUSIVE(4);

    final int flag;

    RangeOption(int flag) {
        this.flag = flag;
    }

    static int flags(RangeOption... options) {
        int f = 0;
        for (RangeOption o : options) {
            f |= o.flag;
        }
        return f;
    }
}
