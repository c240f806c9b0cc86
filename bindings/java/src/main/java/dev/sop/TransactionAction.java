package dev.sop;

/** Work done in a transaction, with no result ({@link Sop#runInTransaction(TransactionAction)}). */
@FunctionalInterface
public interface TransactionAction {
    /** Do the work; throwing rolls the transaction back. */
    void run(Transaction tx);
}
