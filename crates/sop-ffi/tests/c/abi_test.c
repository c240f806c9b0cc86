/* Exercises every function of SOP's C ABI, including misuse. Built with
 * -fsanitize=address,undefined and run by tests/c_abi.rs:
 *   abi_test <empty folder>
 * Prints one line per failed check and "checks passed: N" at the end; exits 1 if
 * any check failed. */
#include "sop.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks, failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    checks++;                                                                  \
    if (!(cond)) {                                                             \
      failures++;                                                              \
      printf("FAIL line %d: %s (last error: %s)\n", __LINE__, #cond,          \
             sop_last_error_message());                                        \
    }                                                                          \
  } while (0)

/* A call that must return `code`. */
#define EXPECT(code, call) CHECK((call) == (code))
#define OK(call) EXPECT(SOP_OK, call)

static int contains(const char *s, const char *part) {
  return s != NULL && strstr(s, part) != NULL;
}

static char path_buf[4096];
static const char *sub(const char *dir, const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/%s", dir, name);
  return path_buf;
}

static void versions(void) {
  unsigned major, minor, patch;
  CHECK(sscanf(sop_version(), "%u.%u.%u", &major, &minor, &patch) == 3);
  CHECK(sop_abi_version() == SOP_ABI_VERSION);
  CHECK(strcmp(sop_last_error_message(), "") == 0);
  /* Every code is distinct. */
  int codes[] = {SOP_OK, SOP_ERR_RETRY, SOP_ERR_OUTCOME_UNKNOWN, SOP_ERR_POISONED,
                 SOP_ERR_FENCED, SOP_ERR_CORRUPT, SOP_ERR_INVALID_INPUT,
                 SOP_ERR_NOT_FOUND, SOP_ERR_ALREADY_EXISTS, SOP_ERR_IN_USE,
                 SOP_ERR_DISK_FULL, SOP_ERR_IO, SOP_ERR_UNAVAILABLE,
                 SOP_ERR_UNSUPPORTED, SOP_ERR_OTHER, SOP_ERR_BAD_ARGUMENT,
                 SOP_ERR_BAD_HANDLE, SOP_ERR_TX_ENDED, SOP_ERR_PANIC};
  size_t n = sizeof codes / sizeof codes[0];
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) CHECK(codes[i] != codes[j]);
  sop_string_free(NULL);
  sop_bytes_free(NULL, 0);
}

