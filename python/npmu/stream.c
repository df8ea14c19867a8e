/* stream.c -- npmu.Stream: a checkpoint stream's primary (commit, update) or backup (follow,
 * takeover), its state seen without a copy (the buffer protocol), its kept checkpoints. */
#include <time.h>

#include "module.h"

/*
 * The state a Stream exports is the library's own copy (npmu_ckpt_state), valid until the
 * next call that changes it. So while a view of it is alive (exports > 0) every such call --
 * commit, update, follow, takeover, close -- refuses with BufferError instead of moving the
 * memory under the view. exports changes under the connection's lock (a view is taken) or
 * atomically without it (a view is released), and is read under the lock.
 */
typedef struct {
	struct npmu_py_child base;
	struct npmu_ckpt *ck;  /* NULL once closed */
	PyObject *name;        /* str */
	atomic_int exports;    /* views of the state alive */
	const char *role;      /* "primary", "backup" or "observer" */
} StreamObject;

/* stream_free -- (the lock held) release the lease, close the rights, free: unless viewed. */
static int stream_free(struct npmu_py_child *ch)
{
	StreamObject *self = (StreamObject *)ch;
	if (atomic_load(&self->exports) > 0)
		return NPMU_PY_VIEWED;
	if (self->ck)
		npmu_ckpt_close(&self->ck);
	return 0;
}

/* changeable -- (the lock held) 0 when a call may change the state, else why not. */
static int changeable(StreamObject *self)
{
	return !self->ck ? NPMU_PY_CLOSED : atomic_load(&self->exports) > 0 ? NPMU_PY_VIEWED : 0;
}

/* npmu_py_create_stream -- Connection.create_stream(name, state_size, mode, ...). */
PyObject *npmu_py_create_stream(ConnectionObject *c, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"name", "state_size", "mode", "keep", "log_size", "mirror", NULL};
	PyObject *name_o, *size_o, *log_o = NULL;
	int mode = NPMU_CKPT_OVERWRITE, keep = 0, mirror = 0;
	const char *name;
	struct npmu_ckpt_cfg cfg = {0};
	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|i$iOp:create_stream", kwlist, &name_o,
					 &size_o, &mode, &keep, &log_o, &mirror) ||
	    !(name = npmu_py_name(name_o, "name")) ||
	    npmu_py_u64(size_o, "state_size", &cfg.state_size) < 0 ||
	    (log_o && npmu_py_u64(log_o, "log_size", &cfg.log_size) < 0))
		return NULL;
	if (mode != NPMU_CKPT_OVERWRITE && mode != NPMU_CKPT_APPEND)
		return PyErr_Format(PyExc_ValueError, "mode must be npmu.StreamMode.OVERWRITE or "
				    "APPEND, not %d", mode);
	if (keep != 0 && (keep < 2 || keep > 8))
		return PyErr_Format(PyExc_ValueError, "keep must be 2..8 (0: 2), not %d", keep);
	if (cfg.state_size == 0)
		return PyErr_Format(PyExc_ValueError, "state_size must be > 0");
	cfg.mode = (enum npmu_ckpt_mode)mode;
	cfg.keep = (uint32_t)keep;
	cfg.mirror = mirror;
	int rc;
	LOCKED(c, rc = c->conn ? npmu_ckpt_create(c->conn, name, &cfg) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "create_stream", name_o);
	Py_RETURN_NONE;
}

