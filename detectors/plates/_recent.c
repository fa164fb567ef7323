/* The compiled loops of detectors/plates/recent.py: a batch of reads into the held reads, a read's
 * history, a camera's partners.
 *
 * Why C: at a full window each read touches its plate's summary and chain in arrays of a million
 * slots and ~1.5M rows; done as a dozen numpy passes plus Python loops for the reads that need a
 * walk, that was ~3 us a read, a quarter of the worker's time (py-spy, 2026-12-07). One pass in
 * C, a read at a time, does the same in a fraction of that and is simpler: each read sees the
 * store exactly as the reads before it left it.
 *
 * Arrays come in as numpy buffers (C-contiguous; dtypes checked), the read ids as Python lists.
 * Rows are in arrival order: row r holds the read with arrival number (seq) base + r; rows below
 * start have expired. A plate's reads are chained newest (in event time) first through prev, a
 * camera's in arrival order through cam_prev; -1 ends a chain. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define NO_READ (-1)

/* A read held: recent.py's _ROW, field for field (it checks the offsets). What a walk down a
   chain reads of a row shares a cache line. */
typedef struct {
    double t;         /* event time */
    int64_t slot;     /* its plate's slot */
    int64_t prev;     /* seq of the plate's read before it in event time */
    int64_t cam_prev; /* seq of the camera's read before it in arrival order */
    double conf;      /* OCR confidence */
    int32_t cam;      /* its camera position */
} Row;

/* A plate's summary: recent.py's _PLATE, field for field (it checks the offsets). */
typedef struct {
    int64_t head;      /* seq of its newest read in event time */
    double max_t;      /* that read's event time */
    int64_t count;     /* its reads held */
    int32_t first_cam; /* the camera position of its first read */
    char multi;        /* read at two cameras or more */
} Plate;

/* A numpy buffer of the given kind: 'f' float64, 'i' int64, 'I' int32, 'b' bool, 'p' Plate records,
   'r' Row records. */