static void json_stores(SopDb *db) {
  SopTx *tx = NULL;
  SopStore *people = NULL, *tags = NULL;
  int32_t done = -1, found = -1;
  uint64_t count = 0;
  char *json = NULL;

  OK(sop_begin(db, SOP_TX_FOR_WRITING, &tx));
  OK(sop_json_store_create(tx, "people", "last,age:desc", "{\"unique\":true}", &people));
  EXPECT(SOP_ERR_ALREADY_EXISTS, sop_json_store_create(tx, "people", NULL, NULL, &tags));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_json_store_create(tx, "x", "last:sideways", NULL, &tags));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_json_store_create(tx, "x", NULL, "{\"unique\":", &tags));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_json_store_create(tx, "x", NULL, "[4, false]", &tags));
  OK(sop_json_store_create(tx, "tags", NULL, NULL, &tags));

  OK(sop_json_put(people, "{\"last\":\"Lovelace\",\"age\":36}", "{\"first\":\"Ada\"}", SOP_PUT_ADD, &done));
  CHECK(done == 1);
  OK(sop_json_put(people, "{\"last\":\"Lovelace\",\"age\":36}", "{\"first\":\"X\"}", SOP_PUT_ADD, &done));
  CHECK(done == 0); /* unique: not replaced */
  OK(sop_json_put(people, "{\"last\":\"Lovelace\",\"age\":36}", "{\"first\":\"Y\"}", SOP_PUT_ADD_IF_ABSENT, &done));
  CHECK(done == 0);
  OK(sop_json_put(people, "{\"last\":\"Hopper\",\"age\":85}", "{\"first\":\"Grace\"}", SOP_PUT_UPDATE, &done));
  CHECK(done == 0); /* nothing to update */
  OK(sop_json_put(people, "{\"last\":\"Hopper\",\"age\":85}", "{\"first\":\"G\"}", SOP_PUT_UPSERT, &done));
  CHECK(done == 1); /* inserted */
  OK(sop_json_put(people, "{\"last\":\"Hopper\",\"age\":85}", "{\"first\":\"Grace\"}", SOP_PUT_UPDATE, &done));
  CHECK(done == 1);
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_json_put(people, "1", "2", 99, &done));

  /* A key that does not fit the key spec (not an object), invalid JSON, invalid UTF-8. */
  done = -1;
  EXPECT(SOP_ERR_INVALID_INPUT, sop_json_put(people, "42", "{}", SOP_PUT_ADD, &done));
  CHECK(done == -1); /* outputs are written only on success */
  CHECK(strlen(sop_last_error_message()) > 0);
  EXPECT(SOP_ERR_INVALID_INPUT, sop_json_put(people, "{\"last\":", "{}", SOP_PUT_ADD, &done));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_json_put(people, "\"\xff\xfe\"", "{}", SOP_PUT_ADD, &done));
  CHECK(contains(sop_last_error_message(), "UTF-8"));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_json_put(people, NULL, "{}", SOP_PUT_ADD, &done));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_json_put(people, "{\"last\":\"A\"}", "{}", SOP_PUT_ADD, NULL));
  /* Primitives only in a store without a spec. */
  EXPECT(SOP_ERR_INVALID_INPUT, sop_json_put(tags, "{\"a\":1}", "1", SOP_PUT_ADD, &done));

  /* Batch. */
  OK(sop_json_put_many(people,
                       "[[{\"last\":\"Turing\",\"age\":41},{\"first\":\"Alan\"}],"
                       " [{\"last\":\"Knuth\",\"age\":88},{\"first\":\"Donald\"}],"
                       " [{\"last\":\"Knuth\",\"age\":20},{\"first\":\"Young\"}]]",
                       SOP_PUT_ADD, &count));
  CHECK(count == 3);
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_json_put_many(people, "{}", SOP_PUT_ADD, &count));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_json_put_many(people, "[[1]]", SOP_PUT_ADD, &count));
  EXPECT(SOP_ERR_INVALID_INPUT, sop_json_put_many(tags, "[[\"a\",1],[[1],2]]", SOP_PUT_ADD, &count));
  CHECK(contains(sop_last_error_message(), "item 1"));

  OK(sop_store_count(people, &count));
  CHECK(count == 5);
  OK(sop_json_get(people, "{\"last\":\"Hopper\",\"age\":85}", &found, &json));
  CHECK(found == 1 && strcmp(json, "{\"first\":\"Grace\"}") == 0);
  sop_string_free(json);
  json = (char *)1;
  OK(sop_json_get(people, "{\"last\":\"Nobody\",\"age\":1}", &found, &json));
  CHECK(found == 0 && json == NULL);
  OK(sop_json_remove(people, "{\"last\":\"Turing\",\"age\":41}", &done));
  CHECK(done == 1);
  OK(sop_json_remove(people, "{\"last\":\"Turing\",\"age\":41}", &done));
  CHECK(done == 0);

  /* Cursors: ascending over the whole store; "age:desc" orders Knuth 88 first. */
  SopCursor *c = NULL;
  int32_t valid = -1;
  uint8_t *p = NULL;
  size_t len = 0;
  OK(sop_cursor_open(people, NULL, 0, NULL, 0, 0, &c));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_cursor_key(c, &p, &len)); /* not on an item */
  OK(sop_cursor_first(c, &valid));
  CHECK(valid == 1);
  OK(sop_cursor_key(c, &p, &len));
  CHECK(len == strlen((char *)p) && strcmp((char *)p, "{\"last\":\"Hopper\",\"age\":85}") == 0);
  sop_bytes_free(p, len);
  OK(sop_cursor_next(c, &valid));
  OK(sop_cursor_key(c, &p, &len));
  CHECK(strcmp((char *)p, "{\"last\":\"Knuth\",\"age\":88}") == 0);
  sop_bytes_free(p, len);
  OK(sop_cursor_value(c, &p, &len));
  CHECK(strcmp((char *)p, "{\"first\":\"Donald\"}") == 0);
  sop_bytes_free(p, len);
  OK(sop_cursor_next(c, &valid));
  OK(sop_cursor_key(c, &p, &len));
  CHECK(strcmp((char *)p, "{\"last\":\"Knuth\",\"age\":20}") == 0);
  sop_bytes_free(p, len);
  OK(sop_cursor_prev(c, &valid));
  CHECK(valid == 1);
  OK(sop_cursor_value(c, &p, &len));
  CHECK(strcmp((char *)p, "{\"first\":\"Donald\"}") == 0);
  sop_bytes_free(p, len);
  const char *seek = "{\"last\":\"L\"}";
  OK(sop_cursor_seek(c, (const uint8_t *)seek, strlen(seek), &valid));
  CHECK(valid == 1);
  OK(sop_cursor_value(c, &p, &len));
  CHECK(strcmp((char *)p, "{\"first\":\"Ada\"}") == 0);
  sop_bytes_free(p, len);
  OK(sop_cursor_next(c, &valid));
  CHECK(valid == 0);
  OK(sop_cursor_next(c, &valid));
  CHECK(valid == 0);
  EXPECT(SOP_ERR_INVALID_INPUT, sop_cursor_seek(c, (const uint8_t *)"7", 1, &valid));
  OK(sop_cursor_free(c));
  EXPECT(SOP_ERR_BAD_HANDLE, sop_cursor_free(c));
  EXPECT(SOP_ERR_BAD_HANDLE, sop_cursor_next(c, &valid));

  /* Descending between bounds, the upper one excluded: Knuth 20, Knuth 88. */
  const char *lo = "{\"last\":\"K\"}", *hi = "{\"last\":\"Lovelace\",\"age\":36}";
  OK(sop_cursor_open(people, (const uint8_t *)lo, strlen(lo), (const uint8_t *)hi, strlen(hi),
                     SOP_CURSOR_DESC | SOP_CURSOR_HI_EXCLUSIVE, &c));
  OK(sop_cursor_first(c, &valid));
  CHECK(valid == 1);
  OK(sop_cursor_key(c, &p, &len));
  CHECK(strcmp((char *)p, "{\"last\":\"Knuth\",\"age\":20}") == 0);
  sop_bytes_free(p, len);
  OK(sop_cursor_next(c, &valid));
  CHECK(valid == 1);
  OK(sop_cursor_key(c, &p, &len));
  CHECK(strcmp((char *)p, "{\"last\":\"Knuth\",\"age\":88}") == 0);
  sop_bytes_free(p, len);
  OK(sop_cursor_next(c, &valid));
  CHECK(valid == 0);
  OK(sop_cursor_free(c));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_cursor_open(people, NULL, 0, NULL, 0, 64, &c));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_cursor_open(people, NULL, 5, NULL, 0, 0, NULL));
  EXPECT(SOP_ERR_BAD_ARGUMENT,
         sop_cursor_open(people, (const uint8_t *)"\"\xff\"", 3, NULL, 0, 0, &c));

  /* Catalog. */
  OK(sop_tx_list_stores(tx, &json));
  CHECK(strcmp(json, "[\"people\",\"tags\"]") == 0);
  sop_string_free(json);
  OK(sop_tx_store_info(tx, "people", &json));
  CHECK(contains(json, "\"count\":4") && contains(json, "\"key_type\":\"json\""));
  sop_string_free(json);
  EXPECT(SOP_ERR_NOT_FOUND, sop_tx_store_info(tx, "nobody", &json));
  OK(sop_tx_drop_store(tx, "tags"));
  EXPECT(SOP_ERR_NOT_FOUND, sop_tx_drop_store(tx, "tags"));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_tx_drop_store(tx, NULL));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_raw_put(people, (const uint8_t *)"k", 1, NULL, 0, SOP_PUT_ADD, &done));

  uint8_t id[16];
  uint64_t since = 0;
  OK(sop_tx_id(tx, id, &since));
  OK(sop_tx_commit(tx));
  int32_t committed = -1;
  OK(sop_commit_outcome(db, id, since, &committed));
  CHECK(committed == 1);

  /* Misuse of an ended transaction and of its store. */
  EXPECT(SOP_ERR_TX_ENDED, sop_tx_commit(tx));
  EXPECT(SOP_ERR_TX_ENDED, sop_tx_rollback(tx));
  EXPECT(SOP_ERR_TX_ENDED, sop_store_count(people, &count));
  EXPECT(SOP_ERR_TX_ENDED, sop_json_store_open(tx, "people", &tags));
  OK(sop_tx_id(tx, id, &since)); /* still known after the end */
  EXPECT(SOP_ERR_BAD_HANDLE, sop_tx_commit((SopTx *)(void *)people)); /* mistyped */
  EXPECT(SOP_ERR_BAD_HANDLE, sop_close((SopDb *)(void *)tx));
  OK(sop_store_close(people));
  EXPECT(SOP_ERR_BAD_HANDLE, sop_store_close(people));
  EXPECT(SOP_ERR_BAD_HANDLE, sop_store_count(people, &count)); /* use after close */
  OK(sop_tx_free(tx));
  EXPECT(SOP_ERR_BAD_HANDLE, sop_tx_free(tx));
  EXPECT(SOP_ERR_BAD_HANDLE, sop_tx_commit(tx));

  /* Read back; commit after rollback; a store that outlives its transaction. */
  OK(sop_begin(db, SOP_TX_FOR_READING, &tx));
  OK(sop_json_store_open(tx, "people", &people));
  EXPECT(SOP_ERR_NOT_FOUND, sop_json_store_open(tx, "tags", &tags));
  OK(sop_store_count(people, &count));
  CHECK(count == 4);
  EXPECT(SOP_ERR_INVALID_INPUT, sop_json_put(people, "{\"last\":\"Z\"}", "1", SOP_PUT_ADD, &done));
  OK(sop_cursor_open(people, NULL, 0, NULL, 0, 0, &c));
  OK(sop_tx_rollback(tx));
  EXPECT(SOP_ERR_TX_ENDED, sop_tx_commit(tx));
  EXPECT(SOP_ERR_TX_ENDED, sop_cursor_first(c, &valid));
  OK(sop_tx_free(tx));
  EXPECT(SOP_ERR_TX_ENDED, sop_json_get(people, "{\"last\":\"A\"}", &found, &json));
  OK(sop_cursor_free(c));
  OK(sop_store_close(people));
}