/* open_stream -- a Stream on NAME as primary or backup, from the keywords both take. */
static PyObject *open_stream(ConnectionObject *c, PyObject *args, PyObject *kw, int primary)
{
	static char *kwlist[] = {"name", "level", "lease_ms", "unit_wait_ms", "copy", "observe",
				 NULL};
	PyObject *name_o, *copy_o = Py_None;
	int level = NPMU_PERSISTENT, observe = 0;
	const char *name;
	struct npmu_ckpt_opts opts = {0};
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$iiiOp", kwlist, &name_o, &level,
					 &opts.lease_ms, &opts.unit_wait_ms, &copy_o, &observe) ||
	    !(name = npmu_py_name(name_o, "name")) || npmu_py_level(level, &opts.durability) < 0 ||
	    npmu_py_copy(copy_o, &opts.read_from) < 0)
		return NULL;
	if (opts.lease_ms < 0 || opts.unit_wait_ms < 0)
		return PyErr_Format(PyExc_ValueError, "lease_ms and unit_wait_ms must be >= 0");
	if (primary && observe)
		return PyErr_Format(PyExc_TypeError, "primary() takes no observe argument");
	opts.observe = observe;
	struct npmu_ckpt *ck = NULL;
	int rc;
	LOCKED(c, rc = !c->conn ? NPMU_PY_CLOSED
		       : primary ? npmu_ckpt_open_primary(c->conn, name, &opts, &ck)
				 : npmu_ckpt_open_backup(c->conn, name, &opts, &ck));
	if (rc != 0)
		return npmu_py_raise(rc, primary ? "primary" : "backup", name_o);
	StreamObject *self = PyObject_New(StreamObject, &npmu_py_stream_type);
	if (!self) {
		npmu_ckpt_close(&ck);
		return NULL;
	}
	self->ck = ck;
	Py_INCREF(name_o);
	self->name = name_o;
	atomic_init(&self->exports, 0);
	self->role = primary ? "primary" : observe ? "observer" : "backup";
	npmu_py_child_open(&self->base, c, stream_free);
	return (PyObject *)self;
}

/* npmu_py_open_primary -- Connection.primary(name, ...). */
PyObject *npmu_py_open_primary(ConnectionObject *c, PyObject *args, PyObject *kw)
{
	return open_stream(c, args, kw, 1);
}

/* npmu_py_open_backup -- Connection.backup(name, ...). */
PyObject *npmu_py_open_backup(ConnectionObject *c, PyObject *args, PyObject *kw)
{
	return open_stream(c, args, kw, 0);
}

/* stream_dealloc -- close (no view is alive: each holds a reference) and free. */
static void stream_dealloc(StreamObject *self)
{
	Py_CLEAR(self->name);
	npmu_py_child_dealloc(&self->base);
}

/* stream_commit -- commit(state): (primary) a whole new state from STATE's memory. */
static PyObject *stream_commit(StreamObject *self, PyObject *state)
{
	Py_buffer view;
	if (npmu_py_read_buffer(state, &view, "state") < 0)
		return NULL;
	int rc;
	LOCKED(self->base.owner, rc = changeable(self);
	       if (!rc) rc = npmu_ckpt_commit(self->ck, view.buf, (uint64_t)view.len));
	PyBuffer_Release(&view);
	if (rc != 0)
		return npmu_py_raise(rc, "Stream.commit", self->name);
	Py_RETURN_NONE;
}

/* stream_update -- update(offset, data): (primary, append) one committed update record. */
static PyObject *stream_update(StreamObject *self, PyObject *args)
{
	PyObject *off_o, *data_o;
	uint64_t off;
	Py_buffer view;
	if (!PyArg_ParseTuple(args, "OO:update", &off_o, &data_o) ||
	    npmu_py_u64(off_o, "offset", &off) < 0 || npmu_py_read_buffer(data_o, &view, "data") < 0)
		return NULL;
	if ((uint64_t)view.len > UINT32_MAX) {
		PyBuffer_Release(&view);
		return PyErr_Format(PyExc_ValueError, "update: data of %zd bytes is over 4 GiB",
				    view.len);
	}
	int rc;
	LOCKED(self->base.owner, rc = changeable(self);
	       if (!rc) rc = npmu_ckpt_update(self->ck, off, view.buf, (uint32_t)view.len));
	PyBuffer_Release(&view);
	if (rc != 0)
		return npmu_py_raise(rc, "Stream.update", self->name);
	Py_RETURN_NONE;
}