static int get_array(PyObject *arg, Py_buffer *view, const char *name, char kind, int writable) {
    if (PyObject_GetBuffer(arg, view, (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    const char *f = view->format ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    int ok;
    switch (kind) {
    case 'f': ok = view->itemsize == 8 && strcmp(f, "d") == 0; break;
    case 'i': ok = view->itemsize == 8 && (strcmp(f, "l") == 0 || strcmp(f, "q") == 0); break;
    case 'I': ok = view->itemsize == 4 && strcmp(f, "i") == 0; break;
    case 'p': ok = view->itemsize == sizeof(Plate); break;
    case 'r': ok = view->itemsize == sizeof(Row); break;
    default: ok = view->itemsize == 1 && strcmp(f, "?") == 0; break;
    }
    if (!ok) {
        const char *wanted = kind == 'f' ? "float64" : kind == 'i' ? "int64" : kind == 'I' ? "int32"
                           : kind == 'p' ? "plate record" : kind == 'r' ? "row record" : "bool";
        PyErr_Format(PyExc_TypeError, "%s: expected a %s array", name, wanted);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

enum {
    /* the batch, one entry per read offered */
    IN_T, IN_SLOT, IN_CAM, IN_CONF,
    /* the rows: a Row each */
    ROWS,
    /* the plates, by slot: a Plate each */
    PLATES,
    /* the cameras: camera number of each position, each camera's latest read */
    C_NUMBER, C_HEAD,
    /* out, one entry per read offered */
    OUT_ROW, OUT_LOOK,
    N_ARRAYS
};

static const char *ARRAY_NAMES[N_ARRAYS] = {
    "times", "slots", "cameras", "confidences", "rows", "plates",
    "camera numbers", "camera heads", "out rows", "out look",
};
static const char ARRAY_KINDS[N_ARRAYS] = "fiIfrpiiib";
static const char ARRAY_WRITABLE[N_ARRAYS] = {0, 0, 0, 0, 1, 1, 0, 1, 1, 1};

/* Whether the plate's chain from seq down holds read_id at t (a redelivery of a held read). */
static int held_twin(int64_t seq, int64_t base, int64_t start, const Row *row, double t, PyObject *read_id,
                     PyObject *held_ids, Py_ssize_t n, const Py_ssize_t *batch_row_of, PyObject *batch_ids) {
    while (seq >= start) {
        Py_ssize_t r = (Py_ssize_t)(seq - base);
        if (row[r].t < t) return 0;
        if (row[r].t == t) {
            PyObject *other = r < n ? PyList_GET_ITEM(held_ids, r) : PyList_GET_ITEM(batch_ids, batch_row_of[r - n]);
            /* ids are str (validated reads); comparing two str cannot fail */
            if (other == read_id || (PyUnicode_Check(other) && PyUnicode_Check(read_id)
                                     && PyUnicode_Compare(other, read_id) == 0))
                return 1;
        }
        seq = row[r].prev;
    }
    return 0;
}

/* append(arrays: tuple of N_ARRAYS arrays, held_ids: list, batch_ids: list, base, n, start, camera_chains,
 *        screen: -1 none / 0 one camera / 1 multi-camera, repeats (0 off), repeats_within_s)
 *   -> (rows added, duplicates)
 *
 * Takes each offered read in turn: a redelivery of a held read (same id, same event time) is
 * skipped (out row -1); any other gets the next row, goes into its plate's chain (on top, or
 * walked to its place if its plate has a newer read) and on top of its camera's chain, and its
 * plate's summary is brought up to date. out look: whether the rules should look at it (see
 * recent.Screen): screen -1 means every read whose plate was held, otherwise the screen's
 * verdict, judged as the store stood once the read was in. The caller has made room for every
 * offered read and handles the ids list (batch_ids[j] goes to row out_row[j]). */
static PyObject *append(PyObject *self, PyObject *args) {
    PyObject *arrays, *held_ids, *batch_ids;
    long long base, n0, start;
    int camera_chains, screen, repeats;
    double within;
    if (!PyArg_ParseTuple(args, "O!O!O!LLLpiid", &PyTuple_Type, &arrays, &PyList_Type, &held_ids, &PyList_Type,
                          &batch_ids, &base, &n0, &start, &camera_chains, &screen, &repeats, &within))
        return NULL;
    if (PyTuple_GET_SIZE(arrays) != N_ARRAYS) {
        PyErr_Format(PyExc_ValueError, "append: expected %d arrays", N_ARRAYS);
        return NULL;
    }
    Py_buffer v[N_ARRAYS];
    int opened = 0;
    for (; opened < N_ARRAYS; opened++)
        if (get_array(PyTuple_GET_ITEM(arrays, opened), &v[opened], ARRAY_NAMES[opened], ARRAY_KINDS[opened],
                      ARRAY_WRITABLE[opened]) < 0)
            break;
    Py_ssize_t *batch_row_of = NULL;
    Py_ssize_t m = 0, added = 0, duplicates = 0;
    if (opened < N_ARRAYS) goto done;
    m = v[IN_T].len / 8;
    Py_ssize_t rows = v[ROWS].len / (Py_ssize_t)sizeof(Row), plates = v[PLATES].len / (Py_ssize_t)sizeof(Plate);
    if (v[IN_SLOT].len / 8 != m || v[IN_CAM].len / 4 != m || v[IN_CONF].len / 8 != m || v[OUT_ROW].len / 8 != m
        || v[OUT_LOOK].len != m || PyList_GET_SIZE(batch_ids) != m) {
        PyErr_SetString(PyExc_ValueError, "append: the batch's arrays, ids and outputs need one entry a read");
        goto done;
    }
    if (base + n0 < start || n0 + m > rows || PyList_GET_SIZE(held_ids) != n0) {
        PyErr_SetString(PyExc_ValueError, "append: the rows are not as the store holds them (room, ids)");
        goto done;
    }
    const double *in_t = v[IN_T].buf, *in_conf = v[IN_CONF].buf;
    const int64_t *in_slot = v[IN_SLOT].buf, *cam_number = v[C_NUMBER].buf;
    const int32_t *in_cam = v[IN_CAM].buf;
    Row *row = v[ROWS].buf;
    Plate *plate_of = v[PLATES].buf;
    int64_t *cam_head = v[C_HEAD].buf, *out_row = v[OUT_ROW].buf;
    char *out_look = v[OUT_LOOK].buf;
    Py_ssize_t cameras = v[C_NUMBER].len / 8, camera_heads = v[C_HEAD].len / 8;
    for (Py_ssize_t j = 0; j < m; j++) {
        if (in_slot[j] < 0 || in_slot[j] >= plates || in_cam[j] < 0 || in_cam[j] >= cameras
            || cam_number[in_cam[j]] < 0 || cam_number[in_cam[j]] >= camera_heads) {
            PyErr_SetString(PyExc_IndexError, "append: a read's plate slot or camera is out of range");
            goto done;
        }
    }
    batch_row_of = PyMem_Malloc((m ? m : 1) * sizeof(Py_ssize_t));
    if (!batch_row_of) { PyErr_NoMemory(); goto done; }

    Py_ssize_t n = (Py_ssize_t)n0;
    for (Py_ssize_t j = 0; j < m; j++) {
        Plate *p = &plate_of[in_slot[j]];
        double t = in_t[j];
        int held = p->count > 0;
        out_look[j] = 0;
        if (held && t <= p->max_t) {  /* only then can it be a redelivery: a twin has its event time */
            int twin = held_twin(p->head, base, start, row, t, PyList_GET_ITEM(batch_ids, j), held_ids,
                                 (Py_ssize_t)n0, batch_row_of, batch_ids);
            if (twin) {
                out_row[j] = NO_READ;
                duplicates++;
                continue;
            }
        }
        Py_ssize_t r = n + added;
        int64_t seq = base + r;
        batch_row_of[added++] = j;
        out_row[j] = r;
        int32_t cam = in_cam[j];
        Row *new = &row[r];
        new->t = t, new->slot = in_slot[j], new->cam = cam, new->conf = in_conf[j], new->cam_prev = NO_READ;
        if (camera_chains) {  /* the camera's chain, in arrival order */
            int64_t number = cam_number[cam];
            new->cam_prev = cam_head[number];
            cam_head[number] = seq;
        }
        /* The plate's chain: on top if no held read of it is newer, else walked to its place,
           after its reads newer than t (equal times stay in the order they came). The head's
           time is max_t: asking the summary spares a cache miss on the head's row. */
        int64_t above = p->head;
        int on_top = p->max_t <= t || above < start;
        if (on_top) {
            new->prev = above >= start ? above : NO_READ;
            p->head = seq, p->max_t = t;
        } else {
            int64_t below = row[above - base].prev;
            while (below >= start && row[below - base].t > t) above = below, below = row[below - base].prev;
            new->prev = below >= start ? below : NO_READ;
            row[above - base].prev = seq;
        }
        if (p->first_cam == NO_READ) p->first_cam = cam;  /* a plate's first camera is its first read's */
        if (cam != p->first_cam) p->multi = 1;
        p->count++;
        if (screen < 0) {
            out_look[j] = (char)held;
            continue;
        }
        int look = screen == 1 && held && p->multi;
        if (!look && repeats > 0 && held && p->count >= repeats) {
            if (!on_top) {
                look = 1;  /* a late read: its plate as it is now (late reads are few) */
            } else {  /* reads came in time order: the read repeats - 1 back along the chain */
                int64_t back = new->prev;
                for (int k = 0; k < repeats - 2 && back >= start; k++) back = row[back - base].prev;
                look = back >= start && row[back - base].t >= t - within;
            }
        }
        out_look[j] = (char)look;
    }
done:
    PyMem_Free(batch_row_of);
    for (int i = 0; i < opened; i++) PyBuffer_Release(&v[i]);
    if (PyErr_Occurred()) return NULL;
    return Py_BuildValue("nn", added, duplicates);
}

/* camera_rows(positions: list, idx: int64 array, last: dict, out: int32 array) -> not found
 *
 * out[j]: the row of positions[idx[j]], found by its camera id in last (camera id -> (position,
 * row)) when the position is that very object, else -1 (the caller adds or finds it). Why by id
 * and identity: the id string caches its hash, and the pipeline hands over one configured
 * position object per camera; a position tuple would hash all four fields each time. */
static PyObject *camera_rows(PyObject *self, PyObject *args) {
    PyObject *positions, *idx_arg, *last, *out_arg;
    if (!PyArg_ParseTuple(args, "O!OO!O", &PyList_Type, &positions, &idx_arg, &PyDict_Type, &last, &out_arg))
        return NULL;
    Py_buffer idx, out;
    if (get_array(idx_arg, &idx, "idx", 'i', 0) < 0) return NULL;
    if (get_array(out_arg, &out, "out", 'I', 1) < 0) { PyBuffer_Release(&idx); return NULL; }
    Py_ssize_t m = idx.len / 8, missing = 0, size = PyList_GET_SIZE(positions);
    const int64_t *k = idx.buf;
    int32_t *rows = out.buf;
    if (out.len / 4 != m) {
        PyErr_SetString(PyExc_ValueError, "camera_rows: out needs one entry an index");
        goto done;
    }
    for (Py_ssize_t j = 0; j < m; j++) {
        if (k[j] < 0 || k[j] >= size) {
            PyErr_SetString(PyExc_IndexError, "camera_rows: index out of range");
            goto done;
        }
        PyObject *position = PyList_GET_ITEM(positions, k[j]);
        PyObject *seen = NULL;
        if (PyTuple_Check(position) && PyTuple_GET_SIZE(position) > 0) {
            seen = PyDict_GetItemWithError(last, PyTuple_GET_ITEM(position, 0));
            if (seen == NULL && PyErr_Occurred()) goto done;
        }
        if (seen != NULL && PyTuple_Check(seen) && PyTuple_GET_SIZE(seen) == 2
            && PyTuple_GET_ITEM(seen, 0) == position) {
            long row = PyLong_AsLong(PyTuple_GET_ITEM(seen, 1));
            if (row == -1 && PyErr_Occurred()) goto done;
            rows[j] = (int32_t)row;
        } else {
            rows[j] = NO_READ;
            missing++;
        }
    }
done:
    PyBuffer_Release(&idx);
    PyBuffer_Release(&out);
    if (PyErr_Occurred()) return NULL;
    return PyLong_FromSsize_t(missing);
}

/* history(rows, head, as_of, base, start, cutoff, since, neighbours, own_row, own, ids, positions, plate,
 *         sighting) -> list
 *
 * A plate's reads that came up to read as_of (a seq), not behind cutoff, oldest first, as
 * sighting(read_id, plate, *positions[camera], t, confidence) objects; row own_row is own itself
 * (if own is not None). rows: the Row records. The walk down
 * the chain from head stops at cutoff, and once past since after neighbours more reads. */
static PyObject *history(PyObject *self, PyObject *args) {
    PyObject *rows_arg, *own, *ids, *positions, *plate, *sighting;
    long long head, as_of, base, start, own_row, neighbours;
    double cutoff, since;
    if (!PyArg_ParseTuple(args, "OLLLLddLLOO!O!OO", &rows_arg, &head, &as_of, &base, &start, &cutoff, &since,
                          &neighbours, &own_row, &own, &PyList_Type, &ids, &PyList_Type, &positions, &plate,
                          &sighting))
        return NULL;
    Py_buffer view;
    if (get_array(rows_arg, &view, "rows", 'r', 0) < 0) return NULL;
    PyObject *out = NULL;
    int64_t *found = NULL;
    const Row *row = view.buf;
    Py_ssize_t rows = view.len / (Py_ssize_t)sizeof(Row), held_ids = PyList_GET_SIZE(ids);
    Py_ssize_t cameras = PyList_GET_SIZE(positions);
    Py_ssize_t n = 0, room = 16;
    if ((found = PyMem_Malloc(room * sizeof(int64_t))) == NULL) { PyErr_NoMemory(); goto done; }
    for (int64_t seq = head; seq >= start;) {
        Py_ssize_t r = (Py_ssize_t)(seq - base);
        if (r < 0 || r >= rows || r >= held_ids) {
            PyErr_SetString(PyExc_IndexError, "history: a chain leads outside the rows held");
            goto done;
        }
        double t = row[r].t;
        if (t < cutoff) break; /* the rest is older still */
        if (seq <= as_of) {
            if (t < since) {
                if (neighbours <= 0) break;
                neighbours--;
            }
            if (n == room) {
                int64_t *more = PyMem_Realloc(found, 2 * room * sizeof(int64_t));
                if (more == NULL) { PyErr_NoMemory(); goto done; }
                found = more, room *= 2;
            }
            found[n++] = r;
        }
        seq = row[r].prev;
    }
    if ((out = PyList_New(n)) == NULL) goto done;
    for (Py_ssize_t i = 0; i < n; i++) { /* oldest first; equal times in the order they came */
        Py_ssize_t r = (Py_ssize_t)found[n - 1 - i];
        PyObject *item;
        if (r == own_row && own != Py_None) {
            item = Py_NewRef(own);
        } else {
            int32_t cam = row[r].cam;
            PyObject *position = cam >= 0 && cam < cameras ? PyList_GET_ITEM(positions, cam) : NULL;
            if (position == NULL || !PyTuple_Check(position) || PyTuple_GET_SIZE(position) != 4) {
                PyErr_SetString(PyExc_ValueError, "history: a read's camera position is not held");
                Py_CLEAR(out);
                goto done;
            }
            PyObject *t = PyFloat_FromDouble(row[r].t), *confidence = PyFloat_FromDouble(row[r].conf);
            item = NULL;
            if (t != NULL && confidence != NULL) {
                PyObject *fields[8] = {PyList_GET_ITEM(ids, r), plate, PyTuple_GET_ITEM(position, 0),
                                       PyTuple_GET_ITEM(position, 1), PyTuple_GET_ITEM(position, 2),
                                       PyTuple_GET_ITEM(position, 3), t, confidence};
                item = PyObject_Vectorcall(sighting, fields, 8, NULL);
            }
            Py_XDECREF(t);
            Py_XDECREF(confidence);
            if (item == NULL) {
                Py_CLEAR(out);
                goto done;
            }
        }
        PyList_SET_ITEM(out, i, item);
    }
done:
    PyMem_Free(found);
    PyBuffer_Release(&view);
    return out;
}

/* partners(rows, plates, seq, as_of, base, start, t, gap_s, stop, min_held) -> [(distance, slot), ...]
 *
 * The reads of a camera chain from seq down (skipping those after as_of), until one before stop:
 * those within gap_s of t whose plate holds min_held reads or more, with their distance in time. */
static PyObject *partners(PyObject *self, PyObject *args) {
    PyObject *rows_arg, *plates_arg;
    long long seq, as_of, base, start, min_held;
    double t, gap, stop;
    if (!PyArg_ParseTuple(args, "OOLLLLdddL", &rows_arg, &plates_arg, &seq, &as_of, &base, &start, &t, &gap, &stop,
                          &min_held))
        return NULL;
    Py_buffer rows_view, plates_view;
    if (get_array(rows_arg, &rows_view, "rows", 'r', 0) < 0) return NULL;
    if (get_array(plates_arg, &plates_view, "plates", 'p', 0) < 0) { PyBuffer_Release(&rows_view); return NULL; }
    const Row *row = rows_view.buf;
    const Plate *plate_of = plates_view.buf;
    Py_ssize_t rows = rows_view.len / (Py_ssize_t)sizeof(Row), plates = plates_view.len / (Py_ssize_t)sizeof(Plate);
    PyObject *out = PyList_New(0);
    while (out != NULL && seq >= start) {
        Py_ssize_t r = (Py_ssize_t)(seq - base);
        if (r < 0 || r >= rows || row[r].slot < 0 || row[r].slot >= plates) {
            PyErr_SetString(PyExc_IndexError, "partners: a chain leads outside the rows held");
            Py_CLEAR(out);
            break;
        }
        seq = row[r].cam_prev;
        if ((int64_t)r + base > as_of) continue; /* came later in the batch than the read asking */
        double time = row[r].t;
        if (time < stop) break;
        double distance = time > t ? time - t : t - time;
        if (distance <= gap && plate_of[row[r].slot].count >= min_held) {
            PyObject *near = Py_BuildValue("(dL)", distance, (long long)row[r].slot);
            if (near == NULL || PyList_Append(out, near) < 0) {
                Py_XDECREF(near);
                Py_CLEAR(out);
            } else {
                Py_DECREF(near);
            }
        }
    }
    PyBuffer_Release(&rows_view);
    PyBuffer_Release(&plates_view);
    return out;
}

static PyMethodDef methods[] = {
    {"append", append, METH_VARARGS, "append(arrays, held_ids, batch_ids, base, n, start, screen, repeats, within)"
                                     " -> (rows added, duplicates): a batch of reads into the held reads."},
    {"camera_rows", camera_rows, METH_VARARGS, "camera_rows(positions, idx, last, out) -> positions not found."},
    {"history", history, METH_VARARGS, "history(rows, head, as_of, base, start, cutoff, since, neighbours, own_row,"
                                       " own, ids, positions, plate, sighting) -> a plate's sightings, oldest first."},
    {"partners", partners, METH_VARARGS, "partners(rows, plates, seq, as_of, base, start, t, gap_s, stop, min_held)"
                                         " -> [(distance, slot)]: a camera's reads near t."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_recent", NULL, -1, methods};

PyMODINIT_FUNC PyInit__recent(void) { return PyModule_Create(&module); }
