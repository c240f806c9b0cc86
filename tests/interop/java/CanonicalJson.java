import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads JSON text into Java values and renders them in the interop test's canonical form
 * (tests/interop/canon.py describes it). The Java binding hands JSON over as text, so Java
 * reads it here: integer syntax is a {@link BigInteger}, any other number a {@code double}
 * from {@link Double#parseDouble}, objects keep their member order.
 */
final class CanonicalJson {
    private final String s;
    private int i;

    private CanonicalJson(String s) {
        this.s = s;
    }

    /** The Java value of one JSON text. */
    static Object parse(String text) {
        CanonicalJson p = new CanonicalJson(text);
        Object v = p.value();
        p.space();
        if (p.i != text.length()) {
            throw p.error("trailing text");
        }
        return v;
    }

    /** The canonical form of one JSON text. */
    static String canonical(String text) {
        StringBuilder b = new StringBuilder();
        render(parse(text), b);
        return b.toString();
    }

    static void render(Object v, StringBuilder b) {
        if (v == null) {
            b.append("null");
        } else if (v instanceof Boolean || v instanceof BigInteger) {
            b.append(v);
        } else if (v instanceof Double d) {
            double x = d;
            boolean negativeZero = Double.doubleToRawLongBits(x) == Long.MIN_VALUE;
            if (x == Math.rint(x) && Math.abs(x) < 0x1p53 && !negativeZero) {
                b.append((long) x);
            } else {
                b.append("d:").append(String.format("%016x", Double.doubleToRawLongBits(x)));
            }
        } else if (v instanceof String str) {
            string(str, b);
        } else if (v instanceof List<?> list) {
            b.append('[');
            for (int k = 0; k < list.size(); k++) {
                if (k > 0) {
                    b.append(',');
                }
                render(list.get(k), b);
            }
            b.append(']');
        } else {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                string((String) e.getKey(), b);
                b.append(':');
                render(e.getValue(), b);
            }
            b.append('}');
        }
    }

    private static void string(String str, StringBuilder b) {
        b.append('"');
        str.codePoints().forEach(c -> {
            if (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\') {
                b.append((char) c);
            } else {
                b.append("\\u{").append(Integer.toHexString(c)).append('}');
            }
        });
        b.append('"');
    }

    private Object value() {
        space();
        if (i >= s.length()) {
            throw error("end of text");
        }
        char c = s.charAt(i);
        switch (c) {
            case '{': {
                i++;
                Map<String, Object> m = new LinkedHashMap<>();
                space();
                if (peek('}')) {
                    return m;
                }
                do {
                    space();
                    String name = str();
                    space();
                    expect(':');
                    m.put(name, value());
                    space();
                } while (peek(','));
                expect('}');
                return m;
            }
            case '[': {
                i++;
                List<Object> l = new ArrayList<>();
                space();
                if (peek(']')) {
                    return l;
                }
                do {
                    l.add(value());
                    space();
                } while (peek(','));
                expect(']');
                return l;
            }
            case '"':
                return str();
            default:
                if (s.startsWith("null", i)) {
                    i += 4;
                    return null;
                }
                if (s.startsWith("true", i)) {
                    i += 4;
                    return Boolean.TRUE;
                }
                if (s.startsWith("false", i)) {
                    i += 5;
                    return Boolean.FALSE;
                }
                return number();
        }
    }

    private Object number() {
        int start = i;
        boolean integer = true;
        while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
            if (".eE".indexOf(s.charAt(i)) >= 0) {
                integer = false;
            }
            i++;
        }
        String lit = s.substring(start, i);
        if (lit.isEmpty()) {
            throw error("a value");
        }
        return integer ? new BigInteger(lit) : Double.valueOf(Double.parseDouble(lit));
    }

    private String str() {
        expect('"');
        StringBuilder b = new StringBuilder();
        while (true) {
            char c = s.charAt(i++);
            if (c == '"') {
                return b.toString();
            }
            if (c != '\\') {
                b.append(c);
                continue;
            }
            char e = s.charAt(i++);
            switch (e) {
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'n' -> b.append('\n');
                case 'r' -> b.append('\r');
                case 't' -> b.append('\t');
                case 'u' -> {
                    b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                    i += 4;
                }
                default -> b.append(e); // " \ /
            }
        }
    }

    private void space() {
        while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) {
            i++;
        }
    }

    private boolean peek(char c) {
        if (i < s.length() && s.charAt(i) == c) {
            i++;
            return true;
        }
        return false;
    }

    private void expect(char c) {
        if (!peek(c)) {
            throw error("'" + c + "'");
        }
    }

    private IllegalArgumentException error(String wanted) {
        return new IllegalArgumentException("JSON: expected " + wanted + " at " + i + " in " + s);
    }
}