/* stream_follow -- follow(): (backup) apply what is new; how many commits were applied. */
static PyObject *stream_follow(StreamObject *self, PyObject *unused)
{
	(void)unused;
	int rc;
	LOCKED(self->base.owner, rc = changeable(self); if (!rc) rc = npmu_ckpt_follow(self->ck));
	if (rc < 0)
		return npmu_py_raise(rc, "Stream.follow", self->name);
	return PyLong_FromLong(rc);
}

#define TAKEOVER_SLICE_MS 100 /* signals (Ctrl-C) are looked at this often while waiting */

/* now_ms -- monotonic milliseconds. */
static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* stream_takeover -- takeover(wait=0.0): (backup) take the stream over once the primary's lease
 * lapses, waiting up to WAIT seconds, in slices so that a signal interrupts the wait. */
static PyObject *stream_takeover(StreamObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"wait", NULL};
	double wait = 0.0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|d:takeover", kwlist, &wait))
		return NULL;
	if (!(wait >= 0.0 && wait <= 86400.0))
		return PyErr_Format(PyExc_ValueError, "wait must be 0..86400 seconds");
	if (strcmp(self->role, "backup") != 0)
		return PyErr_Format(PyExc_ValueError, "Stream.takeover %R: only a backup takes over "
				    "(this stream's role is %s)", self->name, self->role);
	int64_t deadline = now_ms() + (int64_t)(wait * 1000);
	for (;;) {
		int64_t left = deadline - now_ms();
		int ms = left <= 0 ? 0 : left > TAKEOVER_SLICE_MS ? TAKEOVER_SLICE_MS : (int)left;
		int rc;
		LOCKED(self->base.owner, rc = changeable(self);
		       if (!rc) rc = npmu_ckpt_takeover(self->ck, ms));
		if (rc == 0) {
			self->role = "primary";
			Py_RETURN_NONE;
		}
		if ((rc != NPMU_E_LEASE && rc != NPMU_E_MANAGER) || ms == 0 || left <= 0)
			return npmu_py_raise(rc, "Stream.takeover", self->name);
		if (PyErr_CheckSignals() < 0)
			return NULL;
	}
}

/* stream_getbuffer -- the buffer protocol: the state, read-only, without a copy. */
static int stream_getbuffer(StreamObject *self, Py_buffer *view, int flags)
{
	const void *state = NULL;
	uint64_t len = 0;
	LOCKED(self->base.owner, if (self->ck) {
		state = npmu_ckpt_state(self->ck, &len, NULL);
		if (state)
			atomic_fetch_add(&self->exports, 1);
	});
	if (!state) {
		npmu_py_raise(NPMU_PY_CLOSED, "Stream.state", NULL);
		return -1;
	}
	if (PyBuffer_FillInfo(view, (PyObject *)self, (void *)state, (Py_ssize_t)len, 1, flags) < 0) {
		atomic_fetch_sub(&self->exports, 1);
		return -1;
	}
	return 0;
}

/* stream_releasebuffer -- one view of the state fewer. */
static void stream_releasebuffer(StreamObject *self, Py_buffer *view)
{
	(void)view;
	atomic_fetch_sub(&self->exports, 1);
}

static PyBufferProcs stream_buffer = {
	.bf_getbuffer = (getbufferproc)stream_getbuffer,
	.bf_releasebuffer = (releasebufferproc)stream_releasebuffer,
};

/* stream_state -- the `state` attribute: a read-only memoryview of the state (no copy). */
static PyObject *stream_state(StreamObject *self, void *unused)
{
	(void)unused;
	return PyMemoryView_FromObject((PyObject *)self);
}

/* stream_seq -- the `seq` attribute: the sequence number the state reflects. */
static PyObject *stream_seq(StreamObject *self, void *unused)
{
	(void)unused;
	uint64_t seq = 0;
	int open;
	LOCKED(self->base.owner, open = self->ck != NULL;
	       if (open) (void)npmu_ckpt_state(self->ck, NULL, &seq));
	if (!open)
		return npmu_py_raise(NPMU_PY_CLOSED, "Stream.seq", NULL);
	return PyLong_FromUnsignedLongLong(seq);
}

