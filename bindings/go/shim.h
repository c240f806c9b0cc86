// The binding's C wrappers (shim.c) over sop.h: one C ABI call each, its
// outputs and, on failure, a malloc'd copy of the thread's error message
// returned by value in a g_res (see cgo.go).
#ifndef SOP_GO_SHIM_H
#define SOP_GO_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include "sop.h"

typedef struct {
	int32_t rc;
	int32_t flag;   // found, valid, done, committed
	uint64_t n;     // counts; the length needed when a buffer was too small
	void *ptr;      // a handle, or a library-owned string or buffer
	size_t len;
	void *ptr2;     // a cursor's value buffer
	size_t len2;
	char *msg;      // malloc'd copy of the error message, or NULL
} g_res;

enum { G_STATS = 1, G_CHECK = 2, G_RECOVER = 3 };
enum { G_FIRST = 0, G_NEXT = 1, G_PREV = 2 };

g_res g_open(const char *path, const char *opts);
g_res g_close(SopDb *db);
g_res g_begin(SopDb *db, int32_t mode);
g_res g_commit_outcome(SopDb *db, const uint8_t *id, uint64_t since);
g_res g_db_report(SopDb *db, int which);
g_res g_commit(SopTx *tx);
g_res g_rollback(SopTx *tx);
g_res g_tx_free(SopTx *tx);
g_res g_tx_id(SopTx *tx, uint8_t *id);
g_res g_list_stores(SopTx *tx);
g_res g_drop_store(SopTx *tx, const char *name);
g_res g_store_info(SopTx *tx, const char *name);
g_res g_store_create(SopTx *tx, int kind, const char *name, const char *spec_or_type, const char *opts);
g_res g_store_open(SopTx *tx, int kind, const char *name);
g_res g_store_close(SopStore *s);
g_res g_store_count(SopStore *s);
g_res g_json_put(SopStore *s, const char *k, const char *v, int32_t mode);
g_res g_json_put_many(SopStore *s, const char *items, int32_t mode);
g_res g_json_remove(SopStore *s, const char *k);
g_res g_json_get(SopStore *s, const char *k, uint8_t *buf, size_t cap);
g_res g_raw_put(SopStore *s, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, int32_t mode);
g_res g_raw_remove(SopStore *s, const uint8_t *k, size_t kl);
g_res g_raw_get(SopStore *s, const uint8_t *k, size_t kl, uint8_t *buf, size_t cap);
g_res g_raw_put_many(SopStore *s, const uint8_t *data, const size_t *lens, size_t count, int32_t mode);
g_res g_cursor_open(SopStore *s, const uint8_t *lo, size_t lol, const uint8_t *hi, size_t hil, uint32_t flags);
g_res g_cursor_free(SopCursor *c);
g_res g_cursor_step(SopCursor *c, int op);
void g_bytes_free2(void *a, size_t al, void *b, size_t bl);
void g_bytes_free(void *p, size_t len, int is_string);

#endif
