/* pfs.external.wasm._guestcall: guest export calls and guest memory access in C.
 *
 * The same calls fastcall.py makes through ctypes (wasmtime_func_call_unchecked,
 * wasmtime_memory_data and _size), without ctypes' per-call argument objects and Python frames:
 * an export call goes from ~0.8 µs to ~0.1, a memory access from ~0.5 to ~0.1. A WASM read
 * makes eight of them. The wasmtime functions are given by address (from wasmtime-py's own
 * library), so nothing here links against wasmtime or needs its headers.
 *
 * Both types take the store as the caller passes it: the store's handle (its context address,
 * an int) or anything else (a host function's caller), turned into a context address by the
 * `context_of` callable given at construction.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdint.h>
#include <string.h>
#include <time.h>

/* wasmtime_val_raw_t is a 16-byte union; an export of ours takes and returns i32/i64 only. */
typedef struct {
    uint64_t low;
    uint64_t high;
} raw_value;

typedef void *(*func_call_fn)(void *context, const void *func, raw_value *values,
                              size_t count, void **trap);
typedef uint8_t *(*memory_data_fn)(const void *context, const void *memory);
typedef size_t (*memory_size_fn)(const void *context, const void *memory);

/* The most values (arguments or results) an Export takes: more than any ABI export has. */
#define MAX_VALUES 16
/* How far a NUL is looked for at first (most strings are paths or short JSON). */
#define STRING_PROBE 256

static void *address_of(PyObject *value) {
    return PyLong_AsVoidPtr(value);
}

/* The context address for `st`: `handle` maps to `context`, an int is one, else context_of. */
static void *context_for(PyObject *st, PyObject *handle, void *context, PyObject *context_of) {
    if (st == handle && context != NULL) {
        return context;
    }
    if (PyLong_CheckExact(st)) {
        return address_of(st);
    }
    PyObject *address = PyObject_CallOneArg(context_of, st);
    if (address == NULL) {
        return NULL;
    }
    void *result = address_of(address);
    Py_DECREF(address);
    return result;
}

/* -- Export ------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    func_call_fn call;
    void *func;         /* the wasmtime_func_t's address (kept alive by `owner`) */
    void *context;      /* the store's context address */
    PyObject *handle;   /* the store handle callers pass */
    PyObject *context_of;
    PyObject *on_failure;  /* on_failure(error_address, trap_address): raises */
    PyObject *owner;    /* the wasmtime.Func */
    int nparams;
    int nresults;
    int result_bits;    /* 32 or 64 (a result's width), 0 for none */
    int keep_gil;       /* keep the GIL during calls while they are quick (see below) */
    double release_after;  /* seconds: an export whose calls average longer releases it */
    double seconds;     /* its calls' moving average, seconds (timed only with keep_gil) */
    vectorcallfunc vectorcall;
} Export;

