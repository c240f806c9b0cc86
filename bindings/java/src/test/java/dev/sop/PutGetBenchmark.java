package dev.sop;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Cost per call over the C ABI from Java (docs/BENCHMARKS.md): N puts in one writing
 * transaction, its commit, then N gets in a NoCheck transaction, each on a new database, on a
 * byte store (24-byte keys: {@code key_} and i in 20 digits; 150-byte values: {@code value_} and
 * i in 20 digits, padded with {@code x}) and a JSON store (key the number i, value
 * {@code {"v":"value_i"}}): the work of the Rust twin crates/sop-ffi/examples/call_cost.rs.
 * Besides its human lines it prints the machine-readable lines scripts/bench-call-cost.sh
 * collects: {@code CALLCOST lang=java op=OP n=N ns_wall=W ns_cpu=C} (ns per call).
 * Also: the same puts through one batch call ({@code putAll}), a scan, and an empty call
 * ({@code sop_abi_version}), the floor of a JNA direct-mapped call.
 *
 * <p>Not a test (no @Test). Run it on a release build of the library:
 * {@code mvn -q test-compile exec:java -Dsop.native.dir=$CARGO_TARGET_DIR/release -Dexec.args=100000}. A first round at N/5 warms the JIT up and is not printed.
 */
public final class PutGetBenchmark {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private PutGetBenchmark() {}

    /** Wall time and this thread's CPU time (the machine may be shared: CPU time is steadier). */
    record Span(long wall, long cpu) {
        static long[] start() {
            return new long[] {System.nanoTime(), THREADS.getCurrentThreadCpuTime()};
        }

        static Span since(long[] start) {
            return new Span(System.nanoTime() - start[0], THREADS.getCurrentThreadCpuTime() - start[1]);
        }
    }

