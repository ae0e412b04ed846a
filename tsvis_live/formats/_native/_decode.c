/* Compiled TFRecord framing and plain-scalar decoding for tsvis_live.formats.fastpath.
 *
 * Why: in Python the per-record framing loop and the vectorised layout parse were about half
 * of all ingest time. Both functions here mirror the pure-Python ones in fastpath.py exactly
 * (tests/test_native.py and tests/test_fastpath.py run both on the same inputs). Results go
 * back as bytes objects holding little-endian arrays (numpy.frombuffer on the Python side),
 * so this file needs only the CPython API and the buffer protocol: no NumPy headers.
 *
 *   frame(window, base) -> (end, broken, starts, lengths, skipped)
 *   fast_scalars(window, starts, lengths, tensors) -> (index, kind, wall, step, value, tags, ends)
 *   crc32c(data) -> int   (unmasked, for tests)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define HAVE_SSE42_PATH 1
#endif

#define HEADER_SIZE 12
#define FOOTER_SIZE 4
#define MAX_RECORD_SIZE 0x7FFFFFFFULL
#define MASK_DELTA 0xA282EAD8u

/* ---- CRC-32C: SSE4.2 instruction when the CPU has it, slicing-by-8 tables otherwise ---- */

static uint32_t crc_table[8][256];

static void crc_init_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ ((c & 1) ? 0x82F63B78u : 0);
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
}

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

static uint32_t crc_sw(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    while (n >= 8) {
        uint64_t w = le64(p) ^ c;
        c = crc_table[7][w & 0xFF] ^ crc_table[6][(w >> 8) & 0xFF] ^
            crc_table[5][(w >> 16) & 0xFF] ^ crc_table[4][(w >> 24) & 0xFF] ^
            crc_table[3][(w >> 32) & 0xFF] ^ crc_table[2][(w >> 40) & 0xFF] ^
            crc_table[1][(w >> 48) & 0xFF] ^ crc_table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xFF];
    return c ^ 0xFFFFFFFFu;
}

#ifdef HAVE_SSE42_PATH
__attribute__((target("sse4.2"))) static uint32_t crc_hw(const unsigned char *p, size_t n) {
#if defined(__x86_64__)
    uint64_t c = 0xFFFFFFFFu;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
#else
    uint32_t c32 = 0xFFFFFFFFu;
#endif
    while (n >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        c32 = _mm_crc32_u32(c32, w);
        p += 4;
        n -= 4;
    }
    while (n--) c32 = _mm_crc32_u8(c32, *p++);
    return c32 ^ 0xFFFFFFFFu;
}
#endif

static uint32_t (*crc32c)(const unsigned char *, size_t) = crc_sw;

static inline uint32_t masked(uint32_t c) { return ((c >> 15) | (c << 17)) + MASK_DELTA; }

/* ---- a growable array of fixed-size items, handed to Python as a bytes object ---- */

typedef struct {
    char *data;
    Py_ssize_t len, cap, item;
} Vec;

