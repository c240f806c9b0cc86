package dev.sop.jackson;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sop.InvalidInputException;
import dev.sop.Item;
import dev.sop.JsonStore;
import dev.sop.RangeOption;
import dev.sop.Sop;
import dev.sop.StoreOptions;
import dev.sop.Transaction;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JacksonStoreTest {
    record User(String name, int born, List<String> tags, Map<String, Object> extra) {}

    record Person(String last, long age) {}

    @TempDir
    Path dir;

    @Test
    void typedKeysAndValuesRoundTrip() {
        try (Sop db = Sop.open(dir); Transaction tx = db.beginWrite()) {
            JacksonStore<Long, User> users = JacksonStore.of(tx.createJsonStore("users"), Long.class, User.class);
            User ada = new User("Ada", 1815, List.of("math"), Map.of("nested", Map.of("ok", true)));
            User other = new User("Other", 1, List.of(), Map.of());
            assertTrue(users.put(9007199254740993L, ada));
            assertTrue(users.put(9007199254740992L, other), "2^53 and 2^53 + 1 are two keys");
            assertTrue(users.put(Long.MIN_VALUE, other));
            assertEquals(Optional.of(ada), users.get(9007199254740993L));
            assertEquals(3, users.count());
            assertEquals(List.of(Long.MIN_VALUE, 9007199254740992L, 9007199254740993L),
                    users.stream(null, null).map(Item::key).collect(Collectors.toList()));
            assertEquals(List.of(9007199254740993L),
                    users.stream(9007199254740992L, null, RangeOption.LOW_EXCLUSIVE).map(Item::key)
                            .collect(Collectors.toList()));
            assertTrue(users.remove(Long.MIN_VALUE));
            // What Jackson wrote is the JSON text the store keeps.
            assertEquals(Optional.of("{\"name\":\"Ada\",\"born\":1815,\"tags\":[\"math\"],\"extra\":{\"nested\":{\"ok\":true}}}"),
                    users.store().get("9007199254740993"));
            tx.commit();
        }
    }

    @Test
    void numbersBeyondLongAndDoubles() {
        try (Sop db = Sop.open(dir); Transaction tx = db.beginWrite()) {
            JacksonStore<BigInteger, Double> big = JacksonStore.of(tx.createJsonStore("big"), BigInteger.class,
                    Double.class);
            BigInteger u64max = new BigInteger("18446744073709551615");
            big.put(u64max, 0.1);
            big.put(BigInteger.TWO.pow(63), 1e300);
            assertEquals(Optional.of(0.1), big.get(u64max));
            assertEquals(Optional.of(1e300), big.get(BigInteger.TWO.pow(63)));
            assertEquals(Optional.of("1.0e+300"), big.store().get("9223372036854775808"), "Java's 1.0E300 as SOP writes it");

            JacksonStore<Double, String> doubles = JacksonStore.of(tx.createJsonStore("d"), Double.class, String.class);
            for (double d : new double[] {0.1, -0.0, 4.9e-324, 2e23, 1.0 / 3, -1.5e-10}) {
                doubles.put(d, Double.toString(d));
            }
            assertFalse(doubles.put(0.0, "0.0"), "-0.0 and 0.0 are one key");
            assertEquals(Optional.of("0.0"), doubles.get(-0.0));
            assertEquals(List.of(-1.5e-10, 0.0, 4.9e-324, 0.1, 1.0 / 3, 2e23),
                    doubles.stream(null, null).map(Item::key).collect(Collectors.toList()));
            tx.commit();
        }
    }

    @Test
    void compoundKeysAndGenericTypes() {
        ObjectMapper mapper = new ObjectMapper();
        try (Sop db = Sop.open(dir); Transaction tx = db.beginWrite()) {
            JsonStore raw = tx.createJsonStore("people", "last,age:desc", StoreOptions.defaults());
            JavaType mapType = mapper.getTypeFactory().constructMapType(TreeMap.class, String.class, Integer.class);
            JacksonStore<Person, Map<String, Integer>> people = JacksonStore.of(raw, mapper,
                    mapper.constructType(Person.class), mapType);
            Map<Person, Map<String, Integer>> batch = Map.of(
                    new Person("Lovelace", 36), new TreeMap<>(Map.of("a", 1)),
                    new Person("Lovelace", 60), new TreeMap<>(Map.of("b", 2)),
                    new Person("Babbage", 79), new TreeMap<>(Map.of("c", 3)));
            assertEquals(3, people.putAll(batch));
            assertEquals(List.of(new Person("Babbage", 79), new Person("Lovelace", 60), new Person("Lovelace", 36)),
                    people.stream(null, null).map(Item::key).collect(Collectors.toList()));
            assertEquals(Optional.of(Map.of("b", 2)), people.get(new Person("Lovelace", 60)));

            JacksonStore<String, Integer> wrongType = JacksonStore.of(raw, String.class, Integer.class);
            assertThrows(InvalidInputException.class, () -> wrongType.put("not an object", 1), "the key spec needs objects");
            JacksonStore<Person, Integer> wrongValue = JacksonStore.of(raw, Person.class, Integer.class);
            assertThrows(UncheckedIOException.class, () -> wrongValue.get(new Person("Babbage", 79)),
                    "an object is not an Integer");
        }
    }
}