static double now_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static PyObject *Export_vectorcall(Export *self, PyObject *const *args, size_t nargsf,
                                   PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
        PyErr_SetString(PyExc_TypeError, "an export takes no keyword arguments");
        return NULL;
    }
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "an export call needs the store first");
        return NULL;
    }
    if (nargs - 1 != self->nparams) {
        PyObject *message = PyUnicode_FromFormat("expected %d arguments, got %zd",
                                                 self->nparams, nargs - 1);
        if (message != NULL) {
            PyObject *raised = PyObject_CallFunction(self->on_failure, "OOO", Py_None, Py_None,
                                                     message);
            Py_XDECREF(raised);
            Py_DECREF(message);
        }
        return NULL;
    }
    void *context = context_for(args[0], self->handle, self->context, self->context_of);
    if (context == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "store has no context");
        }
        return NULL;
    }
    raw_value values[MAX_VALUES];
    memset(values, 0, sizeof(raw_value) * (size_t)(self->nparams > self->nresults
                                                        ? self->nparams : self->nresults));
    for (int i = 0; i < self->nparams; i++) {
        /* i32 arguments live in the low 4 bytes; a large unsigned value wraps as in C. */
        values[i].low = PyLong_AsUnsignedLongLongMask(args[i + 1]);
        if (values[i].low == (uint64_t)-1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    size_t count = (size_t)(self->nparams > self->nresults ? self->nparams : self->nresults);
    if (count == 0) {
        count = 1;
    }
    void *trap = NULL;
    void *error;
    if (self->keep_gil && self->seconds <= self->release_after) {
        /* A quick export keeps the GIL: taking it back would cost more than the call. One
         * that turns out slow still hands the GIL over at every epoch tick (runtime.py), and
         * from its next call on releases it, running beside the event loop. */
        double start = now_seconds();
        error = self->call(context, self->func, values, count, &trap);
        self->seconds += (now_seconds() - start - self->seconds) * 0.2;
    } else if (self->keep_gil) {
        double start = now_seconds();
        Py_BEGIN_ALLOW_THREADS
        error = self->call(context, self->func, values, count, &trap);
        Py_END_ALLOW_THREADS
        self->seconds += (now_seconds() - start - self->seconds) * 0.2;
    } else {
        Py_BEGIN_ALLOW_THREADS
        error = self->call(context, self->func, values, count, &trap);
        Py_END_ALLOW_THREADS
    }
    if (error != NULL || trap != NULL) {
        PyObject *raised = PyObject_CallFunction(
            self->on_failure, "KKO", (unsigned long long)(uintptr_t)error,
            (unsigned long long)(uintptr_t)trap, Py_None);
        if (raised == NULL) {
            return NULL;
        }
        Py_DECREF(raised);
        PyErr_SetString(PyExc_RuntimeError, "on_failure did not raise");
        return NULL;
    }
    switch (self->result_bits) {
    case 64:
        return PyLong_FromLongLong((int64_t)values[0].low);
    case 32:
        /* An i32 result fills only the low 4 bytes: the rest is what the slot held before. */
        return PyLong_FromLong((int32_t)(uint32_t)values[0].low);
    default:
        Py_RETURN_NONE;
    }
}

static int Export_init(Export *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"call", "func", "owner", "handle", "context", "context_of",
                               "on_failure", "nparams", "nresults", "result_bits",
                               "keep_gil", "release_after", NULL};
    unsigned long long call, func, context;
    PyObject *owner, *handle, *context_of, *on_failure;
    int nparams, nresults, result_bits, keep_gil;
    double release_after = 0.0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "KKOOKOOiiip|d", keywords, &call, &func,
                                     &owner, &handle, &context, &context_of, &on_failure,
                                     &nparams, &nresults, &result_bits, &keep_gil,
                                     &release_after)) {
        return -1;
    }
    if (!(release_after >= 0.0)) {
        PyErr_SetString(PyExc_ValueError, "release_after must be a number of seconds >= 0");
        return -1;
    }
    if (call == 0 || func == 0) {
        PyErr_SetString(PyExc_ValueError, "null function address");
        return -1;
    }
    if (nparams < 0 || nparams > MAX_VALUES || nresults < 0 || nresults > 1 ||
        (result_bits != 0 && result_bits != 32 && result_bits != 64) ||
        (nresults == 0) != (result_bits == 0)) {
        PyErr_SetString(PyExc_ValueError, "unsupported export signature");
        return -1;
    }
    if (!PyCallable_Check(context_of) || !PyCallable_Check(on_failure)) {
        PyErr_SetString(PyExc_TypeError, "context_of and on_failure must be callable");
        return -1;
    }
    self->call = (func_call_fn)(uintptr_t)call;
    self->func = (void *)(uintptr_t)func;
    self->context = (void *)(uintptr_t)context;
    Py_INCREF(owner);
    Py_XSETREF(self->owner, owner);
    Py_INCREF(handle);
    Py_XSETREF(self->handle, handle);
    Py_INCREF(context_of);
    Py_XSETREF(self->context_of, context_of);
    Py_INCREF(on_failure);
    Py_XSETREF(self->on_failure, on_failure);
    self->nparams = nparams;
    self->nresults = nresults;
    self->result_bits = result_bits;
    self->keep_gil = keep_gil;
    self->release_after = release_after;
    self->seconds = 0.0;
    self->vectorcall = (vectorcallfunc)Export_vectorcall;
    return 0;
}

static int Export_traverse(Export *self, visitproc visit, void *arg) {
    Py_VISIT(self->owner);
    Py_VISIT(self->handle);
    Py_VISIT(self->context_of);
    Py_VISIT(self->on_failure);
    return 0;
}

static int Export_clear(Export *self) {
    Py_CLEAR(self->owner);
    Py_CLEAR(self->handle);
    Py_CLEAR(self->context_of);
    Py_CLEAR(self->on_failure);
    return 0;
}

