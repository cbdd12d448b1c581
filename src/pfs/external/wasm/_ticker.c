/* pfs.external.wasm._ticker: a native thread that calls one C function every interval.
 *
 * The WASM runtime's epoch ticker. A Python thread cannot tick while a guest call holds the
 * GIL, so guest calls had to release it, and taking it back costs more than a short call.
 * Ticking from a thread that never touches the interpreter lets guest calls keep the GIL:
 * each tick ends the running call's epoch slice, where it hands the GIL over (as Python
 * threads do every switch interval) and checks its deadline.
 *
 * The function is given by address (wasmtime_engine_increment_epoch, which its docs call
 * safe from any thread and async-signal-safe) and gets one pointer argument (the engine).
 *
 * It ticks only while poked: poke() says a call started or is still running (the runtime pokes
 * at every outermost guest call and at every tick a call sees). An interval with no poke sends
 * the thread to sleep until the next one, so an idle server is not woken 200 times a second.
 * poke() is lock-free unless the thread sleeps.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

typedef void (*tick_function)(void *);

typedef struct {
    PyObject_HEAD
    tick_function function;
    void *argument;
    PyObject *owner;  /* what owns `argument`: kept alive until the thread has ended */
    struct timespec interval;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    int running;  /* a thread was started and not yet joined */
    int stopping; /* guarded by mutex */
    unsigned long long ticks;  /* guarded by mutex */
    atomic_int poked;  /* poke() since the thread last looked */
    atomic_int idle;   /* the thread sleeps until poked (set and cleared under mutex) */
} Ticker;

static void add_interval(struct timespec *at, const struct timespec *interval) {
    at->tv_sec += interval->tv_sec;
    at->tv_nsec += interval->tv_nsec;
    if (at->tv_nsec >= 1000000000L) {
        at->tv_sec += 1;
        at->tv_nsec -= 1000000000L;
    }
}

/* With the mutex held: sleep until poked (or stopping) unless a poke came meanwhile. Stores
 * and loads are sequentially consistent: either this sees poke()'s `poked`, or poke() sees
 * `idle` and signals under the mutex, which cannot happen before this waits. */
static void sleep_until_poked(Ticker *self) {
    atomic_store(&self->idle, 1);
    if (atomic_load(&self->poked)) {
        atomic_store(&self->idle, 0);
        return;
    }
    while (atomic_load(&self->idle) && !self->stopping) {
        pthread_cond_wait(&self->wake, &self->mutex);
    }
    /* The poke stays noted: the interval that starts now ends with a tick. */
}