static void raw_stores(SopDb *db) {
  SopTx *tx = NULL;
  SopStore *s = NULL, *j = NULL;
  int32_t done = -1, found = -1, valid = -1;
  uint64_t count = 0;
  uint8_t *p = NULL;
  size_t len = 0;
  char *json = NULL;

  OK(sop_begin(db, SOP_TX_FOR_WRITING, &tx));
  OK(sop_raw_store_create(tx, "bytes", NULL, NULL, &s));
  const uint8_t k1[] = {0x00, 0xff, 0x10}, v1[] = {1, 2, 3, 0, 4};
  OK(sop_raw_put(s, k1, sizeof k1, v1, sizeof v1, SOP_PUT_ADD, &done));
  CHECK(done == 1);
  OK(sop_raw_put(s, k1, sizeof k1, NULL, 0, SOP_PUT_UPSERT, &done));
  CHECK(done == 0); /* replaced */
  OK(sop_raw_get(s, k1, sizeof k1, &found, &p, &len));
  CHECK(found == 1 && len == 0 && p != NULL);
  sop_bytes_free(p, len);
  OK(sop_raw_put(s, k1, sizeof k1, v1, sizeof v1, SOP_PUT_UPDATE, &done));
  OK(sop_raw_get(s, k1, sizeof k1, &found, &p, &len));
  CHECK(found == 1 && len == sizeof v1 && memcmp(p, v1, len) == 0);
  sop_bytes_free(p, len);
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_raw_put(s, NULL, 3, v1, 1, SOP_PUT_ADD, &done));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_json_put(s, "1", "2", SOP_PUT_ADD, &done));
  /* A key longer than the engine allows. */
  static uint8_t big[70000];
  EXPECT(SOP_ERR_INVALID_INPUT, sop_raw_put(s, big, sizeof big, v1, 1, SOP_PUT_ADD, &done));

  /* Batch: keys "k0".."k9", values "v0".."v9". */
  const uint8_t *keys[10], *vals[10];
  size_t klens[10], vlens[10];
  char kb[10][3], vb[10][3];
  for (int i = 0; i < 10; i++) {
    kb[i][0] = 'k';
    vb[i][0] = 'v';
    kb[i][1] = vb[i][1] = (char)('0' + i);
    kb[i][2] = vb[i][2] = 0;
    keys[i] = (const uint8_t *)kb[i];
    vals[i] = (const uint8_t *)vb[i];
    klens[i] = vlens[i] = 2;
  }
  OK(sop_raw_put_many(s, keys, klens, vals, vlens, 10, SOP_PUT_ADD, &count));
  CHECK(count == 10);
  OK(sop_raw_put_many(s, NULL, NULL, NULL, NULL, 0, SOP_PUT_ADD, &count));
  CHECK(count == 0);
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_raw_put_many(s, NULL, klens, vals, vlens, 1, SOP_PUT_ADD, &count));
  OK(sop_store_count(s, &count));
  CHECK(count == 11);
  OK(sop_raw_remove(s, k1, sizeof k1, &done));
  CHECK(done == 1);
  OK(sop_raw_get(s, k1, sizeof k1, &found, &p, &len));
  CHECK(found == 0 && p == NULL);

  /* k3 < key <= k6, descending: k6, k5, k4; seek and prev. */
  SopCursor *c = NULL;
  OK(sop_cursor_open(s, (const uint8_t *)"k3", 2, (const uint8_t *)"k6", 2,
                     SOP_CURSOR_DESC | SOP_CURSOR_LO_EXCLUSIVE, &c));
  char seen[16] = "";
  OK(sop_cursor_first(c, &valid));
  while (valid == 1) {
    OK(sop_cursor_value(c, &p, &len));
    strncat(seen, (char *)p, len);
    sop_bytes_free(p, len);
    OK(sop_cursor_next(c, &valid));
  }
  CHECK(strcmp(seen, "v6v5v4") == 0);
  OK(sop_cursor_seek(c, (const uint8_t *)"k9", 2, &valid)); /* clamps to the range */
  OK(sop_cursor_key(c, &p, &len));
  CHECK(valid == 1 && len == 2 && memcmp(p, "k6", 2) == 0);
  sop_bytes_free(p, len);
  OK(sop_cursor_seek(c, (const uint8_t *)"k5", 2, &valid));
  OK(sop_cursor_prev(c, &valid)); /* against the direction: up */
  OK(sop_cursor_key(c, &p, &len));
  CHECK(valid == 1 && memcmp(p, "k6", 2) == 0);
  sop_bytes_free(p, len);
  OK(sop_cursor_prev(c, &valid));
  CHECK(valid == 0); /* k7 is out of range */
  OK(sop_cursor_free(c));

  /* A JSON store opened at the byte level, and the store handle freed late. */
  OK(sop_json_store_open(tx, "people", &j));
  OK(sop_raw_store_open(tx, "people", &s));
  OK(sop_store_count(s, &count));
  CHECK(count == 4);
  OK(sop_store_close(s));
  OK(sop_tx_store_info(tx, "bytes", &json));
  CHECK(contains(json, "\"key_type\":\"raw-bytes\""));
  sop_string_free(json);
  OK(sop_tx_commit(tx));
  OK(sop_tx_free(tx));
  OK(sop_store_close(j));

  /* A NoCheck transaction reads; freeing a live transaction rolls it back. */
  OK(sop_begin(db, SOP_TX_NO_CHECK, &tx));
  OK(sop_raw_store_open(tx, "bytes", &s));
  OK(sop_store_count(s, &count));
  CHECK(count == 10);
  OK(sop_tx_free(tx));
  OK(sop_store_close(s));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_begin(db, 42, &tx));

  /* A conflict: what a reading transaction read changed before it committed. */
  SopTx *reader = NULL, *writer = NULL;
  SopStore *r = NULL, *w = NULL;
  OK(sop_begin(db, SOP_TX_FOR_READING, &reader));
  OK(sop_raw_store_open(reader, "bytes", &r));
  OK(sop_raw_get(r, (const uint8_t *)"k1", 2, &found, &p, &len));
  CHECK(found == 1);
  sop_bytes_free(p, len);
  OK(sop_begin(db, SOP_TX_FOR_WRITING, &writer));
  OK(sop_raw_store_open(writer, "bytes", &w));
  OK(sop_raw_put(w, (const uint8_t *)"k1", 2, (const uint8_t *)"new", 3, SOP_PUT_UPDATE, &done));
  OK(sop_tx_commit(writer));
  EXPECT(SOP_ERR_RETRY, sop_tx_commit(reader));
  CHECK(strlen(sop_last_error_message()) > 0);
  OK(sop_store_close(r));
  OK(sop_store_close(w));
  OK(sop_tx_free(reader));
  OK(sop_tx_free(writer));
}

