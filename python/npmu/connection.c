/* connection.c -- npmu.Connection: connect, the regions' names (create, list, stat, grow,
 * delete, revoke), units, and closing the objects opened through it with it. */
#include "module.h"

/* ---- the connection -------------------------------------------------------------------- */

/* conn_new -- allocate an unconnected Connection (its lock made). */
static PyObject *conn_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	(void)args;
	(void)kw;
	ConnectionObject *self = (ConnectionObject *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	self->lock = PyThread_allocate_lock();
	if (!self->lock) {
		Py_DECREF(self);
		return PyErr_NoMemory();
	}
	return (PyObject *)self;
}

/* conn_init -- connect to the manager (the GIL released while it answers). */
static int conn_init(ConnectionObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"server", "provider", "credentials", "timeout_ms",
				 "io_timeout_ms", NULL};
	PyObject *server = Py_None;
	const char *provider = NULL, *credentials = NULL;
	struct npmu_conn_cfg cfg = {0};
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|Ozz$ii:Connection", kwlist, &server,
					 &provider, &credentials, &cfg.timeout_ms,
					 &cfg.io_timeout_ms))
		return -1;
	if (self->conn) {
		PyErr_SetString(PyExc_RuntimeError, "Connection: already connected");
		return -1;
	}
	if (cfg.timeout_ms < 0 || cfg.io_timeout_ms < 0) {
		PyErr_SetString(PyExc_ValueError, "timeout_ms and io_timeout_ms must be >= 0");
		return -1;
	}
	if (server != Py_None && !(cfg.server = npmu_py_name(server, "server")))
		return -1;
	cfg.provider = provider;
	cfg.credentials = credentials;
	struct npmu_conn *conn = NULL;
	int rc;
	LOCKED(self, rc = npmu_conn_new(&cfg, &conn));
	if (rc != 0) {
		npmu_py_raise(rc, "Connection", server == Py_None ? NULL : server);
		return -1;
	}
	self->conn = conn;
	Py_INCREF(server);
	Py_XSETREF(self->server, server);
	return 0;
}

/* conn_close -- close every object opened through it, then the connection; idempotent.
 * BufferError, and nothing more closed, at an object a view of which is alive. */
static PyObject *conn_close(ConnectionObject *self, PyObject *unused)
{
	(void)unused;
	struct npmu_py_child *ch;
	while ((ch = self->children)) {
		Py_INCREF(ch); /* it may lose its last other reference while the GIL is released */
		int rc = npmu_py_child_close(ch);
		Py_DECREF(ch);
		if (rc < 0)
			return NULL;
	}
	LOCKED(self, if (self->conn) npmu_conn_delete(&self->conn));
	Py_RETURN_NONE;
}