    public static void main(String[] args) throws IOException {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        System.out.printf("SOP %s (C ABI %d), Java %s (%s), %d puts in one transaction, then %d gets (NoCheck)%n",
                Sop.libraryVersion(), Sop.abiVersion(), System.getProperty("java.version"),
                System.getProperty("java.vm.name"), n, n);
        Path dir = Files.createTempDirectory("sop-java-bench");
        try {
            for (boolean print : new boolean[] {false, true}) {
                int count = print ? n : Math.max(1, n / 5);
                Path round = dir.resolve(print ? "measured" : "warmup");
                emptyCalls(print);
                bytes(round.resolve("bytes"), count, false, print);
                bytes(round.resolve("bytes-batch"), count, true, print);
                json(round.resolve("json"), count, false, print);
                json(round.resolve("json-batch"), count, true, print);
            }
        } finally {
            try (Stream<Path> all = Files.walk(dir)) {
                for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    private static void emptyCalls(boolean print) {
        int calls = 1_000_000;
        long sum = 0;
        long[] t0 = Span.start();
        for (int i = 0; i < calls; i++) {
            sum += SopNative.sop_abi_version();
        }
        Span span = Span.since(t0);
        check(sum, (long) calls * NativeLoader.ABI_VERSION);
        if (print) {
            System.out.printf("%-28s     %6.0f ns/call (cpu %6.0f)%n", "empty call (sop_abi_version)",
                    (double) span.wall() / calls, (double) span.cpu() / calls);
        }
    }

    private static void bytes(Path dir, int n, boolean batch, boolean print) {
        List<Item<byte[], byte[]>> items = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            items.add(new Item<>(String.format("key_%020d", i).getBytes(StandardCharsets.UTF_8),
                    (String.format("value_%020d", i) + "x".repeat(124)).getBytes(StandardCharsets.UTF_8)));
        }
        try (Sop db = Sop.open(dir)) {
            Span put;
            long commit;
            try (Transaction tx = db.beginWrite()) {
                ByteStore s = tx.createByteStore("kv");
                long[] t0 = Span.start();
                if (batch) {
                    check(s.putAll(items, PutMode.UPSERT), n);
                } else {
                    for (Item<byte[], byte[]> it : items) {
                        s.put(it.key(), it.value());
                    }
                }
                put = Span.since(t0);
                long t = System.nanoTime();
                tx.commit();
                commit = System.nanoTime() - t;
            }
            Span get;
            try (Transaction tx = db.begin(TxMode.NO_CHECK)) {
                ByteStore s = tx.openByteStore("kv");
                long[] t0 = Span.start();
                for (Item<byte[], byte[]> it : items) {
                    if (!Arrays.equals(s.get(it.key()).orElseThrow(), it.value())) {
                        throw new AssertionError("wrong value");
                    }
                }
                get = Span.since(t0);
            }
            long scan = scan(db, n, tx -> tx.openByteStore("kv"));
            report(print, batch ? "Java, byte store, putAll" : "Java, byte store", batch ? null : "bytes", n, put,
                    commit, get, scan);
        }
    }

    private static void json(Path dir, int n, boolean batch, boolean print) {
        List<Item<String, String>> items = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            items.add(new Item<>(Integer.toString(i), "{\"v\":\"value_" + i + "\"}"));
        }
        try (Sop db = Sop.open(dir)) {
            Span put;
            long commit;
            try (Transaction tx = db.beginWrite()) {
                JsonStore s = tx.createJsonStore("kv");
                long[] t0 = Span.start();
                if (batch) {
                    check(s.putAll(items, PutMode.UPSERT), n);
                } else {
                    for (Item<String, String> it : items) {
                        s.put(it.key(), it.value());
                    }
                }
                put = Span.since(t0);
                long t = System.nanoTime();
                tx.commit();
                commit = System.nanoTime() - t;
            }
            Span get;
            try (Transaction tx = db.begin(TxMode.NO_CHECK)) {
                JsonStore s = tx.openJsonStore("kv");
                long[] t0 = Span.start();
                for (Item<String, String> it : items) {
                    if (!s.get(it.key()).orElseThrow().equals(it.value())) {
                        throw new AssertionError("wrong value");
                    }
                }
                get = Span.since(t0);
            }
            long scan = scan(db, n, tx -> tx.openJsonStore("kv"));
            report(print, batch ? "Java, JSON store, putAll" : "Java, JSON store", batch ? null : "json", n, put,
                    commit, get, scan);
        }
    }

    /** A scan of the whole store {@code open} opens: its time. */
    private static long scan(Sop db, int n, Function<Transaction, Store<?, ?>> open) {
        try (Transaction tx = db.begin(TxMode.NO_CHECK)) {
            Store<?, ?> s = open.apply(tx);
            long t = System.nanoTime();
            long seen = 0;
            try (Cursor<?, ?> c = s.range()) {
                for (Item<?, ?> item : c) {
                    seen += item.value() == null ? 0 : 1;
                }
            }
            check(seen, n);
            return System.nanoTime() - t;
        }
    }

    private static void check(long got, long want) {
        if (got != want) {
            throw new AssertionError(got + " != " + want);
        }
    }

    private static void report(boolean print, String what, String kind, int n, Span put, long commit, Span get,
            long scan) {
        if (print && kind != null) {
            System.out.printf("CALLCOST lang=java op=%s_put n=%d ns_wall=%.0f ns_cpu=%.0f cpu=thread%n", kind, n,
                    (double) put.wall() / n, (double) put.cpu() / n);
            System.out.printf("CALLCOST lang=java op=%s_get n=%d ns_wall=%.0f ns_cpu=%.0f cpu=thread%n", kind, n,
                    (double) get.wall() / n, (double) get.cpu() / n);
        }
        if (print) {
            System.out.printf("%-28s put %6.0f ns/op (cpu %6.0f)   commit %6.1f ms   get %6.0f ns/op (cpu %6.0f)"
                    + "   scan %5.0f ns/item%n", what, (double) put.wall() / n, (double) put.cpu() / n, commit / 1e6,
                    (double) get.wall() / n, (double) get.cpu() / n, (double) scan / n);
        }
    }
}