/* Threads: four threads commit into one store through one database handle,
 * retrying on conflict; then two threads share one transaction. */
enum { THREADS = 4, PER_THREAD = 25 };
struct worker {
  SopDb *db;
  SopTx *shared;
  int id, errors;
};

static void *commit_many(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < PER_THREAD; i++) {
    uint8_t key[2] = {(uint8_t)w->id, (uint8_t)i};
    for (int attempt = 0;; attempt++) {
      SopTx *tx = NULL;
      SopStore *s = NULL;
      int32_t done = 0;
      if (sop_begin(w->db, SOP_TX_FOR_WRITING, &tx) != SOP_OK) { w->errors++; break; }
      int rc = sop_raw_store_open(tx, "shared", &s);
      if (rc == SOP_OK) rc = sop_raw_put(s, key, 2, key, 2, SOP_PUT_ADD, &done);
      if (rc == SOP_OK) rc = sop_tx_commit(tx);
      if (s != NULL) sop_store_close(s);
      sop_tx_free(tx);
      if (rc == SOP_OK) break;
      if (rc != SOP_ERR_RETRY || attempt > 1000) { w->errors++; break; }
    }
  }
  return NULL;
}

static void *put_shared(void *arg) {
  struct worker *w = arg;
  SopStore *s = NULL;
  if (sop_raw_store_open(w->shared, "shared", &s) != SOP_OK) { w->errors++; return NULL; }
  for (int i = 0; i < PER_THREAD; i++) {
    uint8_t key[3] = {0xee, (uint8_t)w->id, (uint8_t)i};
    int32_t done = 0;
    if (sop_raw_put(s, key, 3, key, 3, SOP_PUT_ADD, &done) != SOP_OK || done != 1) w->errors++;
  }
  if (sop_store_close(s) != SOP_OK) w->errors++;
  return NULL;
}

