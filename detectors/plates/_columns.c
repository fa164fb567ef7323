/* The compiled loop of detectors/plates/sighting.py: a pass of read records into the columns
 * of a ReadBatch.
 *
 * Why C: five list comprehensions, a camera lookup and the plates' normalising, one Python step
 * each a read, were ~1 us a read at a full window, a sixth of the rules' time (py-spy,
 * 2026-12-07); one loop that reuses the records' own objects does it in a fraction of that. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static PyObject *READ_ID, *PLATE, *CAMERA_ID, *EVENT_TIME, *CONFIDENCE;

/* The plate as normalised if it is plain text (1..max_len ASCII letters and digits): the same
 * object when already upper case, else an upper-case copy; None (a new reference) otherwise, for
 * the caller's full normaliser. */
static PyObject *plain_plate(PyObject *text, Py_ssize_t max_len) {
    if (!PyUnicode_Check(text) || !PyUnicode_IS_ASCII(text)) Py_RETURN_NONE;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (n < 1 || n > max_len) Py_RETURN_NONE;
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA(text);
    int lower = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS1 c = s[i];
        if (c >= 'a' && c <= 'z') lower = 1;
        else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) Py_RETURN_NONE;
    }
    if (!lower) return Py_NewRef(text);
    PyObject *upper = PyUnicode_New(n, 127);
    if (upper == NULL) return NULL;
    Py_UCS1 *u = PyUnicode_1BYTE_DATA(upper);
    for (Py_ssize_t i = 0; i < n; i++) u[i] = (s[i] >= 'a' && s[i] <= 'z') ? (Py_UCS1)(s[i] - 32) : s[i];
    return upper;
}

/* columns(reads, cameras: dict, max_len) -> (read_ids, plates, positions, times, confidences, odd)
 *
 * One entry a read in each list: the records' own id, time and confidence objects; the plate if
 * plain (see plain_plate) else None; cameras[camera_id], or None for a camera not there. odd:
 * how many Nones there are (0 for a feed of plain plates from known cameras). */
static PyObject *columns(PyObject *self, PyObject *args) {
    PyObject *reads_arg, *cameras;
    Py_ssize_t max_len;
    if (!PyArg_ParseTuple(args, "OO!n", &reads_arg, &PyDict_Type, &cameras, &max_len)) return NULL;
    PyObject *reads = PySequence_Fast(reads_arg, "columns: reads must be a sequence");
    if (reads == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(reads), odd = 0;
    PyObject *out[5] = {NULL, NULL, NULL, NULL, NULL};
    PyObject *const names[5] = {READ_ID, PLATE, CAMERA_ID, EVENT_TIME, CONFIDENCE};
    for (int c = 0; c < 5; c++)
        if ((out[c] = PyList_New(n)) == NULL) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *read = PySequence_Fast_GET_ITEM(reads, i);
        for (int c = 0; c < 5; c++) {
            PyObject *value = PyObject_GetAttr(read, names[c]);
            if (value == NULL) goto fail;
            if (c == 1) {
                PyObject *plate = plain_plate(value, max_len);
                Py_DECREF(value);
                if (plate == NULL) goto fail;
                odd += plate == Py_None;
                value = plate;
            } else if (c == 2) {
                PyObject *position = PyDict_GetItemWithError(cameras, value);
                Py_DECREF(value);
                if (position == NULL && PyErr_Occurred()) goto fail;
                odd += position == NULL;
                value = Py_NewRef(position ? position : Py_None);
            }
            PyList_SET_ITEM(out[c], i, value);
        }
    }
    Py_DECREF(reads);
    return Py_BuildValue("NNNNNn", out[0], out[1], out[2], out[3], out[4], odd);
fail:
    Py_DECREF(reads);
    for (int c = 0; c < 5; c++) Py_XDECREF(out[c]);
    return NULL;
}

/* -- decode_batch: a batch message's bytes straight into the columns -------------------------
 *
 * Why: msgspec decodes a read into a struct (~0.65 us), columns() then takes it apart (~0.3 us)
 * and the struct is freed; most reads are never looked at as a record again. This parses the
 * common shape of a batch straight into the columns. It is a fast path only: anything it does
 * not take exactly as the schema's decoder would (an escape or a byte outside printable ASCII in
 * a string, a number it would not parse the same way, an unknown, missing or repeated field, a
 * value out of range) makes it return None, and the caller decodes the message as before. */

typedef struct {
    const char *p, *end;
} Cursor;