static int vec_push(Vec *v, const void *x) {
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

static PyObject *vec_bytes(Vec *v) {
    return PyBytes_FromStringAndSize(v->data ? v->data : "", v->len * v->item);
}

/* ---- frame: walk the records of a window, checking both CRCs ---- */

static PyObject *frame(PyObject *self, PyObject *args) {
    Py_buffer win;
    long long base;
    if (!PyArg_ParseTuple(args, "y*L", &win, &base)) return NULL;
    const unsigned char *buf = win.buf;
    Py_ssize_t size = win.len, pos = 0, skipped = 0;
    Vec starts = {NULL, 0, 0, 8}, lengths = {NULL, 0, 0, 8};
    PyObject *broken = NULL, *result = NULL;
    int failed = 0;

    Py_BEGIN_ALLOW_THREADS
    while (size - pos >= HEADER_SIZE) {
        uint64_t length = le64(buf + pos);
        if (masked(crc32c(buf + pos, 8)) != le32(buf + pos + 8)) {
            failed = 1;  /* length checksum mismatch */
            break;
        }
        if (length > MAX_RECORD_SIZE) {
            failed = 2;
            break;
        }
        Py_ssize_t start = pos + HEADER_SIZE, end = start + (Py_ssize_t)length + FOOTER_SIZE;
        if (end > size) break;
        if (masked(crc32c(buf + start, (size_t)length)) != le32(buf + end - FOOTER_SIZE)) {
            skipped++;
        } else {
            int64_t s = start, n = (int64_t)length;
            if (vec_push(&starts, &s) || vec_push(&lengths, &n)) {
                failed = -1;
                break;
            }
        }
        pos = end;
    }
    Py_END_ALLOW_THREADS

    if (failed == -1) {
        PyErr_NoMemory();
        goto done;
    }
    if (failed == 1) {
        broken = Py_BuildValue("(LO)", base + (long long)pos, Py_None);
    } else if (failed == 2) {
        broken = Py_BuildValue("(LK)", base + (long long)pos,
                               (unsigned long long)le64(buf + pos));
    } else {
        broken = Py_NewRef(Py_None);
    }
    if (!broken) goto done;
    result = Py_BuildValue("(LONNn)", base + (long long)pos, broken, vec_bytes(&starts),
                           vec_bytes(&lengths), skipped);
    Py_DECREF(broken);
done:
    PyMem_RawFree(starts.data);
    PyMem_RawFree(lengths.data);
    PyBuffer_Release(&win);
    return result;
}

/* ---- fast_scalars: records laid out as one plain scalar, grouped by tag ---- */

enum { KIND_SIMPLE = 1, KIND_TENSOR = 2 };

typedef struct {
    Py_ssize_t size;      /* value bytes after the tag */
    unsigned char tpl[8]; /* template bytes at the start of the value bytes */
    int tpl_len, off, is_double, kind;
} Template;

static const Template TEMPLATES[] = {
    {5, {0x15}, 1, 1, 0, KIND_SIMPLE},
    {12, {0x42, 0x0a, 0x08, 0x01, 0x12, 0x00, 0x2a, 0x04}, 8, 8, 0, KIND_TENSOR},
    {10, {0x42, 0x08, 0x08, 0x01, 0x2a, 0x04}, 6, 6, 0, KIND_TENSOR},
    {16, {0x42, 0x0e, 0x08, 0x02, 0x12, 0x00, 0x32, 0x08}, 8, 8, 1, KIND_TENSOR},
    {14, {0x42, 0x0c, 0x08, 0x02, 0x32, 0x08}, 6, 6, 1, KIND_TENSOR},
};

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
    int64_t rec;
    double wall, value;
    int64_t step;
    int32_t tag;
    int8_t kind;
} Hit;

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

