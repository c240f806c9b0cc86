// The C wrappers of the binding (see shim.h).
#include <stdlib.h>
#include <string.h>
#include "shim.h"


static g_res g_done(g_res r) {
	if (r.rc != SOP_OK) {
		const char *m = sop_last_error_message();
		r.msg = strdup(m ? m : "");
	}
	return r;
}

g_res g_open(const char *path, const char *opts) {
	g_res r = {0}; SopDb *db = NULL;
	r.rc = sop_open(path, opts, &db); r.ptr = db;
	return g_done(r);
}
g_res g_close(SopDb *db) { g_res r = {0}; r.rc = sop_close(db); return g_done(r); }
g_res g_begin(SopDb *db, int32_t mode) {
	g_res r = {0}; SopTx *tx = NULL;
	r.rc = sop_begin(db, mode, &tx); r.ptr = tx;
	return g_done(r);
}
g_res g_commit_outcome(SopDb *db, const uint8_t *id, uint64_t since) {
	g_res r = {0}; int32_t c = 0;
	r.rc = sop_commit_outcome(db, id, since, &c); r.flag = c;
	return g_done(r);
}

// Database reports (stats, check, recover): a JSON string.
g_res g_db_report(SopDb *db, int which) {
	g_res r = {0}; char *s = NULL;
	switch (which) {
	case G_STATS: r.rc = sop_stats(db, &s); break;
	case G_CHECK: r.rc = sop_check(db, &s); break;
	default: r.rc = sop_recover(db, &s); break;
	}
	r.ptr = s;
	return g_done(r);
}

g_res g_commit(SopTx *tx) { g_res r = {0}; r.rc = sop_tx_commit(tx); return g_done(r); }
g_res g_rollback(SopTx *tx) { g_res r = {0}; r.rc = sop_tx_rollback(tx); return g_done(r); }
g_res g_tx_free(SopTx *tx) { g_res r = {0}; r.rc = sop_tx_free(tx); return g_done(r); }
g_res g_tx_id(SopTx *tx, uint8_t *id) {
	g_res r = {0}; uint64_t since = 0;
	r.rc = sop_tx_id(tx, id, &since); r.n = since;
	return g_done(r);
}
g_res g_list_stores(SopTx *tx) {
	g_res r = {0}; char *s = NULL;
	r.rc = sop_tx_list_stores(tx, &s); r.ptr = s;
	return g_done(r);
}
g_res g_drop_store(SopTx *tx, const char *name) {
	g_res r = {0}; r.rc = sop_tx_drop_store(tx, name); return g_done(r);
}
g_res g_store_info(SopTx *tx, const char *name) {
	g_res r = {0}; char *s = NULL;
	r.rc = sop_tx_store_info(tx, name, &s); r.ptr = s;
	return g_done(r);
}

// Stores: kind 1 JSON, 2 bytes.
g_res g_store_create(SopTx *tx, int kind, const char *name, const char *spec_or_type, const char *opts) {
	g_res r = {0}; SopStore *s = NULL;
	if (kind == 1) r.rc = sop_json_store_create(tx, name, spec_or_type, opts, &s);
	else r.rc = sop_raw_store_create(tx, name, spec_or_type, opts, &s);
	r.ptr = s;
	return g_done(r);
}
g_res g_store_open(SopTx *tx, int kind, const char *name) {
	g_res r = {0}; SopStore *s = NULL;
	if (kind == 1) r.rc = sop_json_store_open(tx, name, &s);
	else r.rc = sop_raw_store_open(tx, name, &s);
	r.ptr = s;
	return g_done(r);
}
g_res g_store_close(SopStore *s) { g_res r = {0}; r.rc = sop_store_close(s); return g_done(r); }
g_res g_store_count(SopStore *s) {
	g_res r = {0}; uint64_t n = 0;
	r.rc = sop_store_count(s, &n); r.n = n;
	return g_done(r);
}

// A value the library returned, copied into the caller's buffer when it fits
// (and freed: one cgo call for a get); otherwise handed over in ptr/len (the
// caller copies it and frees it with g_bytes_free), with n the length.
static void g_take(g_res *r, void *p, size_t len, uint8_t *buf, size_t cap, int is_string) {
	r->n = len;
	if (len <= cap) {
		if (len) memcpy(buf, p, len);
		if (is_string) sop_string_free(p); else sop_bytes_free(p, len);
	} else {
		r->ptr = p; r->len = len;
	}
}