static void *tick_loop(void *arg) {
    Ticker *self = (Ticker *)arg;
    struct timespec next;
    pthread_mutex_lock(&self->mutex);
    sleep_until_poked(self);
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!self->stopping) {
        add_interval(&next, &self->interval);
        int rc = 0;
        while (!self->stopping && rc != ETIMEDOUT) {
            rc = pthread_cond_timedwait(&self->wake, &self->mutex, &next);
        }
        if (self->stopping) {
            break;
        }
        if (!atomic_exchange(&self->poked, 0)) {
            /* Nothing started or ran for a whole interval: no tick is needed until a poke. */
            sleep_until_poked(self);
            clock_gettime(CLOCK_MONOTONIC, &next);
            continue;
        }
        self->ticks++;
        pthread_mutex_unlock(&self->mutex);
        self->function(self->argument);
        pthread_mutex_lock(&self->mutex);
        /* After a long stall (a suspended process), tick once, not once per missed interval. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec)) {
            next = now;
        }
    }
    pthread_mutex_unlock(&self->mutex);
    return NULL;
}

static void stop_thread(Ticker *self) {
    if (!self->running) {
        return;
    }
    pthread_mutex_lock(&self->mutex);
    self->stopping = 1;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->mutex);
    Py_BEGIN_ALLOW_THREADS
    pthread_join(self->thread, NULL);
    Py_END_ALLOW_THREADS
    self->running = 0;
    Py_CLEAR(self->owner);
}

static int Ticker_init(Ticker *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"function", "argument", "interval", "owner", NULL};
    unsigned long long function, argument;
    double interval;
    PyObject *owner = Py_None;
    if (self->running) {
        PyErr_SetString(PyExc_RuntimeError, "ticker already started");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "KKd|O", keywords, &function, &argument,
                                     &interval, &owner)) {
        return -1;
    }
    if (function == 0) {
        PyErr_SetString(PyExc_ValueError, "function address is null");
        return -1;
    }
    if (!(interval >= 0.0001 && interval <= 3600.0)) {
        PyErr_SetString(PyExc_ValueError, "interval must be between 0.0001 and 3600 seconds");
        return -1;
    }
    self->function = (tick_function)(uintptr_t)function;
    self->argument = (void *)(uintptr_t)argument;
    self->interval.tv_sec = (time_t)interval;
    self->interval.tv_nsec = (long)((interval - (double)self->interval.tv_sec) * 1e9);
    self->stopping = 0;
    self->ticks = 0;
    atomic_store(&self->poked, 0);
    atomic_store(&self->idle, 0);

    pthread_condattr_t attributes;
    if (pthread_condattr_init(&attributes) != 0 ||
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&self->wake, &attributes) != 0 ||
        pthread_mutex_init(&self->mutex, NULL) != 0) {
        PyErr_SetString(PyExc_OSError, "cannot set up the ticker's condition variable");
        return -1;
    }
    pthread_condattr_destroy(&attributes);
    int rc = pthread_create(&self->thread, NULL, tick_loop, self);
    if (rc != 0) {
        errno = rc;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    self->running = 1;
    Py_INCREF(owner);
    self->owner = owner;
    return 0;
}

static PyObject *Ticker_poke(Ticker *self, PyObject *Py_UNUSED(ignored)) {
    atomic_store(&self->poked, 1);
    if (atomic_load(&self->idle) && self->running) {
        pthread_mutex_lock(&self->mutex);
        atomic_store(&self->idle, 0);
        pthread_cond_signal(&self->wake);
        pthread_mutex_unlock(&self->mutex);
    }
    Py_RETURN_NONE;
}

static PyObject *Ticker_stop(Ticker *self, PyObject *Py_UNUSED(ignored)) {
    stop_thread(self);
    Py_RETURN_NONE;
}

static PyObject *Ticker_ticks(Ticker *self, void *Py_UNUSED(closure)) {
    if (!self->running) {
        return PyLong_FromUnsignedLongLong(self->ticks);
    }
    pthread_mutex_lock(&self->mutex);
    unsigned long long ticks = self->ticks;
    pthread_mutex_unlock(&self->mutex);
    return PyLong_FromUnsignedLongLong(ticks);
}

static PyObject *Ticker_running(Ticker *self, void *Py_UNUSED(closure)) {
    return PyBool_FromLong(self->running);
}

static void Ticker_dealloc(Ticker *self) {
    stop_thread(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Ticker_methods[] = {
    {"poke", (PyCFunction)Ticker_poke, METH_NOARGS,
     "A call started or is still running: tick at the next interval (wakes a sleeping thread)."},
    {"stop", (PyCFunction)Ticker_stop, METH_NOARGS,
     "Stop ticking; returns once the thread has ended (no call runs after it)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Ticker_getset[] = {
    {"ticks", (getter)Ticker_ticks, NULL, "Calls made so far.", NULL},
    {"running", (getter)Ticker_running, NULL, "Whether the thread runs (ticking or idle).",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject TickerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pfs.external.wasm._ticker.Ticker",
    .tp_doc = "Ticker(function, argument, interval, owner=None): calls the C function at "
              "address `function` with the pointer `argument` every `interval` seconds while "
              "poked (see poke()), on a native thread that never takes the GIL, until stop(); "
              "`owner` (what owns `argument`) is kept alive until then.",
    .tp_basicsize = sizeof(Ticker),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Ticker_init,
    .tp_dealloc = (destructor)Ticker_dealloc,
    .tp_methods = Ticker_methods,
    .tp_getset = Ticker_getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pfs.external.wasm._ticker",
    .m_doc = "A native thread calling a C function periodically (the WASM epoch ticker).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__ticker(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddType(m, &TickerType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
