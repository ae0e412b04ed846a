/* One-histogram records for tsvis_live.formats.fastpath: the buckets and statistics that
 * events.py's legacy_histogram / tensor_histogram compute, bit for bit (numpy's pairwise sums
 * and clip reproduced; whatever cannot be reproduced exactly is left to protobuf + numpy). */
#include "wire.h"

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

PyObject *tsvis_histograms(PyObject *self, PyObject *args) {
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

    if (check_records(&sv, &lv, win.len) < 0) goto done;
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