static inline void skip_ws(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

static inline int take(Cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* PLAIN[b]: byte b may stand for itself in a string the fast path takes (printable ASCII but the
 * quote and the backslash); filled in by the module's init. */
static unsigned char PLAIN[256];

/* A string of printable ASCII without escapes: its bytes (start, length). */
static int take_string(Cursor *c, const char **start, Py_ssize_t *len) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != '"') return 0;
    const char *q = ++c->p;
    while (q < c->end && PLAIN[(unsigned char)*q]) q++;
    if (q >= c->end || *q != '"') return 0;
    *start = c->p;
    *len = q - c->p;
    c->p = q + 1;
    return 1;
}

static inline int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static const double POWERS_OF_TEN[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const long double POWERS_OF_TEN_LONG[] = {
    1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L, 1e11L,
    1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L};

/* A JSON number (RFC 8259 grammar), as a double; *integral: no fraction or exponent.
 *
 * Correctly rounded, as msgspec's: a plain decimal of at most 15 digits (a confidence, a
 * timestamp in ms) is its digits, exact in a double, over an exact power of ten, one rounding
 * (Clinger's fast path); 16-19 digits see below; any other goes through CPython's strtod. */
static int take_number(Cursor *c, double *value, int *integral) {
    skip_ws(c);
    const char *s = c->p, *q = s, *end = c->end;
    int negative = q < end && *q == '-';
    q += negative;
    if (q >= end || !is_digit(*q)) return 0;
    uint64_t digits = 0;
    int count = 0, scale = 0;
    if (*q == '0') q++;
    else
        for (; q < end && is_digit(*q); q++, count++) digits = digits * 10 + (uint64_t)(*q - '0');
    *integral = 1;
    if (q < end && *q == '.') {
        q++;
        if (q >= end || !is_digit(*q)) return 0;
        for (; q < end && is_digit(*q); q++, count++, scale++) digits = digits * 10 + (uint64_t)(*q - '0');
        *integral = 0;
    }
    int exponent = 0;
    if (q < end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < end && (*q == '+' || *q == '-')) q++;
        if (q >= end || !is_digit(*q)) return 0;
        while (q < end && is_digit(*q)) q++;
        *integral = 0;
        exponent = 1;
    }
    if (!exponent && count <= 15 && scale <= 22) {
        double v = (double)digits;
        if (scale) v /= POWERS_OF_TEN[scale];
        *value = negative ? -v : v;
        c->p = q;
        return 1;
    }
#if LDBL_MANT_DIG >= 64
    /* 16-19 digits (Python writes a timestamp's repr with 17): the digits are exact in an x87 long
     * double, and so is the power of ten; the quotient is rounded once to 64 bits and once more to
     * 53. The second rounding can only go wrong if the first landed exactly halfway between two
     * doubles: then strtod decides. */
    if (!exponent && count <= 19 && scale <= 22) {
        long double exact = (long double)digits;
        if (scale) exact /= POWERS_OF_TEN_LONG[scale];
        double v = (double)exact;
        if (exact != ((long double)v + (long double)nextafter(v, INFINITY)) / 2
            && exact != ((long double)v + (long double)nextafter(v, -INFINITY)) / 2) {
            *value = negative ? -v : v;
            c->p = q;
            return 1;
        }
    }
#endif
    char buf[40];
    if (q - s >= (Py_ssize_t)sizeof buf) return 0;  /* more digits than a double holds: the slow path */
    memcpy(buf, s, q - s);
    buf[q - s] = '\0';
    char *stop;
    *value = PyOS_string_to_double(buf, &stop, NULL);  /* correctly rounded */
    if (*value == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (stop != buf + (q - s) || !isfinite(*value)) return 0;
    c->p = q;
    return 1;
}

/* A string (see take_string) of min..max characters. */
static inline int take_text(Cursor *c, const char **start, Py_ssize_t *len, Py_ssize_t min, Py_ssize_t max) {
    return take_string(c, start, len) && *len >= min && *len <= max;
}

/* A number (see take_number) in low..high. */
static inline int take_number_in(Cursor *c, double *value, double low, double high) {
    int integral;
    return take_number(c, value, &integral) && *value >= low && *value <= high;
}

static inline int take_null(Cursor *c) {
    skip_ws(c);
    if (c->end - c->p >= 4 && memcmp(c->p, "null", 4) == 0) {
        c->p += 4;
        return 1;
    }
    return 0;
}

static inline int take_one(Cursor *c) { /* the literal 1 of schema_version */
    double v;
    int integral;
    return take_number(c, &v, &integral) && integral && v == 1.0;
}

static inline int key_is(const char *s, Py_ssize_t n, const char *name) {
    return (size_t)n == strlen(name) && memcmp(s, name, n) == 0;
}

static PyObject *ascii_text(const char *s, Py_ssize_t n) {
    PyObject *text = PyUnicode_New(n, 127);
    if (text != NULL) memcpy(PyUnicode_1BYTE_DATA(text), s, n);
    return text;
}

enum { F_READ_ID = 1, F_PLATE = 2, F_CONFIDENCE = 4, F_CAMERA = 8, F_TIME = 16, F_REQUIRED = 31,
       F_VERSION = 32, F_LANE = 64, F_DIRECTION = 128, F_COUNTRY = 256, F_IMAGE = 512 };

typedef struct {
    const char *id, *plate, *camera;
    Py_ssize_t id_len, plate_len, camera_len;
    double time, confidence;
} ReadFields;

/* One read object; 0 if the fast path does not take it. */
static int take_read(Cursor *c, ReadFields *r) {
    if (!take(c, '{')) return 0;
    int seen = 0;
    if (take(c, '}')) return 0;  /* no fields: not a read */
    for (;;) {
        const char *key;
        Py_ssize_t key_len;
        if (!take_string(c, &key, &key_len) || !take(c, ':')) return 0;
        int field;
        const char *s;
        Py_ssize_t n;
        double v;
        int integral;
        if (key_is(key, key_len, "read_id")) {
            field = F_READ_ID;
            if (!take_text(c, &r->id, &r->id_len, 1, 128)) return 0;
        } else if (key_is(key, key_len, "plate")) {
            field = F_PLATE;
            if (!take_text(c, &r->plate, &r->plate_len, 1, 16)) return 0;
        } else if (key_is(key, key_len, "confidence")) {
            field = F_CONFIDENCE;
            if (!take_number_in(c, &r->confidence, 0.0, 1.0)) return 0;
        } else if (key_is(key, key_len, "camera_id")) {
            field = F_CAMERA;
            if (!take_text(c, &r->camera, &r->camera_len, 1, 64)) return 0;
        } else if (key_is(key, key_len, "event_time")) {
            field = F_TIME;
            if (!take_number_in(c, &r->time, 946684800.0, 4102444800.0)) return 0;
        } else if (key_is(key, key_len, "schema_version")) {
            field = F_VERSION;
            if (!take_one(c)) return 0;
        } else if (key_is(key, key_len, "lane")) {
            field = F_LANE;
            if (!take_null(c) && !(take_number(c, &v, &integral) && integral && v >= 0.0 && v <= 32.0)) return 0;
        } else if (key_is(key, key_len, "direction")) {
            field = F_DIRECTION;
            if (!take_null(c) && !(take_string(c, &s, &n) && (key_is(s, n, "towards") || key_is(s, n, "away")
                                                             || key_is(s, n, "unknown"))))
                return 0;
        } else if (key_is(key, key_len, "country")) {
            field = F_COUNTRY;
            if (!take_null(c) && !take_text(c, &s, &n, 2, 3)) return 0;
        } else if (key_is(key, key_len, "image_ref")) {
            field = F_IMAGE;
            if (!take_null(c) && !take_text(c, &s, &n, 0, 512)) return 0;
        } else {
            return 0;
        }
        if (seen & field) return 0;  /* a repeated field */
        seen |= field;
        if (take(c, '}')) break;
        if (!take(c, ',')) return 0;
    }
    return (seen & F_REQUIRED) == F_REQUIRED;
}

/* decode_batch(raw, cameras: dict, max_len) -> (read_ids, plates, positions, times, confidences, odd,
 * spans) or None
 *
 * The first six as columns() gives them for the decoded reads; spans: bytes of (start, end) int64
 * offsets of each read's object in raw, to decode a read as a record when one is wanted. */
static PyObject *decode_batch(PyObject *self, PyObject *args) {
    Py_buffer raw;
    PyObject *cameras;
    Py_ssize_t max_len;
    if (!PyArg_ParseTuple(args, "y*O!n", &raw, &PyDict_Type, &cameras, &max_len)) return NULL;
    Cursor c = {(const char *)raw.buf, (const char *)raw.buf + raw.len};
    PyObject *out[5] = {NULL, NULL, NULL, NULL, NULL}, *spans = NULL, *result = NULL;
    Py_ssize_t n = 0, capacity = 64, odd = 0;
    int64_t *offsets = NULL;
    int seen_reads = 0, seen_version = 0, ok = 0;
    for (int k = 0; k < 5; k++)
        if ((out[k] = PyList_New(0)) == NULL) goto done;
    if ((offsets = PyMem_Malloc(capacity * 2 * sizeof(int64_t))) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (!take(&c, '{')) goto done;
    for (;;) {
        const char *key;
        Py_ssize_t key_len;
        if (!take_string(&c, &key, &key_len) || !take(&c, ':')) goto done;
        if (key_is(key, key_len, "schema_version") && !seen_version) {
            seen_version = 1;
            if (!take_one(&c)) goto done;
        } else if (key_is(key, key_len, "reads") && !seen_reads) {
            seen_reads = 1;
            if (!take(&c, '[') || take(&c, ']')) goto done;
            for (;;) {
                ReadFields r;
                skip_ws(&c);
                const char *start = c.p;
                if (!take_read(&c, &r)) goto done;
                if (++n > 5000) goto done;  /* MAX_BATCH_READS: the slow path says so */
                if (n > capacity) {
                    capacity *= 2;
                    int64_t *grown = PyMem_Realloc(offsets, capacity * 2 * sizeof(int64_t));
                    if (grown == NULL) {
                        PyErr_NoMemory();
                        goto done;
                    }
                    offsets = grown;
                }
                offsets[2 * (n - 1)] = start - (const char *)raw.buf;
                offsets[2 * (n - 1) + 1] = c.p - (const char *)raw.buf;
                PyObject *id = ascii_text(r.id, r.id_len);
                PyObject *text = id ? ascii_text(r.plate, r.plate_len) : NULL;
                PyObject *plate = text ? plain_plate(text, max_len) : NULL;
                Py_XDECREF(text);
                PyObject *camera = plate ? ascii_text(r.camera, r.camera_len) : NULL;
                PyObject *position = camera ? PyDict_GetItemWithError(cameras, camera) : NULL;
                Py_XDECREF(camera);
                PyObject *t = (camera && (position || !PyErr_Occurred())) ? PyFloat_FromDouble(r.time) : NULL;
                PyObject *confidence = t ? PyFloat_FromDouble(r.confidence) : NULL;
                PyObject *values[5] = {id, plate, position ? position : Py_None, t, confidence};
                int appended = confidence != NULL;
                for (int k = 0; k < 5 && appended; k++) appended = PyList_Append(out[k], values[k]) == 0;
                Py_XDECREF(id);
                Py_XDECREF(plate);
                Py_XDECREF(t);
                Py_XDECREF(confidence);
                if (!appended) goto done;
                odd += (plate == Py_None) + (position == NULL);
                if (take(&c, ']')) break;
                if (!take(&c, ',')) goto done;
            }
        } else {
            goto done;
        }
        if (take(&c, '}')) break;
        if (!take(&c, ',')) goto done;
    }
    skip_ws(&c);
    ok = seen_reads && c.p == c.end;
done:
    if (!PyErr_Occurred()) {
        if (!ok) {
            result = Py_NewRef(Py_None);
        } else if ((spans = PyBytes_FromStringAndSize((const char *)offsets, n * 2 * sizeof(int64_t))) != NULL) {
            result = Py_BuildValue("OOOOOnN", out[0], out[1], out[2], out[3], out[4], odd, spans);
        }
    }
    for (int k = 0; k < 5; k++) Py_XDECREF(out[k]);
    PyMem_Free(offsets);
    PyBuffer_Release(&raw);
    return result;
}

static PyMethodDef methods[] = {
    {"columns", columns, METH_VARARGS,
     "columns(reads, cameras, max_len) -> (read_ids, plates, positions, times, confidences, odd)."},
    {"decode_batch", decode_batch, METH_VARARGS,
     "decode_batch(raw, cameras, max_len) -> (read_ids, plates, positions, times, confidences, odd, spans) or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_columns", NULL, -1, methods};

PyMODINIT_FUNC PyInit__columns(void) {
    for (int b = 0x20; b < 0x7f; b++) PLAIN[b] = b != '"' && b != '\\';
    if (!(READ_ID = PyUnicode_InternFromString("read_id")) || !(PLATE = PyUnicode_InternFromString("plate"))
        || !(CAMERA_ID = PyUnicode_InternFromString("camera_id"))
        || !(EVENT_TIME = PyUnicode_InternFromString("event_time"))
        || !(CONFIDENCE = PyUnicode_InternFromString("confidence")))
        return NULL;
    return PyModule_Create(&module);
}