/* conn_dealloc -- close (no child is left: each holds a reference) and free. */
static void conn_dealloc(ConnectionObject *self)
{
	if (self->conn)
		npmu_conn_delete(&self->conn);
	if (self->lock)
		PyThread_free_lock(self->lock);
	Py_XDECREF(self->server);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* conn_enter -- `with npmu.Connection(...) as c:` */
static PyObject *conn_enter(ConnectionObject *self, PyObject *unused)
{
	(void)unused;
	if (!self->conn)
		return npmu_py_raise(NPMU_PY_CLOSED, "Connection.__enter__", NULL);
	Py_INCREF(self);
	return (PyObject *)self;
}

/* conn_exit -- close on leaving the block; exceptions go on. */
static PyObject *conn_exit(ConnectionObject *self, PyObject *args)
{
	(void)args;
	PyObject *r = conn_close(self, NULL);
	if (!r)
		return NULL;
	Py_DECREF(r);
	Py_RETURN_FALSE;
}

/* conn_repr -- <npmu.Connection to 'host:port'> or closed. */
static PyObject *conn_repr(ConnectionObject *self)
{
	PyObject *s = self->server ? self->server : Py_None;
	return PyUnicode_FromFormat("<npmu.Connection %R%s>", s, self->conn ? "" : " closed");
}

/* conn_closed -- the `closed` attribute. */
static PyObject *conn_closed(ConnectionObject *self, void *unused)
{
	(void)unused;
	return PyBool_FromLong(self->conn == NULL);
}

/* conn_server -- the `server` attribute. */
static PyObject *conn_server(ConnectionObject *self, void *unused)
{
	(void)unused;
	PyObject *s = self->server ? self->server : Py_None;
	Py_INCREF(s);
	return s;
}

/* ---- region names ------------------------------------------------------------------------ */

/* create_region -- create NAME of SIZE bytes, optionally mirrored or on chosen units. */
static PyObject *create_region(ConnectionObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"name", "size", "mirror", "unit", "mirror_unit", NULL};
	const char *name, *unit = NULL, *mirror_unit = NULL;
	PyObject *name_o, *size_o;
	int mirror = 0;
	uint64_t size;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|p$zz:create_region", kwlist, &name_o,
					 &size_o, &mirror, &unit, &mirror_unit) ||
	    !(name = npmu_py_name(name_o, "name")) || npmu_py_u64(size_o, "size", &size) < 0)
		return NULL;
	if (size == 0) {
		PyErr_SetString(PyExc_ValueError, "create_region: size must be > 0");
		return NULL;
	}
	struct npmu_region_opts opts = {.unit = unit, .mirror = mirror, .mirror_unit = mirror_unit};
	struct npmu_region_info info;
	int rc;
	LOCKED(self, rc = self->conn ? npmu_region_create_ex(self->conn, name, size, &opts, &info)
				     : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "create_region", name_o);
	return npmu_py_region_info_new(&info);
}

/* stat_region -- one region's RegionInfo. */
static PyObject *stat_region(ConnectionObject *self, PyObject *name)
{
	const char *n = npmu_py_name(name, "name");
	if (!n)
		return NULL;
	struct npmu_region_info info;
	int rc;
	LOCKED(self, rc = self->conn ? npmu_region_stat(self->conn, n, &info) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "stat_region", name);
	return npmu_py_region_info_new(&info);
}

/* grow_region -- grow NAME to SIZE bytes (data and open rights kept); its new RegionInfo. */
static PyObject *grow_region(ConnectionObject *self, PyObject *args)
{
	const char *name;
	PyObject *name_o, *size_o;
	uint64_t size;
	if (!PyArg_ParseTuple(args, "OO:grow_region", &name_o, &size_o) ||
	    !(name = npmu_py_name(name_o, "name")) || npmu_py_u64(size_o, "size", &size) < 0)
		return NULL;
	struct npmu_region_info info;
	int rc;
	LOCKED(self, rc = self->conn ? npmu_region_resize(self->conn, name, size, &info)
				     : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "grow_region", name_o);
	return npmu_py_region_info_new(&info);
}

/* name_call -- fn(conn, name) under the lock: the calls that take a name only. */
static int name_call(ConnectionObject *self, PyObject *name, const char *what,
		    int (*fn)(struct npmu_conn *, const char *))
{
	const char *n = npmu_py_name(name, "name");
	if (!n)
		return -1;
	int rc;
	LOCKED(self, rc = self->conn ? fn(self->conn, n) : NPMU_PY_CLOSED);
	if (rc < 0) {
		npmu_py_raise(rc, what, name);
		return -1;
	}
	return rc;
}

/* delete_region -- delete NAME (every right to it revoked at once). */
static PyObject *delete_region(ConnectionObject *self, PyObject *name)
{
	if (name_call(self, name, "delete_region", npmu_region_delete) < 0)
		return NULL;
	Py_RETURN_NONE;
}

/* revoke_region -- (owner) close every open right to NAME; how many were. */
static PyObject *revoke_region(ConnectionObject *self, PyObject *name)
{
	int n = name_call(self, name, "revoke_region", npmu_region_revoke);
	return n < 0 ? NULL : PyLong_FromLong(n);
}

