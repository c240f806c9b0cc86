package dev.sop;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;

/** What the tests need from outside: no test skips when it is missing, it fails. */
final class TestEnv {
    private TestEnv() {}

    /** The test Redis (scripts/java-test.sh starts one; scripts/test.sh exports it). */
    static String redisUrl() {
        return required("SOP_TEST_REDIS_URL", "the URL of a Redis to test Clustered mode against");
    }

    /** The `sop` command-line tool built by the workspace ($CARGO_TARGET_DIR/debug/sop). */
    static Path cli() {
        Path p = Path.of(required("SOP_CLI", "the path of the `sop` binary"));
        if (!Files.isExecutable(p)) {
            fail("SOP_CLI=" + p + " is not an executable file");
        }
        return p;
    }

    private static String required(String name, String what) {
        String v = System.getenv(name);
        // Surefire passes an unset ${env.X} on literally.
        if (v == null || v.isBlank() || v.startsWith("${")) {
            fail(name + " is not set: it must name " + what + " (run scripts/java-test.sh)");
        }
        return v;
    }
}
