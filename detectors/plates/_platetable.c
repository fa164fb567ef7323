/* The compiled loops of detectors/plates/platetable.py: plate keys and an open-addressing table.
 *
 * Arrays come in as int64 buffers (numpy arrays, C-contiguous; the Python side makes sure).
 * A key is two int64 words; the table is linear probing over places of three words (the key's
 * two and its slot), a slot of -1 marking an empty place, and keys leave by backward shift, so
 * there are never tombstones. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define EMPTY (-1)
#define CHARS_PER_WORD 8

static inline Py_ssize_t home(int64_t w0, int64_t w1, Py_ssize_t mask) {
    uint64_t h = (uint64_t)w0 * 0x9E3779B97F4A7C15ULL ^ (uint64_t)w1 * 0xC2B2AE3D27D4EB4FULL;
    h ^= h >> 29;
    return (Py_ssize_t)(h & (uint64_t)mask);
}

static int digit_of(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0' + 1;
    if (c >= 'A' && c <= 'Z') return c - 'A' + 11;
    return 0;
}

static int int64_buffer(PyObject *arg, Py_buffer *view, const char *name, int writable) {
    if (PyObject_GetBuffer(arg, view, (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS) < 0) return -1;
    if (view->itemsize != 8) {
        PyErr_Format(PyExc_TypeError, "%s: expected an int64 array", name);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* pack(text: bytes, keys) -> bool: space-separated plates into keys (two words each). */
static PyObject *pack(PyObject *self, PyObject *args) {
    Py_buffer text, keys_view;
    PyObject *keys_arg;
    if (!PyArg_ParseTuple(args, "y*O", &text, &keys_arg)) return NULL;
    if (int64_buffer(keys_arg, &keys_view, "keys", 1) < 0) { PyBuffer_Release(&text); return NULL; }
    const unsigned char *s = text.buf;
    int64_t *keys = keys_view.buf;
    Py_ssize_t n = keys_view.len / 16, plate = 0, length = 0;
    int64_t w0 = 0, w1 = 0;
    int ok = 1;
    for (Py_ssize_t i = 0; i <= text.len; i++) {
        if (i == text.len || s[i] == ' ') {
            if (length == 0 || plate >= n) { ok = 0; break; }
            keys[2 * plate] = w0;
            keys[2 * plate + 1] = w1;
            plate++, length = 0, w0 = 0, w1 = 0;
            continue;
        }
        int d = digit_of(s[i]);
        if (d == 0 || length == 2 * CHARS_PER_WORD) { ok = 0; break; }
        if (length < CHARS_PER_WORD) w0 = w0 * 37 + d; else w1 = w1 * 37 + d;
        length++;
    }
    ok = ok && plate == n;
    PyBuffer_Release(&text);
    PyBuffer_Release(&keys_view);
    return PyBool_FromLong(ok);
}

/* A place of the table: the key's two words and its slot, together (one cache line a probe;
   as two arrays, keys and slots, a probe was two cache misses at a full window). */
typedef struct { int64_t w0, w1, slot; } Place;

typedef struct { Py_buffer view; Place *p; Py_ssize_t mask; } Table;

static int open_table(PyObject *places, Table *t) {
    if (int64_buffer(places, &t->view, "table places", 1) < 0) return -1;
    Py_ssize_t size = t->view.len / (Py_ssize_t)sizeof(Place);
    if (size == 0 || (size & (size - 1)) || t->view.len != size * (Py_ssize_t)sizeof(Place)) {
        PyErr_SetString(PyExc_ValueError, "a table's size must be a power of two, with three words a place");
        PyBuffer_Release(&t->view);
        return -1;
    }
    t->p = t->view.buf, t->mask = size - 1;
    return 0;
}

static void close_table(Table *t) { PyBuffer_Release(&t->view); }

static inline Py_ssize_t probe(const Table *t, int64_t w0, int64_t w1) {
    Py_ssize_t at = home(w0, w1, t->mask);
    while (t->p[at].slot != EMPTY && (t->p[at].w0 != w0 || t->p[at].w1 != w1)) at = (at + 1) & t->mask;
    return at;
}