g_res g_json_put(SopStore *s, const char *k, const char *v, int32_t mode) {
	g_res r = {0}; int32_t done = 0;
	r.rc = sop_json_put(s, k, v, mode, &done); r.flag = done;
	return g_done(r);
}
g_res g_json_put_many(SopStore *s, const char *items, int32_t mode) {
	g_res r = {0}; uint64_t n = 0;
	r.rc = sop_json_put_many(s, items, mode, &n); r.n = n;
	return g_done(r);
}
g_res g_json_remove(SopStore *s, const char *k) {
	g_res r = {0}; int32_t done = 0;
	r.rc = sop_json_remove(s, k, &done); r.flag = done;
	return g_done(r);
}
g_res g_json_get(SopStore *s, const char *k, uint8_t *buf, size_t cap) {
	g_res r = {0}; int32_t found = 0; char *v = NULL;
	r.rc = sop_json_get(s, k, &found, &v); r.flag = found;
	if (r.rc == SOP_OK && found) g_take(&r, v, strlen(v), buf, cap, 1);
	return g_done(r);
}

g_res g_raw_put(SopStore *s, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, int32_t mode) {
	g_res r = {0}; int32_t done = 0;
	r.rc = sop_raw_put(s, k, kl, v, vl, mode, &done); r.flag = done;
	return g_done(r);
}
g_res g_raw_remove(SopStore *s, const uint8_t *k, size_t kl) {
	g_res r = {0}; int32_t done = 0;
	r.rc = sop_raw_remove(s, k, kl, &done); r.flag = done;
	return g_done(r);
}
g_res g_raw_get(SopStore *s, const uint8_t *k, size_t kl, uint8_t *buf, size_t cap) {
	g_res r = {0}; int32_t found = 0; uint8_t *v = NULL; size_t vl = 0;
	r.rc = sop_raw_get(s, k, kl, &found, &v, &vl); r.flag = found;
	if (r.rc == SOP_OK && found) g_take(&r, v, vl, buf, cap, 0);
	return g_done(r);
}
// count items, packed in data as key0 value0 key1 value1 ...; lens holds the
// 2*count lengths in the same order. The pointer arrays are built here, in C
// memory, so no Go pointer is stored anywhere.
g_res g_raw_put_many(SopStore *s, const uint8_t *data, const size_t *lens, size_t count, int32_t mode) {
	g_res r = {0}; uint64_t n = 0;
	const uint8_t **keys = NULL, **vals = NULL;
	size_t *klens = NULL, *vlens = NULL;
	if (count > 0) {
		keys = malloc(count * sizeof *keys); vals = malloc(count * sizeof *vals);
		klens = malloc(count * sizeof *klens); vlens = malloc(count * sizeof *vlens);
		if (!keys || !vals || !klens || !vlens) {
			free(keys); free(vals); free(klens); free(vlens);
			r.rc = SOP_ERR_OTHER; r.msg = strdup("out of memory for the batch's pointer arrays");
			return r;
		}
		size_t off = 0;
		for (size_t i = 0; i < count; i++) {
			klens[i] = lens[2 * i]; keys[i] = data + off; off += klens[i];
			vlens[i] = lens[2 * i + 1]; vals[i] = data + off; off += vlens[i];
		}
	}
	r.rc = sop_raw_put_many(s, keys, klens, vals, vlens, count, mode, &n); r.n = n;
	free(keys); free(vals); free(klens); free(vlens);
	return g_done(r);
}

g_res g_cursor_open(SopStore *s, const uint8_t *lo, size_t lol, const uint8_t *hi, size_t hil, uint32_t flags) {
	g_res r = {0}; SopCursor *c = NULL;
	r.rc = sop_cursor_open(s, lo, lol, hi, hil, flags, &c); r.ptr = c;
	return g_done(r);
}
g_res g_cursor_free(SopCursor *c) { g_res r = {0}; r.rc = sop_cursor_free(c); return g_done(r); }

// Move the cursor (0 first, 1 next, 2 prev) and, when it is on an item, fetch
// the key (ptr/len) and the value (ptr2/len2): one cgo call per item. The
// buffers are the library's; the caller copies them and frees both with
// g_bytes_free2.
g_res g_cursor_step(SopCursor *c, int op) {
	g_res r = {0}; int32_t valid = 0;
	switch (op) {
	case G_FIRST: r.rc = sop_cursor_first(c, &valid); break;
	case G_NEXT: r.rc = sop_cursor_next(c, &valid); break;
	default: r.rc = sop_cursor_prev(c, &valid); break;
	}
	r.flag = valid;
	if (r.rc == SOP_OK && valid) {
		uint8_t *k = NULL, *v = NULL; size_t kl = 0, vl = 0;
		r.rc = sop_cursor_key(c, &k, &kl);
		if (r.rc == SOP_OK) {
			r.rc = sop_cursor_value(c, &v, &vl);
			if (r.rc != SOP_OK) { sop_bytes_free(k, kl); k = NULL; kl = 0; }
		}
		r.ptr = k; r.len = kl; r.ptr2 = v; r.len2 = vl;
	}
	return g_done(r);
}

void g_bytes_free2(void *a, size_t al, void *b, size_t bl) {
	sop_bytes_free(a, al); sop_bytes_free(b, bl);
}
void g_bytes_free(void *p, size_t len, int is_string) {
	if (is_string) sop_string_free(p); else sop_bytes_free(p, len);
}
