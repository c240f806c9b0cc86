import dev.sop.Item;
import dev.sop.JsonStore;
import dev.sop.PutMode;
import dev.sop.Sop;
import dev.sop.Transaction;
import dev.sop.TxMode;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The interop test's Java process (tests/interop/driver.py starts it).
 *
 * <pre>
 * Interop write DB GROUP ITEMS INCREMENTS COUNTERS START_FILE
 * Interop read DB OUT_FILE RAW_FILE
 * </pre>
 *
 * <p>write: opens the folder, says "ready", waits for START_FILE, then adds ITEMS items of its
 * own (GROUP) in transactions of 100 and, after each batch, adds one to a shared counter (read,
 * add one, write back; {@link Sop#callInTransaction} runs it again on a conflict) until it has
 * done INCREMENTS increments, round-robin over the COUNTERS counters. Java builds the JSON text
 * itself. read: one read transaction over the whole store; one canonical line per item to
 * OUT_FILE and the text as the library returned it to RAW_FILE.
 */
public final class Interop {
    private static final String STORE = "interop";
    private static final int BATCH = 100;
    private static final int MAX_ATTEMPTS = 500;

    private static int attempts;

    private Interop() {}

    static String quote(String s) {
        return "\"" + s + "\""; // the group and names written here are plain ASCII
    }

    static Map.Entry<String, String> item(String group, int i) {
        String name = String.format("%s-%04d", group, i);
        String key = "{\"group\":" + quote(group) + ",\"n\":" + i + ",\"name\":" + quote(name) + "}";
        String value = "{\"lang\":" + quote(group) + ",\"i\":" + i
                + ",\"tenth\":" + Double.toString(i * 0.1)
                + ",\"big\":" + ((1L << 62) + i)
                + ",\"tags\":[" + quote(group) + "," + (i % 3 == 0 ? "null" : "\"x\"") + "]"
                + ",\"nested\":{\"sq\":" + (i * i) + ",\"neg\":" + (-i) + "}}";
        return Map.entry(key, value);
    }

    static String counterKey(int k) {
        return "{\"group\":\"counter\",\"n\":" + k + ",\"name\":\"c" + k + "\"}";
    }

    static void write(Path db, String group, int items, int increments, int counters, Path start)
            throws InterruptedException {
        try (Sop sop = Sop.open(db)) {
            System.out.println("ready");
            System.out.flush();
            while (!Files.exists(start)) {
                Thread.sleep(5);
            }
            int done = 0;
            int batches = (items + BATCH - 1) / BATCH;
            for (int b = 0; b < batches; b++) {
                List<Map.Entry<String, String>> batch = new ArrayList<>();
                for (int i = b * BATCH; i < Math.min((b + 1) * BATCH, items); i++) {
                    batch.add(item(group, i));
                }
                sop.callInTransaction(TxMode.FOR_WRITING, MAX_ATTEMPTS, tx -> {
                    attempts++;
                    return tx.openJsonStore(STORE).putAll(batch, PutMode.UPSERT);
                });
                for (; done < (long) increments * (b + 1) / batches; done++) {
                    String key = counterKey(done % counters);
                    sop.callInTransaction(TxMode.FOR_WRITING, MAX_ATTEMPTS, tx -> {
                        attempts++;
                        JsonStore s = tx.openJsonStore(STORE);
                        @SuppressWarnings("unchecked")
                        Map<String, Object> c = (Map<String, Object>) CanonicalJson.parse(s.get(key).orElseThrow());
                        BigInteger next = ((BigInteger) c.get("count")).add(BigInteger.ONE);
                        return s.put(key, "{\"count\":" + next + "}");
                    });
                }
            }
            int txs = batches + increments;
            System.out.printf("java: %d items, %d increments, %d transactions, %d conflicts retried%n",
                    items, increments, txs, attempts - txs);
        }
    }

    static void read(Path db, Path out, Path raw) throws IOException {
        StringBuilder canon = new StringBuilder();
        StringBuilder text = new StringBuilder();
        try (Sop sop = Sop.open(db); Transaction tx = sop.beginRead()) {
            for (Item<String, String> it : tx.openJsonStore(STORE).range()) {
                canon.append(CanonicalJson.canonical(it.key())).append('\t')
                        .append(CanonicalJson.canonical(it.value())).append('\n');
                text.append("{\"key\":").append(it.key()).append(",\"value\":").append(it.value()).append("}\n");
            }
            tx.commit();
        }
        Files.writeString(out, canon, StandardCharsets.UTF_8);
        Files.writeString(raw, text, StandardCharsets.UTF_8);
    }

    public static void main(String[] a) throws Exception {
        if (a.length == 7 && a[0].equals("write")) {
            write(Path.of(a[1]), a[2], Integer.parseInt(a[3]), Integer.parseInt(a[4]),
                    Integer.parseInt(a[5]), Path.of(a[6]));
        } else if (a.length == 4 && a[0].equals("read")) {
            read(Path.of(a[1]), Path.of(a[2]), Path.of(a[3]));
        } else {
            System.err.println("usage: Interop write DB GROUP ITEMS INCREMENTS COUNTERS START_FILE"
                    + " | read DB OUT_FILE RAW_FILE");
            System.exit(2);
        }
    }
}