/* regions -- every region's RegionInfo. */
static PyObject *regions(ConnectionObject *self, PyObject *unused)
{
	(void)unused;
	struct npmu_region_info *list = NULL;
	size_t n = 0;
	int rc;
	LOCKED(self, rc = self->conn ? npmu_region_list(self->conn, &list, &n) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "regions", NULL);
	PyObject *out = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; out && i < n; i++) {
		PyObject *r = npmu_py_region_info_new(&list[i]);
		if (!r)
			Py_CLEAR(out);
		else
			PyList_SET_ITEM(out, (Py_ssize_t)i, r);
	}
	free(list);
	return out;
}

/* units -- the manager's units, a UnitInfo each. */
static PyObject *units(ConnectionObject *self, PyObject *unused)
{
	(void)unused;
	struct npmu_unit_info *list = NULL;
	size_t n = 0;
	int rc;
	LOCKED(self, rc = self->conn ? npmu_unit_list(self->conn, &list, &n) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "units", NULL);
	PyObject *out = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; out && i < n; i++) {
		PyObject *u = npmu_py_unit_info_new(&list[i]);
		if (!u)
			Py_CLEAR(out);
		else
			PyList_SET_ITEM(out, (Py_ssize_t)i, u);
	}
	free(list);
	return out;
}

/* mirror_stat -- what the manager finds of a mirrored region's copies (a MirrorInfo). */
static PyObject *mirror_stat(ConnectionObject *self, PyObject *name)
{
	const char *n = npmu_py_name(name, "name");
	if (!n)
		return NULL;
	struct npmu_mirror_info info;
	int rc;
	LOCKED(self, rc = self->conn ? npmu_region_mirror_stat(self->conn, n, &info)
				     : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "mirror_stat", name);
	return npmu_py_mirror_info_new(&info);
}

