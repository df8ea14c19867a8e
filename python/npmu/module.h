/* module.h -- private to python/npmu: the extension's objects and the helpers its files share. */
#ifndef NPMU_PY_MODULE_H
#define NPMU_PY_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdatomic.h>

#include <npmu.h>

/*
 * Threads. A libnpmu connection runs one call at a time: its completion queue is shared by
 * the transfers of every handle opened on it. So every Connection carries a lock, and each
 * call on it or on an object opened through it runs with that lock held and the GIL released
 * (LOCKED below): Python threads may share any object, other threads run meanwhile, and calls
 * through one connection queue up (a thread that wants parallel transfers opens its own
 * Connection). Closing takes the same lock, so a handle is never freed under a running call;
 * a call that finds its handle closed returns NPMU_PY_CLOSED.
 */
#define NPMU_PY_CLOSED (-2001) /* beside the NPMU_E_* codes: the object was closed */
#define NPMU_PY_VIEWED (-2002) /* a view of its memory (a stream's state) is alive */

struct npmu_py_child;

/* npmu.Connection. */
typedef struct {
	PyObject_HEAD
	struct npmu_conn *conn;          /* NULL once closed */
	PyThread_type_lock lock;         /* held around every library call (see above) */
	struct npmu_py_child *children;  /* objects opened on it and still open */
	PyObject *server;                /* what it was asked to connect to (str or None) */
} ConnectionObject;

/* The head of every object opened through a connection (Region, Stream, Dataset): it keeps
 * the connection alive and is closed with it. The list is changed with the GIL held only. */
struct npmu_py_child {
	PyObject_HEAD
	ConnectionObject *owner;          /* a strong reference, set once */
	struct npmu_py_child *prev, *next; /* in owner->children while linked */
	int linked;                        /* in that list: open, or closed by nobody yet */
	int (*close)(struct npmu_py_child *self); /* frees the handle, owner's lock held: 0, or
						  * NPMU_PY_VIEWED (nothing done) */
};

/* LOCKED(conn, stmt) -- run stmt with the GIL released and conn's lock held. */
#define LOCKED(c, stmt)                                                                        \
	do {                                                                                   \
		Py_BEGIN_ALLOW_THREADS                                                         \
		PyThread_acquire_lock((c)->lock, WAIT_LOCK);                                   \
		stmt;                                                                          \
		PyThread_release_lock((c)->lock);                                              \
		Py_END_ALLOW_THREADS                                                           \
	} while (0)

extern PyTypeObject npmu_py_connection_type, npmu_py_region_type, npmu_py_stream_type,
	npmu_py_dataset_type;
extern PyTypeObject *npmu_py_region_info, *npmu_py_unit_info, *npmu_py_copy_info,
	*npmu_py_mirror_info, *npmu_py_stream_info, *npmu_py_checkpoint, *npmu_py_stripe_report,
	*npmu_py_stripe_info, *npmu_py_dataset_version;

/* errors.c */
/* npmu_py_errors_init -- npmu.Error and one subclass per NPMU_E_* code, added to module m. */
int npmu_py_errors_init(PyObject *m);
/* npmu_py_raise -- set the exception for library code rc (or NPMU_PY_CLOSED), naming what
 * failed; returns NULL. */
PyObject *npmu_py_raise(int rc, const char *what, PyObject *name);

/* args.c: argument checks shared by every object */
/* npmu_py_u64 -- an int >= 0 (ValueError naming arg otherwise); 0 or -1. */
int npmu_py_u64(PyObject *o, const char *arg, uint64_t *out);
/* npmu_py_name -- a str without NUL as UTF-8 (alive as long as o); NULL with an exception. */
const char *npmu_py_name(PyObject *o, const char *arg);
/* npmu_py_state_name -- a version's state in one word ("protected", "staged", ...). */
const char *npmu_py_state_name(enum npmu_version_state s);

/* npmu_py_level -- a durability (npmu.PLACED or npmu.PERSISTENT); 0 or -1. */
int npmu_py_level(int level, enum npmu_durability *out);
/* npmu_py_copy -- a copy to read from (None: the nearest); 0 or -1. */
int npmu_py_copy(PyObject *o, enum npmu_copy *out);
/* npmu_py_read_buffer -- a contiguous buffer to send (TypeError naming arg otherwise). */
int npmu_py_read_buffer(PyObject *o, Py_buffer *view, const char *arg);
/* npmu_py_write_buffer -- a contiguous writable buffer to fill (TypeError for a read-only one). */
int npmu_py_write_buffer(PyObject *o, Py_buffer *view, const char *arg);

/* child.c: the objects opened through a connection */
/* npmu_py_child_open -- link a new child to its connection (taking a reference to it). */
void npmu_py_child_open(struct npmu_py_child *ch, ConnectionObject *owner,
			int (*close)(struct npmu_py_child *));
/* npmu_py_child_close -- close a child: its handle freed under the lock, then unlinked and its
 * connection let go; idempotent. 0, or -1 with BufferError while a view of it is alive. */
int npmu_py_child_close(struct npmu_py_child *ch);
/* npmu_py_child_dealloc -- a child's tp_dealloc tail: close, drop the connection, free. */
void npmu_py_child_dealloc(struct npmu_py_child *ch);

/* info.c: the read-only records returned (struct sequences) */
int npmu_py_info_init(PyObject *m);
PyObject *npmu_py_region_info_new(const struct npmu_region_info *i);
PyObject *npmu_py_unit_info_new(const struct npmu_unit_info *i);
PyObject *npmu_py_mirror_info_new(const struct npmu_mirror_info *i);
PyObject *npmu_py_stream_info_new(const struct npmu_ckpt_info *i);
PyObject *npmu_py_stripe_report_new(const struct npmu_stripe_report *r, uint64_t length);
PyObject *npmu_py_stripe_info_new(const struct npmu_stripe_info *i);
PyObject *npmu_py_dataset_version_new(const struct npmu_dataset_version *v);

/* Connection methods defined beside the objects they concern. */
/* stream.c */
PyObject *npmu_py_create_stream(ConnectionObject *c, PyObject *args, PyObject *kw);
PyObject *npmu_py_open_primary(ConnectionObject *c, PyObject *args, PyObject *kw);
PyObject *npmu_py_open_backup(ConnectionObject *c, PyObject *args, PyObject *kw);
/* sets.c */
PyObject *npmu_py_stripe_put(ConnectionObject *c, PyObject *args, PyObject *kw);
PyObject *npmu_py_stripe_get(ConnectionObject *c, PyObject *args, PyObject *kw);
PyObject *npmu_py_stripe_read(ConnectionObject *c, PyObject *args, PyObject *kw);
PyObject *npmu_py_stripe_stat(ConnectionObject *c, PyObject *arg);
PyObject *npmu_py_stripe_rebuild(ConnectionObject *c, PyObject *arg);
PyObject *npmu_py_stripe_delete(ConnectionObject *c, PyObject *arg);
PyObject *npmu_py_stripe_versions(ConnectionObject *c, PyObject *arg);
PyObject *npmu_py_stripe_wait(ConnectionObject *c, PyObject *args, PyObject *kw);
PyObject *npmu_py_stripe_protect(ConnectionObject *c, PyObject *arg);
/* dataset.c */
PyObject *npmu_py_open_dataset(ConnectionObject *c, PyObject *args, PyObject *kw);
PyObject *npmu_py_delete_dataset(ConnectionObject *c, PyObject *arg);
/* region.c */
PyObject *npmu_py_open_region(ConnectionObject *c, PyObject *args, PyObject *kw);

#endif
