/* Compiled TFRecord framing and plain-scalar decoding for tsvis_live.formats.fastpath.
 *
 * Why: in Python the per-record framing loop and the vectorised layout parse were about half
 * of all ingest time. frame and fast_scalars mirror their numpy twins in pure.py exactly
 * (tests/test_native.py and tests/test_fastpath.py run both on the same inputs). Results go
 * back as bytes objects holding little-endian arrays (numpy.frombuffer on the Python side),
 * so this file needs only the CPython API and the buffer protocol: no NumPy headers.
 *
 *   frame(window, base) -> (end, broken, starts, lengths, skipped)
 *   fast_scalars(window, starts, lengths, tensors) -> (index, kind, wall, step, value, tags, ends)
 *   histograms(window, starts, lengths) -> ...  (in histograms.c)
 *   crc32c(data) -> int   (unmasked, for tests)
 */
#include "wire.h"

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define HAVE_SSE42_PATH 1
#endif

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

enum { KIND_SIMPLE = 1, KIND_TENSOR = 2, KIND_TENSOR_SCALARS = 3 };

/* Value.metadata naming the "scalars" plugin, exactly as TF2, Keras and torch's new style
   write it on a tag's first value: plugin_data{plugin_name: "scalars"}, with or without
   data_class: DATA_CLASS_SCALAR. It follows the tensor (field 9 after field 8). */
static const unsigned char SCALARS_META[2][15] = {
    {0x4a, 0x0b, 0x0a, 0x09, 0x0a, 0x07, 's', 'c', 'a', 'l', 'a', 'r', 's'},
    {0x4a, 0x0d, 0x0a, 0x09, 0x0a, 0x07, 's', 'c', 'a', 'l', 'a', 'r', 's', 0x20, 0x01},
};
static const Py_ssize_t SCALARS_META_LEN[2] = {13, 15};

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

typedef struct {
    int64_t rec;
    double wall, value;
    int64_t step;
    int32_t tag;
    int8_t kind;
} Hit;

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
        int kind = t->kind;
        if (kind == KIND_TENSOR && !tensors) continue;
        if (t->size != rest) { /* a tensor followed by the "scalars" metadata? */
            Py_ssize_t m = rest - t->size;
            int j = m == SCALARS_META_LEN[0] ? 0 : m == SCALARS_META_LEN[1] ? 1 : -1;
            if (kind != KIND_TENSOR || j < 0 || memcmp(v + t->size, SCALARS_META[j], (size_t)m) != 0)
                continue;
            kind = KIND_TENSOR_SCALARS;
        }
        if (memcmp(v, t->tpl, (size_t)t->tpl_len) != 0) continue; /* sizes can coincide */
        if (t->is_double) {
            memcpy(&hit->value, v + t->off, 8);
        } else {
            float f;
            memcpy(&f, v + t->off, 4);
            hit->value = (double)f; /* a signaling NaN comes out quiet, as from protobuf */
        }
        hit->kind = (int8_t)kind;
        return 1;
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

    if (check_records(&sv, &lv, win.len) < 0) goto done;
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
    {"histograms", tsvis_histograms, METH_VARARGS,
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