static PyMethodDef conn_methods[] = {
	{"close", (PyCFunction)conn_close, METH_NOARGS,
	 "close($self)\n--\n\nClose every region, stream and dataset opened through this connection,\n"
	 "then the connection. Closing again does nothing. BufferError, and the rest left open,\n"
	 "at a stream a view of whose state is alive."},
	{"__enter__", (PyCFunction)conn_enter, METH_NOARGS, "Return self."},
	{"__exit__", (PyCFunction)conn_exit, METH_VARARGS, "Close the connection."},
	{"create_region", (PyCFunction)(void (*)(void))create_region, METH_VARARGS | METH_KEYWORDS,
	 "create_region($self, name, size, mirror=False, *, unit=None, mirror_unit=None)\n--\n\n"
	 "Create region NAME of SIZE bytes (rounded up to pages) and return its RegionInfo.\n"
	 "mirror=True keeps a primary and a mirror copy on two units of distinct fault\n"
	 "domains (needs pmmd); unit and mirror_unit ('host:port') choose them.\n"
	 "Raises ExistsError, BadNameError, NoSpaceError, ..."},
	{"open_region", (PyCFunction)(void (*)(void))npmu_py_open_region,
	 METH_VARARGS | METH_KEYWORDS,
	 "open_region($self, name, write=False, copy=None)\n--\n\n"
	 "Open a right to region NAME: read-only, or read-write with write=True, and return a\n"
	 "Region. copy (npmu.Copy) is the copy of a mirrored region reads go to (None: the\n"
	 "nearest in sync). A read-write open of a mirrored region closes earlier writers'."},
	{"regions", (PyCFunction)regions, METH_NOARGS,
	 "regions($self)\n--\n\nEvery region, a RegionInfo each."},
	{"stat_region", (PyCFunction)stat_region, METH_O,
	 "stat_region($self, name)\n--\n\nRegion NAME's RegionInfo (NotFoundError if none)."},
	{"grow_region", (PyCFunction)grow_region, METH_VARARGS,
	 "grow_region($self, name, size)\n--\n\nGrow region NAME to SIZE bytes, keeping its data and open\n"
	 "rights (ShrinkError for a smaller size); its new RegionInfo. Open Regions learn the\n"
	 "size with refresh()."},
	{"delete_region", (PyCFunction)delete_region, METH_O,
	 "delete_region($self, name)\n--\n\nDelete region NAME; every right to it is revoked at once."},
	{"revoke_region", (PyCFunction)revoke_region, METH_O,
	 "revoke_region($self, name)\n--\n\n(The owner) close every open right to region NAME at once;\n"
	 "returns how many were revoked."},
	{"mirror_stat", (PyCFunction)mirror_stat, METH_O,
	 "mirror_stat($self, name)\n--\n\nThe copies of mirrored region NAME as the manager finds them\n"
	 "(a MirrorInfo; InvalidArgumentError for a region that is not mirrored)."},
	{"units", (PyCFunction)units, METH_NOARGS,
	 "units($self)\n--\n\nThe manager's units, a UnitInfo each."},
	{"create_stream", (PyCFunction)(void (*)(void))npmu_py_create_stream,
	 METH_VARARGS | METH_KEYWORDS,
	 "create_stream($self, name, state_size, mode=npmu.StreamMode.OVERWRITE, *, keep=0,\n"
	 "              log_size=0, mirror=False)\n--\n\n"
	 "Create checkpoint stream NAME (and NAME.cursor) for states of up to state_size bytes.\n"
	 "OVERWRITE: each commit replaces the state and the last `keep` (2..8; 0: 2) stay\n"
	 "readable; APPEND: a base and update records (log_size bytes; 0: 4 x state_size).\n"
	 "mirror=True keeps it on two units (pmmd)."},
	{"primary", (PyCFunction)(void (*)(void))npmu_py_open_primary, METH_VARARGS | METH_KEYWORDS,
	 "primary($self, name, *, level=npmu.PERSISTENT, lease_ms=0, unit_wait_ms=0, copy=None)\n--\n\n"
	 "Become stream NAME's writer and return the Stream: take its lease (LeaseError while\n"
	 "a live writer holds it; a lapsed one is fenced) and load its latest state."},
	{"backup", (PyCFunction)(void (*)(void))npmu_py_open_backup, METH_VARARGS | METH_KEYWORDS,
	 "backup($self, name, *, observe=False, lease_ms=0, level=npmu.PERSISTENT,\n"
	 "       unit_wait_ms=0, copy=None)\n--\n\n"
	 "Follow stream NAME read-only and return the Stream (follow(), takeover()).\n"
	 "observe=True only looks: no consumed marks, no takeover."},
	{"stripe_put", (PyCFunction)(void (*)(void))npmu_py_stripe_put, METH_VARARGS | METH_KEYWORDS,
	 "stripe_put($self, name, data, *, k=0, m=0, n=0, seg_size=0, keep=0, capacity=0,\n"
	 "           mirror=False, level=npmu.PERSISTENT, staged=False, stage_unit=None,\n"
	 "           stage_slots=0, stage_level=npmu.PLACED, sync_when_full=False, wait_ms=0)\n"
	 "--\n\n"
	 "Put DATA (any buffer, sent without a copy) as the next version of striped set NAME,\n"
	 "creating the set on first use (k data + m parity sub-segments per group over n\n"
	 "units; 0: 4, 2, k+m). Returns the version number. staged=True writes it once, plain,\n"
	 "to the set's staging region (on stage_unit, else the manager's choice; stage_slots\n"
	 "versions at once, default 2) and returns: an encoder (npmu-encoder) protects it\n"
	 "later (stripe_wait). With every slot waiting it waits wait_ms (0: 60000) for an\n"
	 "encoder, or with sync_when_full puts synchronously."},
	{"stripe_get", (PyCFunction)(void (*)(void))npmu_py_stripe_get, METH_VARARGS | METH_KEYWORDS,
	 "stripe_get($self, name, version=0)\n--\n\n"
	 "Restore version VERSION (0: the newest restorable) of set NAME: (bytes, StripeReport).\n"
	 "The bytes are a copy; stripe_read restores into a buffer of yours instead."},
	{"stripe_read", (PyCFunction)(void (*)(void))npmu_py_stripe_read, METH_VARARGS | METH_KEYWORDS,
	 "stripe_read($self, name, buf, version=0)\n--\n\n"
	 "Restore set NAME into writable buffer BUF without a copy: a StripeReport whose length\n"
	 "is the bytes restored. TooBigError when BUF is too small (nothing restored)."},
	{"stripe_stat", (PyCFunction)npmu_py_stripe_stat, METH_O,
	 "stripe_stat($self, name)\n--\n\nSet NAME's layout, versions and members (a StripeInfo)."},
	{"stripe_rebuild", (PyCFunction)npmu_py_stripe_rebuild, METH_O,
	 "stripe_rebuild($self, name)\n--\n\nRegenerate every lost or corrupt sub-segment of set NAME; a\n"
	 "StripeReport of what was written."},
	{"stripe_delete", (PyCFunction)npmu_py_stripe_delete, METH_O,
	 "stripe_delete($self, name)\n--\n\nDelete set NAME: every member region, and its "
	 "staging region."},
	{"stripe_versions", (PyCFunction)npmu_py_stripe_versions, METH_O,
	 "stripe_versions($self, name)\n--\n\nEvery version set NAME holds or has staged, newest\n"
	 "first: dicts of version, length, state ('protected', 'partial', 'staged', 'superseded',\n"
	 "'lost'), members, staged_ms and staging (the staging unit)."},
	{"stripe_wait", (PyCFunction)(void (*)(void))npmu_py_stripe_wait, METH_VARARGS | METH_KEYWORDS,
	 "stripe_wait($self, name, version, timeout_ms=60000)\n--\n\n"
	 "Wait until VERSION of set NAME, or a newer one, is protected: the newest protected.\n"
	 "TimedOutError while it is still staged; LostError when no staging copy of it can be\n"
	 "read (its staging unit down)."},
	{"stripe_protect", (PyCFunction)npmu_py_stripe_protect, METH_O,
	 "stripe_protect($self, name)\n--\n\nProtect every staged version of set NAME now (an "
	 "encoder's work, once): how many.\nBusyError while another encoder holds the set."},
	{"open_dataset", (PyCFunction)(void (*)(void))npmu_py_open_dataset,
	 METH_VARARGS | METH_KEYWORDS,
	 "open_dataset($self, name, parts=0, *, k=0, m=0, n=0, mirror=False, seg_size=0, capacity=0,\n"
	 "             keep=0, pins=0, level=npmu.PERSISTENT)\n--\n\n"
	 "Open dataset NAME (created from these settings when missing and parts > 0; parts=0:\n"
	 "it must exist, for reading) and return a Dataset."},
	{"delete_dataset", (PyCFunction)npmu_py_delete_dataset, METH_O,
	 "delete_dataset($self, name)\n--\n\nDelete dataset NAME: every part and its catalog."},
	{NULL}};

