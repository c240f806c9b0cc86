package dev.sop;

/** Work done in a transaction, with a result ({@link Sop#callInTransaction(TransactionFunction)}). */
@FunctionalInterface
public interface TransactionFunction<T> {
    /** Do the work and return its result; throwing rolls the transaction back. */
    T apply(Transaction tx);
}