static void Export_dealloc(Export *self) {
    PyObject_GC_UnTrack(self);
    Export_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Export_fast(Export *self, void *Py_UNUSED(closure)) {
    Py_RETURN_TRUE;
}

static PyMemberDef Export_members[] = {
    {"func", T_OBJECT, offsetof(Export, owner), READONLY, "The wasmtime.Func."},
    {"nparams", T_INT, offsetof(Export, nparams), READONLY, "Arguments it takes."},
    {"nresults", T_INT, offsetof(Export, nresults), READONLY, "Results it returns (0 or 1)."},
    {"seconds", T_DOUBLE, offsetof(Export, seconds), READONLY,
     "Its calls' moving average in seconds (timed only when it may keep the GIL)."},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef Export_getset[] = {
    {"fast", (getter)Export_fast, NULL, "Calls go through the C API directly (always).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ExportType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pfs.external.wasm._guestcall.Export",
    .tp_doc = "A guest export of i32/i64 values, called as export(store, *args).",
    .tp_basicsize = sizeof(Export),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Export_init,
    .tp_dealloc = (destructor)Export_dealloc,
    .tp_traverse = (traverseproc)Export_traverse,
    .tp_clear = (inquiry)Export_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Export, vectorcall),
    .tp_members = Export_members,
    .tp_getset = Export_getset,
};

/* -- Memory ------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    memory_data_fn data;
    memory_size_fn size;
    void *memory;       /* the wasmtime_memory_t's address (kept alive by `owner`) */
    PyObject *owner;    /* the wasmtime.Memory */
    PyObject *context_of;
} Memory;

/* The memory's base and size for `st`; NULL with an exception set on failure. */
static uint8_t *memory_of(Memory *self, PyObject *st, size_t *size) {
    void *context = context_for(st, NULL, NULL, self->context_of);
    if (context == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "store has no context");
        }
        return NULL;
    }
    *size = self->size(context, self->memory);
    uint8_t *base = self->data(context, self->memory);
    if (base == NULL && *size != 0) {
        PyErr_SetString(PyExc_ValueError, "memory has no data");
        return NULL;
    }
    return base;
}

static int in_bounds(long long start, long long stop, size_t size) {
    return 0 <= start && start <= stop && (unsigned long long)stop <= (unsigned long long)size;
}

static PyObject *out_of_bounds(void) {
    PyErr_SetString(PyExc_IndexError, "out of bounds");
    return NULL;
}

static PyObject *Memory_size(Memory *self, PyObject *st) {
    size_t size;
    if (memory_of(self, st, &size) == NULL && PyErr_Occurred()) {
        return NULL;
    }
    return PyLong_FromSize_t(size);
}

static PyObject *Memory_read(Memory *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "read(store, start, stop)");
        return NULL;
    }
    long long start = PyLong_AsLongLong(args[1]);
    long long stop = PyLong_AsLongLong(args[2]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    size_t size;
    uint8_t *base = memory_of(self, args[0], &size);
    if (base == NULL && PyErr_Occurred()) {
        return NULL;
    }
    if (!in_bounds(start, stop, size)) {
        return out_of_bounds();
    }
    return PyBytes_FromStringAndSize((const char *)base + start, (Py_ssize_t)(stop - start));
}

static PyObject *Memory_write(Memory *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "write(store, data, start)");
        return NULL;
    }
    Py_buffer data;
    if (PyObject_GetBuffer(args[1], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    long long start = PyLong_AsLongLong(args[2]);
    PyObject *result = NULL;
    size_t size;
    uint8_t *base;
    if (start == -1 && PyErr_Occurred()) {
        goto done;
    }
    base = memory_of(self, args[0], &size);
    if (base == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (!in_bounds(start, start + (long long)data.len, size)) {
        out_of_bounds();
        goto done;
    }
    memcpy(base + start, data.buf, (size_t)data.len);
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&data);
    return result;
}

static PyObject *Memory_string(Memory *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "string(store, start)");
        return NULL;
    }
    long long start = PyLong_AsLongLong(args[1]);
    if (start == -1 && PyErr_Occurred()) {
        return NULL;
    }
    size_t size;
    uint8_t *base = memory_of(self, args[0], &size);
    if (base == NULL && PyErr_Occurred()) {
        return NULL;
    }
    if (start < 0 || (unsigned long long)start >= (unsigned long long)size) {
        return out_of_bounds();
    }
    const uint8_t *from = base + start;
    size_t left = size - (size_t)start;
    const uint8_t *end = memchr(from, 0, left < STRING_PROBE ? left : STRING_PROBE);
    if (end == NULL && left > STRING_PROBE) {
        end = memchr(from + STRING_PROBE, 0, left - STRING_PROBE);
    }
    if (end == NULL) {
        PyErr_SetString(PyExc_IndexError, "no NUL before the end of memory");
        return NULL;
    }
    return PyBytes_FromStringAndSize((const char *)from, (Py_ssize_t)(end - from));
}