/* stream_stat -- what the stream and this handle know (a StreamInfo). */
static PyObject *stream_stat(StreamObject *self, PyObject *unused)
{
	(void)unused;
	struct npmu_ckpt_info info;
	int rc;
	LOCKED(self->base.owner, rc = self->ck ? npmu_ckpt_stat(self->ck, &info) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "Stream.stat", self->name);
	return npmu_py_stream_info_new(&info);
}

/* checkpoint_list -- the kept checkpoints as a list of Checkpoint records (their data copied). */
static PyObject *checkpoint_list(const struct npmu_ckpt_set *sets, size_t n)
{
	PyObject *out = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; out && i < n; i++) {
		PyObject *rec = PyStructSequence_New(npmu_py_checkpoint);
		PyObject *data = PyBytes_FromStringAndSize(sets[i].data, (Py_ssize_t)sets[i].len);
		PyObject *seq = PyLong_FromUnsignedLongLong(sets[i].seq);
		PyObject *epoch = PyLong_FromUnsignedLongLong(sets[i].epoch);
		if (!rec || !data || !seq || !epoch) {
			Py_XDECREF(rec);
			Py_XDECREF(data);
			Py_XDECREF(seq);
			Py_XDECREF(epoch);
			Py_CLEAR(out);
			break;
		}
		PyStructSequence_SET_ITEM(rec, 0, seq);
		PyStructSequence_SET_ITEM(rec, 1, epoch);
		PyStructSequence_SET_ITEM(rec, 2, data);
		PyList_SET_ITEM(out, (Py_ssize_t)i, rec);
	}
	return out;
}

/* stream_checkpoints -- (overwrite) every kept checkpoint that passes its checksum, newest
 * first. */
static PyObject *stream_checkpoints(StreamObject *self, PyObject *unused)
{
	(void)unused;
	struct npmu_ckpt_set *sets = NULL;
	size_t n = 0;
	int rc;
	LOCKED(self->base.owner,
	       rc = self->ck ? npmu_ckpt_sets(self->ck, &sets, &n) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "Stream.checkpoints", self->name);
	PyObject *out = checkpoint_list(sets, n);
	npmu_ckpt_sets_free(sets, n);
	return out;
}

/* stream_close -- release the lease (primary), close the rights, free; BufferError while a
 * view of the state is alive. */
static PyObject *stream_close(StreamObject *self, PyObject *unused)
{
	(void)unused;
	if (npmu_py_child_close(&self->base) < 0)
		return NULL;
	Py_RETURN_NONE;
}

/* stream_enter -- `with conn.primary(...) as s:` */
static PyObject *stream_enter(StreamObject *self, PyObject *unused)
{
	(void)unused;
	Py_INCREF(self);
	return (PyObject *)self;
}

/* stream_exit -- close on leaving the block. */
static PyObject *stream_exit(StreamObject *self, PyObject *args)
{
	(void)args;
	if (npmu_py_child_close(&self->base) < 0)
		return NULL;
	Py_RETURN_FALSE;
}

/* stream_closed -- the `closed` attribute. */
static PyObject *stream_closed(StreamObject *self, void *unused)
{
	(void)unused;
	return PyBool_FromLong(!self->base.linked);
}

/* stream_role -- the `role` attribute. */
static PyObject *stream_role(StreamObject *self, void *unused)
{
	(void)unused;
	return PyUnicode_FromString(self->role);
}

/* stream_repr -- <npmu.Stream 'name' primary> */
static PyObject *stream_repr(StreamObject *self)
{
	return PyUnicode_FromFormat("<npmu.Stream %R %s%s>", self->name, self->role,
				    self->base.linked ? "" : " closed");
}

