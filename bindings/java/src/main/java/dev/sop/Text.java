package dev.sop;

import com.sun.jna.Pointer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Moving text and bytes across the C ABI. */
final class Text {
    private Text() {}

    /** {@code s} as NUL-terminated UTF-8, or null for null. A NUL inside is refused. */
    static byte[] cString(String s, String what) {
        if (s == null) {
            return null;
        }
        if (s.indexOf('\0') >= 0) {
            throw new BadArgumentException(ErrorCode.BAD_ARGUMENT.code(), what + " contains a NUL character");
        }
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return Arrays.copyOf(b, b.length + 1);
    }

    /** UTF-8 bytes of {@code s}, without a NUL; a NUL inside is refused (text for the C ABI). */
    static byte[] utf8Checked(String s, String what) {
        if (s.indexOf('\0') >= 0) {
            throw new BadArgumentException(ErrorCode.BAD_ARGUMENT.code(), what + " contains a NUL character");
        }
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** UTF-8 bytes of {@code s}, without a NUL (a range bound or cursor key). */
    static byte[] utf8(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    static String fromUtf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    /** A NUL-terminated UTF-8 string the library owns (never freed here). */
    static String borrowed(long p) {
        return p == 0 ? "" : new Pointer(p).getString(0, "UTF-8");
    }

    /** A string the library returned: copied, then freed with {@code sop_string_free}. */
    static String take(long p) {
        if (p == 0) {
            return null;
        }
        try {
            return new Pointer(p).getString(0, "UTF-8");
        } finally {
            SopNative.sop_string_free(p);
        }
    }

    /** A byte buffer the library returned: copied, then freed with {@code sop_bytes_free}. */
    static byte[] takeBytes(long p, long len) {
        if (p == 0) {
            return new byte[0];
        }
        try {
            if (len > Integer.MAX_VALUE - 8) {
                throw new InvalidInputException(ErrorCode.INVALID_INPUT.code(),
                        "a value of " + len + " bytes does not fit a Java array");
            }
            return new Pointer(p).getByteArray(0, (int) len);
        } finally {
            SopNative.sop_bytes_free(p, len);
        }
    }
}