static int Memory_init(Memory *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"data", "size", "memory", "owner", "context_of", NULL};
    unsigned long long data, size, memory;
    PyObject *owner, *context_of;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "KKKOO", keywords, &data, &size, &memory,
                                     &owner, &context_of)) {
        return -1;
    }
    if (data == 0 || size == 0 || memory == 0) {
        PyErr_SetString(PyExc_ValueError, "null address");
        return -1;
    }
    if (!PyCallable_Check(context_of)) {
        PyErr_SetString(PyExc_TypeError, "context_of must be callable");
        return -1;
    }
    self->data = (memory_data_fn)(uintptr_t)data;
    self->size = (memory_size_fn)(uintptr_t)size;
    self->memory = (void *)(uintptr_t)memory;
    Py_INCREF(owner);
    Py_XSETREF(self->owner, owner);
    Py_INCREF(context_of);
    Py_XSETREF(self->context_of, context_of);
    return 0;
}

static int Memory_traverse(Memory *self, visitproc visit, void *arg) {
    Py_VISIT(self->owner);
    Py_VISIT(self->context_of);
    return 0;
}

static int Memory_clear(Memory *self) {
    Py_CLEAR(self->owner);
    Py_CLEAR(self->context_of);
    return 0;
}

static void Memory_dealloc(Memory *self) {
    PyObject_GC_UnTrack(self);
    Memory_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Memory_methods[] = {
    {"size", (PyCFunction)Memory_size, METH_O, "size(store): the memory's size in bytes."},
    {"read", (PyCFunction)(void (*)(void))Memory_read, METH_FASTCALL,
     "read(store, start, stop): those bytes (IndexError out of bounds)."},
    {"write", (PyCFunction)(void (*)(void))Memory_write, METH_FASTCALL,
     "write(store, data, start) (IndexError out of bounds)."},
    {"string", (PyCFunction)(void (*)(void))Memory_string, METH_FASTCALL,
     "string(store, start): the bytes up to the next NUL (IndexError if memory ends first)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Memory_members[] = {
    {"memory", T_OBJECT, offsetof(Memory, owner), READONLY, "The wasmtime.Memory."},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef Memory_getset[] = {
    {"fast", (getter)Export_fast, NULL, "Access goes through the C API directly (always).",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject MemoryType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pfs.external.wasm._guestcall.Memory",
    .tp_doc = "A guest's linear memory, read and written bounds-checked; asked for its size "
              "and base at every access (growing may move it).",
    .tp_basicsize = sizeof(Memory),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Memory_init,
    .tp_dealloc = (destructor)Memory_dealloc,
    .tp_traverse = (traverseproc)Memory_traverse,
    .tp_clear = (inquiry)Memory_clear,
    .tp_methods = Memory_methods,
    .tp_members = Memory_members,
    .tp_getset = Memory_getset,
};

/* -- set_epoch_deadline -------------------------------------------------------------------- */

typedef void (*set_deadline_fn)(void *context, uint64_t ticks);

static PyObject *set_epoch_deadline(PyObject *Py_UNUSED(module), PyObject *const *args,
                                    Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "set_epoch_deadline(function, context, ticks)");
        return NULL;
    }
    void *function = PyLong_AsVoidPtr(args[0]);
    void *context = PyLong_AsVoidPtr(args[1]);
    unsigned long long ticks = PyLong_AsUnsignedLongLong(args[2]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (function == NULL || context == NULL) {
        PyErr_SetString(PyExc_ValueError, "null address");
        return NULL;
    }
    ((set_deadline_fn)function)(context, ticks);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"set_epoch_deadline", (PyCFunction)(void (*)(void))set_epoch_deadline, METH_FASTCALL,
     "set_epoch_deadline(function, context, ticks): call "
     "wasmtime_context_set_epoch_deadline (at `function`) for the store context."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pfs.external.wasm._guestcall",
    .m_doc = "Guest export calls and guest memory access through wasmtime's C API, in C.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__guestcall(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddType(m, &ExportType) < 0 || PyModule_AddType(m, &MemoryType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
