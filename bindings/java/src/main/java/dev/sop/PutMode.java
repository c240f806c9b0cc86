package dev.sop;

/** What a put does with an existing key ({@code SOP_PUT_*}). */
public enum PutMode {
    /** Insert; in a unique store an existing key is not replaced (reports false). */
    ADD(1),
    /** Insert only if no item has the key (also in stores allowing duplicates). */
    ADD_IF_ABSENT(2),
    /** Replace the value of an existing key only (reports false if there is none). */
    UPDATE(3),
    /** Insert or replace; reports true if it inserted, false if it replaced. */
    UPSERT(4);

    final int code;

    PutMode(int code) {
        this.code = code;
    }
}