static void threads(SopDb *db) {
  SopTx *tx = NULL;
  SopStore *s = NULL;
  uint64_t count = 0;
  OK(sop_begin(db, SOP_TX_FOR_WRITING, &tx));
  OK(sop_raw_store_create(tx, "shared", NULL, NULL, &s));
  OK(sop_store_close(s));
  OK(sop_tx_commit(tx));
  OK(sop_tx_free(tx));

  pthread_t t[THREADS];
  struct worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (struct worker){db, NULL, i, 0};
    CHECK(pthread_create(&t[i], NULL, commit_many, &w[i]) == 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    CHECK(w[i].errors == 0);
  }

  OK(sop_begin(db, SOP_TX_FOR_WRITING, &tx));
  for (int i = 0; i < 2; i++) {
    w[i] = (struct worker){db, tx, i, 0};
    CHECK(pthread_create(&t[i], NULL, put_shared, &w[i]) == 0);
  }
  for (int i = 0; i < 2; i++) {
    pthread_join(t[i], NULL);
    CHECK(w[i].errors == 0);
  }
  OK(sop_tx_commit(tx));
  OK(sop_tx_free(tx));

  OK(sop_begin(db, SOP_TX_NO_CHECK, &tx));
  OK(sop_raw_store_open(tx, "shared", &s));
  OK(sop_store_count(s, &count));
  CHECK(count == THREADS * PER_THREAD + 2 * PER_THREAD);
  OK(sop_store_close(s));
  OK(sop_tx_free(tx));
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <empty folder>\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  SopDb *db = NULL, *db2 = NULL;
  SopTx *tx = NULL;
  char *json = NULL;

  versions();

  /* Null pointers and bad options. */
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_open(NULL, NULL, &db));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_open(sub(dir, "db"), NULL, NULL));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_open(sub(dir, "db"), "{\"exclusive\":\"yes\"}", &db));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_open(sub(dir, "db"), "{\"nonsense\":1}", &db));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_open(sub(dir, "db"), "[true]", &db));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_open(sub(dir, "db"), "{\"coordination\":\"carrier pigeon\"}", &db));
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_open("\xff\xfe", NULL, &db));
  EXPECT(SOP_ERR_NOT_FOUND, sop_open(sub(dir, "missing"), "{\"create\":false}", &db));
  CHECK(db == NULL);
  EXPECT(SOP_ERR_BAD_HANDLE, sop_close(NULL));
  EXPECT(SOP_ERR_BAD_HANDLE, sop_begin(NULL, SOP_TX_FOR_WRITING, &tx));
  EXPECT(SOP_ERR_BAD_HANDLE, sop_tx_commit(NULL));
  uint64_t n = 0;
  EXPECT(SOP_ERR_BAD_HANDLE, sop_store_count(NULL, &n));
  EXPECT(SOP_ERR_BAD_HANDLE, sop_cursor_first(NULL, &(int32_t){0}));
  /* A pointer that was never a handle is reported, not dereferenced. */
  EXPECT(SOP_ERR_BAD_HANDLE, sop_tx_commit((SopTx *)(void *)&tx));

  OK(sop_open(sub(dir, "db"), "{\"coordination\":\"standalone\",\"cache_bytes\":1048576}", &db));
  json_stores(db);
  raw_stores(db);
  threads(db);

  OK(sop_stats(db, &json));
  CHECK(contains(json, "\"name\":\"people\"") && contains(json, "\"head\":"));
  sop_string_free(json);
  OK(sop_check(db, &json));
  CHECK(contains(json, "\"ok\":true"));
  sop_string_free(json);
  OK(sop_recover(db, &json));
  CHECK(contains(json, "\"dead_processes\":0"));
  sop_string_free(json);
  EXPECT(SOP_ERR_BAD_ARGUMENT, sop_stats(db, NULL));

  /* Closing with a live transaction: reported, the handle released anyway. */
  OK(sop_begin(db, SOP_TX_FOR_READING, &tx));
  EXPECT(SOP_ERR_IN_USE, sop_close(db));
  EXPECT(SOP_ERR_BAD_HANDLE, sop_close(db));
  EXPECT(SOP_ERR_BAD_HANDLE, sop_begin(db, SOP_TX_FOR_READING, &tx));
  OK(sop_tx_free(tx));

  /* Exclusive mode: a second opener is refused while the first is open. */
  OK(sop_open(sub(dir, "db"), "{\"exclusive\":true}", &db));
  EXPECT(SOP_ERR_IN_USE, sop_open(sub(dir, "db"), NULL, &db2));
  OK(sop_begin(db, SOP_TX_FOR_READING, &tx));
  SopStore *s = NULL;
  uint64_t count = 0;
  OK(sop_json_store_open(tx, "people", &s));
  OK(sop_store_count(s, &count));
  CHECK(count == 4);
  OK(sop_store_close(s));
  OK(sop_tx_commit(tx));
  OK(sop_tx_free(tx));
  OK(sop_close(db));
  EXPECT(SOP_ERR_BAD_HANDLE, sop_close(db));
  CHECK(strlen(sop_last_error_message()) > 0);

  printf("checks passed: %d of %d\n", checks - failures, checks);
  return failures == 0 ? 0 : 1;
}
