package dev.sop;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Cost per call over the C ABI from Java: N puts in one transaction, N gets, a scan, and the
 * same through one batch call, on a JSON store and a byte store; and an empty call (the ABI
 * version) for the floor of a JNA direct-mapped call. Not a test (no @Test): run it with
 * {@code mvn -q test-compile exec:java -Dsop.library.path=.../release/libsop_ffi.so}
 * (docs/BENCHMARKS.md). Arguments: [N] (default 100000).
 */
public final class PutGetBenchmark {
    private PutGetBenchmark() {}

    public static void main(String[] args) throws IOException {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        System.out.printf("SOP %s (C ABI %d), Java %s, %d items%n", Sop.libraryVersion(), Sop.abiVersion(),
                System.getProperty("java.version"), n);
        Path dir = Files.createTempDirectory("sop-java-bench");
        try {
            run(dir.resolve("warmup"), Math.max(1, n / 5), false);
            run(dir.resolve("measured"), n, true);
        } finally {
            try (Stream<Path> all = Files.walk(dir)) {
                for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    private static void run(Path dir, int n, boolean print) {
        List<String> jsonKeys = new ArrayList<>(n);
        List<byte[]> byteKeys = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            // Spread over the key space, not in insertion order.
            long k = (i * 2654435761L) % 1_000_000_007L;
            jsonKeys.add(Long.toString(k));
            byteKeys.add(String.format("k%012d", k).getBytes(StandardCharsets.US_ASCII));
        }
        String value = "{\"name\":\"item\",\"n\":12345,\"tags\":[\"a\",\"b\"]}";
        byte[] rawValue = value.getBytes(StandardCharsets.UTF_8);

        long t0 = System.nanoTime();
        int calls = 1_000_000;
        long sum = 0;
        for (int i = 0; i < calls; i++) {
            sum += SopNative.sop_abi_version();
        }
        report(print, "empty call (sop_abi_version)", calls, System.nanoTime() - t0);
        if (sum != (long) calls * NativeLoader.ABI_VERSION) {
            throw new AssertionError("abi version");
        }

        try (Sop db = Sop.open(dir)) {
            try (Transaction tx = db.beginWrite()) {
                JsonStore s = tx.createJsonStore("json");
                long t = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    s.put(jsonKeys.get(i), value);
                }
                report(print, "JSON put, one transaction", n, System.nanoTime() - t);
                t = System.nanoTime();
                tx.commit();
                report(print, "  its commit (once)", 1, System.nanoTime() - t);
            }
            try (Transaction tx = db.beginRead()) {
                JsonStore s = tx.openJsonStore("json");
                long t = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    if (s.get(jsonKeys.get(i)).isEmpty()) {
                        throw new AssertionError("missing " + jsonKeys.get(i));
                    }
                }
                report(print, "JSON get", n, System.nanoTime() - t);
                t = System.nanoTime();
                long seen;
                try (Cursor<String, String> c = s.range()) {
                    seen = 0;
                    for (Item<String, String> item : c) {
                        seen += item.value().length() > 0 ? 1 : 0;
                    }
                }
                check(seen, n);
                report(print, "JSON scan, per item", n, System.nanoTime() - t);
            }
            try (Transaction tx = db.beginWrite()) {
                JsonStore s = tx.createJsonStore("json-batch");
                List<Item<String, String>> items = new ArrayList<>(n);
                for (String k : jsonKeys) {
                    items.add(new Item<>(k, value));
                }
                long t = System.nanoTime();
                check(s.putAll(items, PutMode.UPSERT), n);
                report(print, "JSON putAll (one call), per item", n, System.nanoTime() - t);
                tx.commit();
            }
            try (Transaction tx = db.beginWrite()) {
                ByteStore s = tx.createByteStore("bytes");
                long t = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    s.put(byteKeys.get(i), rawValue);
                }
                report(print, "byte put, one transaction", n, System.nanoTime() - t);
                tx.commit();
            }
            try (Transaction tx = db.beginRead()) {
                ByteStore s = tx.openByteStore("bytes");
                long t = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    if (s.get(byteKeys.get(i)).isEmpty()) {
                        throw new AssertionError("missing byte key " + i);
                    }
                }
                report(print, "byte get", n, System.nanoTime() - t);
            }
            try (Transaction tx = db.beginWrite()) {
                ByteStore s = tx.createByteStore("bytes-batch");
                List<Item<byte[], byte[]>> items = new ArrayList<>(n);
                for (byte[] k : byteKeys) {
                    items.add(new Item<>(k, rawValue));
                }
                long t = System.nanoTime();
                check(s.putAll(items, PutMode.UPSERT), n);
                report(print, "byte putAll (one call), per item", n, System.nanoTime() - t);
                tx.commit();
            }
        }
    }

    private static void check(long got, long want) {
        if (got != want) {
            throw new AssertionError(got + " != " + want);
        }
    }

    private static void report(boolean print, String what, long ops, long nanos) {
        if (print) {
            System.out.printf("%-36s %10d ops %10.1f ms %10.0f ns/op%n", what, ops, nanos / 1e6, (double) nanos / ops);
        }
    }
}
