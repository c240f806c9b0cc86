package dev.sop;

/** Where a store keeps its values. */
public enum ValuePlacement {
    /** By size: small values inside the leaf, larger ones in separate blobs (the default). */
    AUTO,
    /** Inside the leaf node. */
    INLINE,
    /** In a separate blob written with the commit. */
    SEPARATE,
    /** In a file of its own, written at the moment of the add. */
    BIG;

    String json() {
        return "\"" + name().toLowerCase(java.util.Locale.ROOT) + "\"";
    }
}