static uint64_t hash_bytes(const unsigned char *p, Py_ssize_t n) {
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

static int table_grow(Table *t) {
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
static int32_t table_id(Table *t, const unsigned char *p, Py_ssize_t n) {
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

/* Parse one record [s, e) as Event{wall_time?, step?, summary{value{tag, number}}}. */
static int parse_scalar(const unsigned char *s, const unsigned char *e, int tensors, Hit *hit,
                        const unsigned char **tag, Py_ssize_t *tag_len) {
    const unsigned char *p = s;
    uint64_t u;
    int k;
    hit->wall = 0.0;
    hit->step = 0;
    if (e - p >= 9 && *p == 0x09) {
        memcpy(&hit->wall, p + 1, 8);
        p += 9;
    }
    if (p < e && *p == 0x10) {
        if (!(k = varint(p + 1, e, 10, &u))) return 0;
        hit->step = (int64_t)u;
        p += 1 + k;
    }
    if (!enclosing(&p, e, 0x2A) || !enclosing(&p, e, 0x0A)) return 0;
    if (p >= e || *p != 0x0A || !(k = varint(p + 1, e, 5, &u))) return 0;
    p += 1 + k;
    if (u > (uint64_t)(e - p)) return 0;
    *tag = p;
    *tag_len = (Py_ssize_t)u;
    Py_ssize_t rest = (e - p) - (Py_ssize_t)u;
    const unsigned char *v = e - rest;
    for (size_t i = 0; i < sizeof(TEMPLATES) / sizeof(TEMPLATES[0]); i++) {
        const Template *t = &TEMPLATES[i];
        if (t->size != rest || (t->kind == KIND_TENSOR && !tensors)) continue;
        if (memcmp(v, t->tpl, (size_t)t->tpl_len) != 0) return 0;
        if (t->is_double) {
            memcpy(&hit->value, v + t->off, 8);
        } else {
            float f;
            memcpy(&f, v + t->off, 4);
            hit->value = (double)f; /* a signaling NaN comes out quiet, as from protobuf */
        }
        hit->kind = (int8_t)t->kind;
        return 1;
    }
    return 0;
}

static int get_i64s(PyObject *obj, Py_buffer *view, const char *what) {
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

static PyObject *fast_scalars(PyObject *self, PyObject *args) {
    Py_buffer win, sv, lv;
    PyObject *starts_obj, *lengths_obj, *result = NULL, *tags = NULL;
    int tensors;
    if (!PyArg_ParseTuple(args, "y*OOp", &win, &starts_obj, &lengths_obj, &tensors)) return NULL;
    if (get_i64s(starts_obj, &sv, "starts") < 0) {
        PyBuffer_Release(&win);
        return NULL;
    }
    if (get_i64s(lengths_obj, &lv, "lengths") < 0) {
        PyBuffer_Release(&sv);
        PyBuffer_Release(&win);
        return NULL;
    }
    Py_ssize_t n = sv.len / 8;
    const int64_t *starts = sv.buf, *lengths = lv.buf;
    const unsigned char *buf = win.buf;
    Vec hits = {NULL, 0, 0, sizeof(Hit)};
    Table table = {NULL, 0, 0};
    int64_t *counts = NULL;
    char *outs[5] = {NULL};
    PyObject *cols[6] = {NULL};
    int failed = 0;

    if (lv.len != sv.len) {
        PyErr_SetString(PyExc_ValueError, "starts and lengths differ in length");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (starts[i] < 0 || lengths[i] < 0 || starts[i] > win.len - lengths[i]) {
            PyErr_SetString(PyExc_ValueError, "a record lies outside the window");
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        Hit hit;
        const unsigned char *tag;
        Py_ssize_t tag_len;
        const unsigned char *s = buf + starts[i], *e = s + lengths[i];
        if (!parse_scalar(s, e, tensors, &hit, &tag, &tag_len)) continue;
        hit.rec = i;
        if ((hit.tag = table_id(&table, tag, tag_len)) < 0 || vec_push(&hits, &hit)) {
            failed = 1;
            break;
        }
    }
    Py_END_ALLOW_THREADS
    if (failed || !(counts = PyMem_RawCalloc((size_t)table.used + 1, 8))) {
        PyErr_NoMemory();
        goto done;
    }
    /* group by tag, in file order within a tag (a counting sort) */
    const Hit *h = (const Hit *)hits.data;
    for (Py_ssize_t i = 0; i < hits.len; i++) counts[h[i].tag + 1]++;
    for (Py_ssize_t t = 0; t < table.used; t++) counts[t + 1] += counts[t];
    static const int sizes[5] = {8, 1, 8, 8, 8};
    for (int c = 0; c < 5; c++) {
        cols[c] = PyBytes_FromStringAndSize(NULL, hits.len * sizes[c]);
        if (!cols[c]) goto done;
        outs[c] = PyBytes_AS_STRING(cols[c]);
    }
    cols[5] = PyBytes_FromStringAndSize(NULL, table.used * 8);
    if (!cols[5]) goto done;
    memcpy(PyBytes_AS_STRING(cols[5]), counts + 1, (size_t)table.used * 8);
    for (Py_ssize_t i = 0; i < hits.len; i++) {
        int64_t j = counts[h[i].tag]++;
        memcpy(outs[0] + 8 * j, &h[i].rec, 8);
        outs[1][j] = (char)h[i].kind;
        memcpy(outs[2] + 8 * j, &h[i].wall, 8);
        memcpy(outs[3] + 8 * j, &h[i].step, 8);
        memcpy(outs[4] + 8 * j, &h[i].value, 8);
    }
    if (!(tags = PyList_New(table.used))) goto done;
    for (Py_ssize_t i = 0; i < table.cap; i++) {
        const Slot *s = &table.slots[i];
        if (!s->ptr) continue;
        PyObject *b = PyBytes_FromStringAndSize((const char *)s->ptr, s->len);
        if (!b) goto done;
        PyList_SET_ITEM(tags, s->id, b);
    }
    result = Py_BuildValue("(OOOOOOO)", cols[0], cols[1], cols[2], cols[3], cols[4], tags,
                           cols[5]);
done:
    for (int c = 0; c < 6; c++) Py_XDECREF(cols[c]);
    Py_XDECREF(tags);
    PyMem_RawFree(counts);
    PyMem_RawFree(hits.data);
    PyMem_RawFree(table.slots);
    PyBuffer_Release(&lv);
    PyBuffer_Release(&sv);
    PyBuffer_Release(&win);
    return result;
}

/* ---- histograms: legacy HistogramProto or a (k, 3) float tensor, computed as events.py does ---- */

enum { H_TENSOR = 1, H_META = 2 };
#define MAX_BUCKETS 4096

typedef struct {
    int64_t rec, step, row;
    double wall, stats[5]; /* min, max, num, sum, sum_squares */
    int32_t tag;
    int8_t flags;
} Histo;

static inline int same_bits(double a, double b) { return memcmp(&a, &b, 8) == 0; }

/* numpy's add.reduce of a float64 vector: the identity plus a pairwise sum (blocks of 8) */
static double pairwise(const double *a, Py_ssize_t n, Py_ssize_t stride) {
    if (n < 8) {
        double r = 0.0;
        for (Py_ssize_t i = 0; i < n; i++) r += a[i * stride];
        return r;
    }
    if (n <= 128) {
        double r[8];
        Py_ssize_t i;
        for (int j = 0; j < 8; j++) r[j] = a[j * stride];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[(i + j) * stride];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i * stride];
        return res;
    }
    Py_ssize_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise(a, n2, stride) + pairwise(a + n2 * stride, n - n2, stride);
}

/* A packed repeated double field `key` at *p (optional): its values and count. */
static int packed(const unsigned char **p, const unsigned char *e, unsigned char key,
                  const unsigned char **vals, Py_ssize_t *count) {
    uint64_t n;
    int k;
    *count = 0;
    if (*p >= e || **p != key) return 1;
    if (!(k = varint(*p + 1, e, 5, &n)) || n % 8 || n > (uint64_t)(e - *p - 1 - k)) return 0;
    *vals = *p + 1 + k;
    *count = (Py_ssize_t)(n / 8);
    *p = *vals + n;
    return 1;
}

/* HistogramProto in field order, each field at most once -> buckets as legacy_histogram. */
static int legacy(const unsigned char *p, const unsigned char *e, Histo *h, Vec *rows) {
    double f[5] = {0, 0, 0, 0, 0};
    for (int i = 0; i < 5; i++) {
        if (p < e && *p == (unsigned char)(((i + 1) << 3) | 1)) {
            if (e - p < 9) return 0;
            memcpy(&f[i], p + 1, 8);
            p += 9;
        }
    }
    const unsigned char *lim = NULL, *cnt = NULL;
    Py_ssize_t nl, nc;
    if (!packed(&p, e, 0x32, &lim, &nl) || !packed(&p, e, 0x3A, &cnt, &nc) || p != e) return 0;
    if (nl != nc || nc > MAX_BUCKETS) return 0;
    memcpy(h->stats, f, sizeof f);
    double lo = f[0], hi = f[1];
    Py_ssize_t start = -1, end = -1;
    for (Py_ssize_t i = 0; i < nc; i++) {
        double c;
        memcpy(&c, cnt + 8 * i, 8);
        if (c > 0) {
            if (start < 0) start = i;
            end = i;
        }
    }
    if (start < 0) return 1;
    int clip = lo <= hi;
    if (clip && lo == hi && !same_bits(lo, hi)) return 0; /* -0.0 and 0.0: numpy's choice */
    for (Py_ssize_t i = start; i <= end; i++) {
        double row[3], c;
        if (i == start) row[0] = lo; else memcpy(&row[0], lim + 8 * (i - 1), 8);
        if (i == end) row[1] = hi; else memcpy(&row[1], lim + 8 * i, 8);
        memcpy(&c, cnt + 8 * i, 8);
        row[2] = c;
        for (int j = 0; clip && j < 2; j++) {
            double x = row[j];
            if (x != x) return 0; /* NaN: leave it to numpy's clip */
            if ((x == lo && !same_bits(x, lo)) || (x == hi && !same_bits(x, hi))) return 0;
            row[j] = x < lo ? lo : (x > hi ? hi : x);
        }
        for (int j = 0; j < 3; j++)
            if (vec_push(rows, &row[j])) return -1;
    }
    return 1;
}

/* TensorProto{dtype: DT_FLOAT|DT_DOUBLE, shape [k, 3], tensor_content} -> tensor_histogram. */
static int tensor_hist(const unsigned char *p, const unsigned char *e, Histo *h, Vec *rows) {
    uint64_t dtype, dims[2], n;
    int k;
    if (p >= e || *p != 0x08 || !(k = varint(p + 1, e, 1, &dtype)) || (dtype != 1 && dtype != 2))
        return 0;
    p += 1 + k;
    if (p >= e || *p != 0x12 || !(k = varint(p + 1, e, 5, &n)) || n > (uint64_t)(e - p - 1 - k))
        return 0;
    p += 1 + k;
    const unsigned char *shape_end = p + n;
    for (int d = 0; d < 2; d++) {
        if (p >= e || *p != 0x12 || !(k = varint(p + 1, shape_end, 1, &n))) return 0;
        p += 1 + k;
        const unsigned char *dim_end = p + n;
        if (dim_end > shape_end || p >= dim_end || *p != 0x08) return 0;
        if (!(k = varint(p + 1, dim_end, 5, &dims[d])) || p + 1 + k != dim_end) return 0;
        p = dim_end;
    }
    if (p != shape_end || dims[1] != 3 || dims[0] == 0 || dims[0] > MAX_BUCKETS) return 0;
    Py_ssize_t size = dtype == 2 ? 8 : 4, count = (Py_ssize_t)dims[0] * 3;
    if (p >= e || *p != 0x22 || !(k = varint(p + 1, e, 5, &n)) || n != (uint64_t)(count * size))
        return 0;
    p += 1 + k;
    if (e - p != (Py_ssize_t)n) return 0;
    Py_ssize_t first = rows->len;
    for (Py_ssize_t i = 0; i < count; i++) {
        double x;
        if (size == 8) {
            memcpy(&x, p + 8 * i, 8);
        } else {
            float f;
            memcpy(&f, p + 4 * i, 4);
            x = (double)f;
        }
        if (!isfinite(x)) return 0;
        if (vec_push(rows, &x)) return -1;
    }
    const double *b = (const double *)rows->data + first;
    Py_ssize_t kk = (Py_ssize_t)dims[0];
    double *mid = PyMem_RawMalloc((size_t)kk * 2 * sizeof(double));
    if (!mid) return -1;
    for (Py_ssize_t i = 0; i < kk; i++) {
        double m = (b[3 * i] + b[3 * i + 1]) / 2;
        mid[i] = m * b[3 * i + 2];
        mid[kk + i] = m * m * b[3 * i + 2];
    }
    h->stats[0] = b[0];
    h->stats[1] = b[3 * kk - 2];
    h->stats[2] = 0.0 + pairwise(b + 2, kk, 3);
    h->stats[3] = 0.0 + pairwise(mid, kk, 1);
    h->stats[4] = 0.0 + pairwise(mid + kk, kk, 1);
    PyMem_RawFree(mid);
    for (int j = 2; j < 5; j++)
        if (h->stats[j] != h->stats[j]) return 0; /* NaN: its payload is numpy's business */
    h->flags |= H_TENSOR;
    return 1;
}

static const unsigned char HIST_META[] = "\x0a\x0c\x0a\x0ahistograms";

/* SummaryMetadata{plugin_data{plugin_name: "histograms"}, data_class?} (and nothing else) */
static int hist_meta(const unsigned char *p, const unsigned char *e) {
    if (e - p < 14 || memcmp(p, HIST_META, 14)) return 0;
    p += 14;
    if (p < e && *p == 0x20) {
        if (e - p < 2 || p[1] >= 0x80) return 0;
        p += 2;
    }
    return p == e;
}

/* Event{wall_time?, step?, summary{value{tag, histo | tensor, metadata?}}} */
static int parse_hist(const unsigned char *s, const unsigned char *e, Histo *h, Vec *rows,
                      const unsigned char **tag, Py_ssize_t *tag_len) {
    const unsigned char *p = s;
    uint64_t u, n;
    int k;
    h->wall = 0.0;
    h->step = 0;
    h->flags = 0;
    memset(h->stats, 0, sizeof h->stats);
    if (e - p >= 9 && *p == 0x09) {
        memcpy(&h->wall, p + 1, 8);
        p += 9;
    }
    if (p < e && *p == 0x10) {
        if (!(k = varint(p + 1, e, 10, &u))) return 0;
        h->step = (int64_t)u;
        p += 1 + k;
    }
    if (!enclosing(&p, e, 0x2A) || !enclosing(&p, e, 0x0A)) return 0;
    if (p >= e || *p != 0x0A || !(k = varint(p + 1, e, 5, &u)) || u > (uint64_t)(e - p - 1 - k))
        return 0;
    p += 1 + k;
    *tag = p;
    *tag_len = (Py_ssize_t)u;
    p += u;
    if (p >= e || (*p != 0x2A && *p != 0x42)) return 0;
    int is_tensor = *p == 0x42;
    if (!(k = varint(p + 1, e, 5, &n)) || n > (uint64_t)(e - p - 1 - k)) return 0;
    const unsigned char *body = p + 1 + k, *body_end = body + n;
    p = body_end;
    if (p < e) {
        if (*p != 0x4A || !(k = varint(p + 1, e, 5, &n)) || (uint64_t)(e - p - 1 - k) != n ||
            !hist_meta(p + 1 + k, e))
            return 0;
        h->flags |= H_META;
    }
    Py_ssize_t rows_before = rows->len;
    int r = is_tensor ? tensor_hist(body, body_end, h, rows) : legacy(body, body_end, h, rows);
    if (r != 1) rows->len = rows_before;
    return r;
}

static PyObject *histograms(PyObject *self, PyObject *args) {
    Py_buffer win, sv, lv;
    PyObject *starts_obj, *lengths_obj, *result = NULL, *tags = NULL;
    if (!PyArg_ParseTuple(args, "y*OO", &win, &starts_obj, &lengths_obj)) return NULL;
    if (get_i64s(starts_obj, &sv, "starts") < 0) {
        PyBuffer_Release(&win);
        return NULL;
    }
    if (get_i64s(lengths_obj, &lv, "lengths") < 0) {
        PyBuffer_Release(&sv);
        PyBuffer_Release(&win);
        return NULL;
    }
    Py_ssize_t n = sv.len / 8;
    const int64_t *starts = sv.buf, *lengths = lv.buf;
    const unsigned char *buf = win.buf;
    Vec hits = {NULL, 0, 0, sizeof(Histo)}, rows = {NULL, 0, 0, 8};
    Table table = {NULL, 0, 0};
    PyObject *cols[7] = {NULL};
    int failed = 0;

    if (lv.len != sv.len) {
        PyErr_SetString(PyExc_ValueError, "starts and lengths differ in length");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (starts[i] < 0 || lengths[i] < 0 || starts[i] > win.len - lengths[i]) {
            PyErr_SetString(PyExc_ValueError, "a record lies outside the window");
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        Histo h;
        const unsigned char *tag;
        Py_ssize_t tag_len;
        const unsigned char *s = buf + starts[i], *e = s + lengths[i];
        h.row = rows.len / 3;
        int r = parse_hist(s, e, &h, &rows, &tag, &tag_len);
        if (r == 0) continue;
        h.rec = i;
        if (r < 0 || (h.tag = table_id(&table, tag, tag_len)) < 0 || vec_push(&hits, &h)) {
            failed = 1;
            break;
        }
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    const Histo *h = (const Histo *)hits.data;
    cols[0] = PyBytes_FromStringAndSize(NULL, hits.len * 8);      /* record */
    cols[1] = PyBytes_FromStringAndSize(NULL, hits.len * 8);      /* step */
    cols[2] = PyBytes_FromStringAndSize(NULL, hits.len * 8 * 6);  /* wall + 5 stats */
    cols[3] = PyBytes_FromStringAndSize(NULL, (hits.len + 1) * 8); /* bucket row bounds */
    cols[4] = PyBytes_FromStringAndSize(NULL, hits.len * 4);      /* tag id */
    cols[5] = PyBytes_FromStringAndSize(NULL, hits.len);          /* flags */
    cols[6] = vec_bytes(&rows);
    for (int c = 0; c < 7; c++)
        if (!cols[c]) goto done;
    for (Py_ssize_t i = 0; i < hits.len; i++) {
        memcpy(PyBytes_AS_STRING(cols[0]) + 8 * i, &h[i].rec, 8);
        memcpy(PyBytes_AS_STRING(cols[1]) + 8 * i, &h[i].step, 8);
        memcpy(PyBytes_AS_STRING(cols[2]) + 48 * i, &h[i].wall, 8);
        memcpy(PyBytes_AS_STRING(cols[2]) + 48 * i + 8, h[i].stats, 40);
        memcpy(PyBytes_AS_STRING(cols[3]) + 8 * i, &h[i].row, 8);
        memcpy(PyBytes_AS_STRING(cols[4]) + 4 * i, &h[i].tag, 4);
        PyBytes_AS_STRING(cols[5])[i] = (char)h[i].flags;
    }
    int64_t last = rows.len / 3;
    memcpy(PyBytes_AS_STRING(cols[3]) + 8 * hits.len, &last, 8);
    if (!(tags = PyList_New(table.used))) goto done;
    for (Py_ssize_t i = 0; i < table.cap; i++) {
        const Slot *s = &table.slots[i];
        if (!s->ptr) continue;
        PyObject *b = PyBytes_FromStringAndSize((const char *)s->ptr, s->len);
        if (!b) goto done;
        PyList_SET_ITEM(tags, s->id, b);
    }
    result = Py_BuildValue("(OOOOOOOO)", cols[0], cols[1], cols[2], cols[3], cols[4], tags,
                           cols[5], cols[6]);
done:
    for (int c = 0; c < 7; c++) Py_XDECREF(cols[c]);
    Py_XDECREF(tags);
    PyMem_RawFree(hits.data);
    PyMem_RawFree(rows.data);
    PyMem_RawFree(table.slots);
    PyBuffer_Release(&lv);
    PyBuffer_Release(&sv);
    PyBuffer_Release(&win);
    return result;
}

static PyObject *py_crc32c(PyObject *self, PyObject *args) {
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "y*", &data)) return NULL;
    uint32_t c = crc32c(data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    return PyLong_FromUnsignedLong(c);
}

static PyObject *py_crc_impl(PyObject *self, PyObject *args) {
    return PyUnicode_FromString(crc32c == crc_sw ? "table" : "sse4.2");
}

static PyObject *py_crc32c_table(PyObject *self, PyObject *args) {
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "y*", &data)) return NULL;
    uint32_t c = crc_sw(data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    return PyLong_FromUnsignedLong(c);
}

static PyMethodDef methods[] = {
    {"frame", frame, METH_VARARGS,
     "frame(window, base) -> (end, broken, starts, lengths, skipped): the records whose both "
     "CRCs hold; broken is None or (offset, implausible length or None for a bad checksum)."},
    {"fast_scalars", fast_scalars, METH_VARARGS,
     "fast_scalars(window, starts, lengths, tensors) -> (index, kind, wall, step, value, tags, "
     "ends): records laid out as one plain scalar, grouped by tag in first-seen order."},
    {"histograms", histograms, METH_VARARGS,
     "histograms(window, starts, lengths) -> (index, step, stats, rows, tag_ids, tags, flags, "
     "buckets): records holding one histogram, computed as events.py computes them."},
    {"crc32c", py_crc32c, METH_VARARGS, "crc32c(data) -> int (unmasked CRC-32C)."},
    {"crc32c_table", py_crc32c_table, METH_VARARGS, "crc32c with the table code (for tests)."},
    {"crc_impl", py_crc_impl, METH_NOARGS, "Which CRC-32C code runs: 'sse4.2' or 'table'."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_decode", .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__decode(void) {
    crc_init_table();
#ifdef HAVE_SSE42_PATH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) crc32c = crc_hw;
#endif
    return PyModule_Create(&module);
}