static PyGetSetDef conn_getset[] = {
	{"closed", (getter)conn_closed, NULL, "True once closed.", NULL},
	{"server", (getter)conn_server, NULL, "The server asked for (None: $NPMU_SERVER or the "
	 "default).", NULL},
	{NULL}};

PyTypeObject npmu_py_connection_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "npmu.Connection",
	.tp_basicsize = sizeof(ConnectionObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Connection(server=None, provider=None, credentials=None, *, timeout_ms=0,\n"
		  "           io_timeout_ms=0)\n--\n\n"
		  "A connection to an npmu manager (an npmud's embedded one, or pmmd).\n\n"
		  "server is 'host:port' (None: $NPMU_SERVER, else 127.0.0.1:7411); provider the\n"
		  "libfabric provider (None: $NPMU_PROVIDER, else 'tcp'); credentials a client\n"
		  "credentials file (None: $NPMU_CREDENTIALS, else none). timeout_ms bounds a\n"
		  "control request (0: 10000); io_timeout_ms is how long a mirrored region's copy\n"
		  "may make no progress before it is given up (0: $NPMU_IO_TIMEOUT_MS, else 1000).\n\n"
		  "A context manager: leaving the block closes it, and every Region, Stream and\n"
		  "Dataset opened through it. Thread-safe: calls through one connection run one at a\n"
		  "time with the GIL released; open one Connection per thread for parallel transfers.",
	.tp_new = conn_new,
	.tp_init = (initproc)conn_init,
	.tp_dealloc = (destructor)conn_dealloc,
	.tp_repr = (reprfunc)conn_repr,
	.tp_methods = conn_methods,
	.tp_getset = conn_getset,
};