static PyMethodDef stream_methods[] = {
	{"commit", (PyCFunction)stream_commit, METH_O,
	 "commit($self, state)\n--\n\n(Primary) commit a whole new state from STATE (any buffer): an\n"
	 "overwrite stream's next checkpoint, or an append stream's new base. Returns once\n"
	 "durable at the stream's level. FencedError once another process took the stream over."},
	{"update", (PyCFunction)stream_update, METH_VARARGS,
	 "update($self, offset, data)\n--\n\n(Primary, append) commit one update: DATA's bytes at OFFSET "
	 "in the state."},
	{"follow", (PyCFunction)stream_follow, METH_NOARGS,
	 "follow($self)\n--\n\n(Backup) apply what was committed since the last call to the local "
	 "state, in\norder; returns how many commits were applied."},
	{"takeover", (PyCFunction)(void (*)(void))stream_takeover, METH_VARARGS | METH_KEYWORDS,
	 "takeover($self, wait=0.0)\n--\n\n(Backup) wait up to WAIT seconds for the primary's lease to\n"
	 "lapse, take it (the old primary is fenced), read every unread commit and become the\n"
	 "primary. LeaseError while the primary's lease holds. The GIL is released and signals\n"
	 "are handled while it waits."},
	{"stat", (PyCFunction)stream_stat, METH_NOARGS,
	 "stat($self)\n--\n\nWhat the stream and this handle know (a StreamInfo)."},
	{"checkpoints", (PyCFunction)stream_checkpoints, METH_NOARGS,
	 "checkpoints($self)\n--\n\n(Overwrite) every kept checkpoint that passes its checksum, newest\n"
	 "first: Checkpoint(seq, epoch, data) each, data a copy (bytes). A torn one is left out."},
	{"close", (PyCFunction)stream_close, METH_NOARGS,
	 "close($self)\n--\n\nRelease the lease (primary), close the rights. BufferError while a view\n"
	 "of the state is alive."},
	{"__enter__", (PyCFunction)stream_enter, METH_NOARGS, "Return self."},
	{"__exit__", (PyCFunction)stream_exit, METH_VARARGS, "Close the stream."},
	{NULL}};

static PyMemberDef stream_members[] = {
	{"name", T_OBJECT, offsetof(StreamObject, name), READONLY, "The stream's name."},
	{NULL}};

static PyGetSetDef stream_getset[] = {
	{"state", (getter)stream_state, NULL,
	 "The state as a read-only memoryview, without a copy (numpy.frombuffer(s.state, ...)\n"
	 "makes an array of it, also without a copy). While a view is alive, calls that change\n"
	 "the state (commit, update, follow, takeover, close) raise BufferError: release the\n"
	 "memoryview (or drop the array) first.", NULL},
	{"seq", (getter)stream_seq, NULL, "The sequence number the state reflects.", NULL},
	{"role", (getter)stream_role, NULL, "'primary', 'backup' or 'observer'.", NULL},
	{"closed", (getter)stream_closed, NULL, "True once closed (or its connection).", NULL},
	{NULL}};

PyTypeObject npmu_py_stream_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "npmu.Stream",
	.tp_basicsize = sizeof(StreamObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A checkpoint stream, as its primary (Connection.primary: commit, update) or a\n"
		  "backup (Connection.backup: follow, takeover).\n\n"
		  "The primary holds the stream's lease, renewed in the background by the library\n"
		  "(not by Python: a busy interpreter keeps it). A backup that takes over fences\n"
		  "the old primary, whose next commit raises FencedError. Supports the buffer\n"
		  "protocol: memoryview(stream) is stream.state. A context manager.",
	.tp_dealloc = (destructor)stream_dealloc,
	.tp_repr = (reprfunc)stream_repr,
	.tp_as_buffer = &stream_buffer,
	.tp_methods = stream_methods,
	.tp_members = stream_members,
	.tp_getset = stream_getset,
};