/* hold(places, keys, offered, slots) -> added: each key's slot; new keys take offered. */
static PyObject *hold(PyObject *self, PyObject *args) {
    PyObject *tp, *keys_arg, *offered_arg, *slots_arg;
    if (!PyArg_ParseTuple(args, "OOOO", &tp, &keys_arg, &offered_arg, &slots_arg)) return NULL;
    Table t;
    Py_buffer keys, offered, slots;
    if (open_table(tp, &t) < 0) return NULL;
    if (int64_buffer(keys_arg, &keys, "keys", 0) < 0) { close_table(&t); return NULL; }
    if (int64_buffer(offered_arg, &offered, "offered", 0) < 0) { close_table(&t); PyBuffer_Release(&keys); return NULL; }
    if (int64_buffer(slots_arg, &slots, "slots", 1) < 0) {
        close_table(&t); PyBuffer_Release(&keys); PyBuffer_Release(&offered); return NULL;
    }
    Py_ssize_t n = keys.len / 16, added = 0;
    if (offered.len / 8 < n || slots.len / 8 < n) {
        PyErr_SetString(PyExc_ValueError, "offered and slots need one entry a key");
    } else {
        const int64_t *k = keys.buf, *o = offered.buf;
        int64_t *out = slots.buf;
        for (Py_ssize_t i = 0; i < n; i++) {
            Place *place = &t.p[probe(&t, k[2 * i], k[2 * i + 1])];
            if (place->slot == EMPTY) {
                place->w0 = k[2 * i], place->w1 = k[2 * i + 1], place->slot = o[i];
                added++;
            }
            out[i] = place->slot;
        }
    }
    close_table(&t);
    PyBuffer_Release(&keys);
    PyBuffer_Release(&offered);
    PyBuffer_Release(&slots);
    if (PyErr_Occurred()) return NULL;
    return PyLong_FromSsize_t(added);
}

/* find(places, w0, w1) -> slot or -1. */
static PyObject *find(PyObject *self, PyObject *args) {
    PyObject *tp;
    long long w0, w1;
    if (!PyArg_ParseTuple(args, "OLL", &tp, &w0, &w1)) return NULL;
    Table t;
    if (open_table(tp, &t) < 0) return NULL;
    int64_t slot = t.p[probe(&t, w0, w1)].slot;
    close_table(&t);
    return PyLong_FromLongLong(slot);
}

/* remove(places, keys) -> removed (keys not held are skipped). */
static PyObject *remove_keys(PyObject *self, PyObject *args) {
    PyObject *tp, *keys_arg;
    if (!PyArg_ParseTuple(args, "OO", &tp, &keys_arg)) return NULL;
    Table t;
    Py_buffer keys;
    if (open_table(tp, &t) < 0) return NULL;
    if (int64_buffer(keys_arg, &keys, "keys", 0) < 0) { close_table(&t); return NULL; }
    const int64_t *k = keys.buf;
    Py_ssize_t n = keys.len / 16, removed = 0, mask = t.mask;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t hole = probe(&t, k[2 * i], k[2 * i + 1]);
        if (t.p[hole].slot == EMPTY) continue;
        removed++;
        /* Backward shift: a later entry of the run moves into the hole unless its home lies
           cyclically in (hole, at], where moving it would put it before its home. */
        for (Py_ssize_t at = (hole + 1) & mask; t.p[at].slot != EMPTY; at = (at + 1) & mask) {
            Py_ssize_t h = home(t.p[at].w0, t.p[at].w1, mask);
            int stays = hole < at ? (hole < h && h <= at) : (h > hole || h <= at);
            if (stays) continue;
            t.p[hole] = t.p[at];
            hole = at;
        }
        t.p[hole].slot = EMPTY;
    }
    close_table(&t);
    PyBuffer_Release(&keys);
    return PyLong_FromSsize_t(removed);
}

/* rehash(old_places, places): every entry of the old table into the new one. */
static PyObject *rehash(PyObject *self, PyObject *args) {
    PyObject *op, *tp;
    if (!PyArg_ParseTuple(args, "OO", &op, &tp)) return NULL;
    Table old, t;
    if (open_table(op, &old) < 0) return NULL;
    if (open_table(tp, &t) < 0) { close_table(&old); return NULL; }
    for (Py_ssize_t i = 0; i <= old.mask; i++) {
        if (old.p[i].slot == EMPTY) continue;
        t.p[probe(&t, old.p[i].w0, old.p[i].w1)] = old.p[i];
    }
    close_table(&old);
    close_table(&t);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"pack", pack, METH_VARARGS, "pack(text, keys) -> bool: space-separated plates into key words."},
    {"hold", hold, METH_VARARGS, "hold(places, keys, offered, slots) -> keys added."},
    {"find", find, METH_VARARGS, "find(places, w0, w1) -> slot or -1."},
    {"remove", remove_keys, METH_VARARGS, "remove(places, keys) -> keys removed."},
    {"rehash", rehash, METH_VARARGS, "rehash(old_places, places)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_platetable", NULL, -1, methods};

PyMODINIT_FUNC PyInit__platetable(void) { return PyModule_Create(&module); }
