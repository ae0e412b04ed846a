/* Shared by the C decoder's files: little-endian reads, protobuf varints, growable arrays
 * handed to Python as bytes, and a table of tag bytes (ids in order of first appearance). */
#ifndef TSVIS_WIRE_H
#define TSVIS_WIRE_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#define HEADER_SIZE 12
#define FOOTER_SIZE 4
#define MAX_RECORD_SIZE 0x7FFFFFFFULL
#define MASK_DELTA 0xA282EAD8u

static inline uint64_t le64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint32_t le32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

/* ---- a growable array of fixed-size items, handed to Python as a bytes object ---- */

typedef struct {
    char *data;
    Py_ssize_t len, cap, item;
} Vec;

static inline int vec_push(Vec *v, const void *x) {
    if (v->len == v->cap) {
        Py_ssize_t cap = v->cap ? 2 * v->cap : 1024;
        char *d = PyMem_RawRealloc(v->data, (size_t)(cap * v->item));
        if (!d) return -1;
        v->data = d;
        v->cap = cap;
    }
    memcpy(v->data + v->len * v->item, x, (size_t)v->item);
    v->len++;
    return 0;
}

static inline PyObject *vec_bytes(Vec *v) {
    return PyBytes_FromStringAndSize(v->data ? v->data : "", v->len * v->item);
}

/* A minimal varint of at most `limit` bytes in [p, e); returns its length, 0 if none. */
static inline int varint(const unsigned char *p, const unsigned char *e, int limit,
                         uint64_t *out) {
    uint64_t v = 0;
    for (int k = 0; k < limit && p + k < e; k++) {
        unsigned char b = p[k];
        if (k == 9) {  /* the 10th byte of an int64 holds only its top bit */
            if (b != 1) return 0;
            *out = v | (1ULL << 63);
            return 10;
        }
        v |= (uint64_t)(b & 0x7F) << (7 * k);
        if (b < 0x80) {
            if (k > 0 && b == 0) return 0; /* not minimal: left to protobuf */
            *out = v;
            return k + 1;
        }
    }
    return 0;
}

/* The length-delimited field `key` at *p whose body ends exactly at e. */
static inline int enclosing(const unsigned char **p, const unsigned char *e, unsigned char key) {
    uint64_t n;
    int k;
    if (*p >= e || **p != key || !(k = varint(*p + 1, e, 5, &n))) return 0;
    *p += 1 + k;
    return (uint64_t)(e - *p) == n;
}

typedef struct {
    const unsigned char *ptr;
    Py_ssize_t len;
    uint64_t hash;
    int32_t id;
} Slot;

typedef struct {
    Slot *slots;
    Py_ssize_t cap, used;
} Table;

static inline uint64_t hash_bytes(const unsigned char *p, Py_ssize_t n) {
    uint64_t h = 0xCBF29CE484222325ULL ^ (uint64_t)n;
    while (n >= 8) {
        h = (h ^ le64(p)) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, (size_t)n);
    h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
    return h ^ (h >> 32);
}

static inline int table_grow(Table *t) {
    Py_ssize_t cap = t->cap ? 2 * t->cap : 64;
    Slot *s = PyMem_RawCalloc((size_t)cap, sizeof(Slot));
    if (!s) return -1;
    for (Py_ssize_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].ptr) continue;
        Py_ssize_t j = (Py_ssize_t)(t->slots[i].hash & (uint64_t)(cap - 1));
        while (s[j].ptr) j = (j + 1) & (cap - 1);
        s[j] = t->slots[i];
    }
    PyMem_RawFree(t->slots);
    t->slots = s;
    t->cap = cap;
    return 0;
}

/* The id of a tag (new ids in order of first appearance); -1 when out of memory. */
static inline int32_t table_id(Table *t, const unsigned char *p, Py_ssize_t n) {
    if (2 * (t->used + 1) > t->cap && table_grow(t)) return -1;
    uint64_t h = hash_bytes(p, n);
    Py_ssize_t j = (Py_ssize_t)(h & (uint64_t)(t->cap - 1));
    for (;; j = (j + 1) & (t->cap - 1)) {
        Slot *s = &t->slots[j];
        if (!s->ptr) {
            s->ptr = p ? p : (const unsigned char *)"";
            s->len = n;
            s->hash = h;
            s->id = (int32_t)t->used++;
            return s->id;
        }
        if (s->hash == h && s->len == n && memcmp(s->ptr, p, (size_t)n) == 0) return s->id;
    }
}

/* Every (start, length) record must lie inside the window of `window_len` bytes: otherwise a
   ValueError is set and -1 returned (the Python side hands in what it framed, but a caller's
   mistake must never read out of bounds). */
static inline int check_records(const Py_buffer *sv, const Py_buffer *lv, Py_ssize_t window_len) {
    if (lv->len != sv->len) {
        PyErr_SetString(PyExc_ValueError, "starts and lengths differ in length");
        return -1;
    }
    const int64_t *starts = sv->buf, *lengths = lv->buf;
    for (Py_ssize_t i = 0; i < sv->len / 8; i++) {
        if (starts[i] < 0 || lengths[i] < 0 || starts[i] > window_len - lengths[i]) {
            PyErr_SetString(PyExc_ValueError, "a record lies outside the window");
            return -1;
        }
    }
    return 0;
}

static inline int get_i64s(PyObject *obj, Py_buffer *view, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    const char *f = view->format ? view->format : "B";
    if (view->itemsize != 8 || (strcmp(f, "q") && strcmp(f, "l") && strcmp(f, "<q") &&
                                strcmp(f, "<l") && strcmp(f, "=q") && strcmp(f, "=l"))) {
        PyErr_Format(PyExc_TypeError, "%s must be a contiguous int64 array", what);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyObject *tsvis_histograms(PyObject *self, PyObject *args);

#endif
