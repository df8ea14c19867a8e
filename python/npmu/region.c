/* region.c -- npmu.Region: one open right to a region; one-sided writes and reads straight
 * from and into the caller's buffers (no copy), persist, put, size, mirror copies. */
#include "module.h"

typedef struct {
	struct npmu_py_child base;
	struct npmu_region *r; /* NULL once closed */
	PyObject *name;        /* str */
	char writable;
} RegionObject;

/* region_free -- (the lock held) revoke the right at the unit and free the handle. */
static int region_free(struct npmu_py_child *ch)
{
	RegionObject *self = (RegionObject *)ch;
	if (self->r)
		npmu_region_close(&self->r);
	return 0;
}

/* npmu_py_open_region -- Connection.open_region(name, write=False, copy=None). */
PyObject *npmu_py_open_region(ConnectionObject *c, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"name", "write", "copy", NULL};
	PyObject *name_o, *copy_o = Py_None;
	int write = 0;
	const char *name;
	enum npmu_copy copy;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pO:open_region", kwlist, &name_o, &write,
					 &copy_o) ||
	    !(name = npmu_py_name(name_o, "name")) || npmu_py_copy(copy_o, &copy) < 0)
		return NULL;
	enum npmu_access access = write ? NPMU_ACCESS_READ_WRITE : NPMU_ACCESS_READ;
	struct npmu_region *r = NULL;
	int rc;
	LOCKED(c, rc = c->conn ? npmu_region_open_copy(c->conn, name, access, copy, &r)
			       : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "open_region", name_o);
	RegionObject *self = PyObject_New(RegionObject, &npmu_py_region_type);
	if (!self) {
		npmu_region_close(&r);
		return NULL;
	}
	self->r = r;
	self->writable = write;
	Py_INCREF(name_o);
	self->name = name_o;
	npmu_py_child_open(&self->base, c, region_free);
	return (PyObject *)self;
}

/* region_dealloc -- close (if open) and free. */
static void region_dealloc(RegionObject *self)
{
	Py_CLEAR(self->name);
	npmu_py_child_dealloc(&self->base);
}

/* region_write -- write(offset, buf): one-sided write of buf's bytes, from buf's memory. */
static PyObject *region_write(RegionObject *self, PyObject *args)
{
	PyObject *off_o, *buf_o;
	uint64_t off;
	Py_buffer view;
	if (!PyArg_ParseTuple(args, "OO:write", &off_o, &buf_o) ||
	    npmu_py_u64(off_o, "offset", &off) < 0 || npmu_py_read_buffer(buf_o, &view, "buf") < 0)
		return NULL;
	int rc;
	LOCKED(self->base.owner,
	       rc = self->r ? npmu_region_write(self->r, off, view.buf, (size_t)view.len)
			    : NPMU_PY_CLOSED);
	PyBuffer_Release(&view);
	if (rc != 0)
		return npmu_py_raise(rc, "Region.write", self->name);
	Py_RETURN_NONE;
}

/* region_read_into -- read_into(offset, buf, length=None): one-sided read into buf's memory. */
static PyObject *region_read_into(RegionObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"offset", "buf", "length", NULL};
	PyObject *off_o, *buf_o, *len_o = Py_None;
	uint64_t off, len;
	Py_buffer view;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:read_into", kwlist, &off_o, &buf_o,
					 &len_o) ||
	    npmu_py_u64(off_o, "offset", &off) < 0 ||
	    (len_o != Py_None && npmu_py_u64(len_o, "length", &len) < 0) ||
	    npmu_py_write_buffer(buf_o, &view, "buf") < 0)
		return NULL;
	if (len_o == Py_None) {
		len = (uint64_t)view.len;
	} else if (len > (uint64_t)view.len) {
		PyErr_Format(PyExc_ValueError,
			     "read_into: buf holds %zd bytes, too small for length %llu", view.len,
			     (unsigned long long)len);
		PyBuffer_Release(&view);
		return NULL;
	}
	int rc;
	LOCKED(self->base.owner,
	       rc = self->r ? npmu_region_read(self->r, off, view.buf, (size_t)len) : NPMU_PY_CLOSED);
	PyBuffer_Release(&view);
	if (rc != 0)
		return npmu_py_raise(rc, "Region.read_into", self->name);
	return PyLong_FromUnsignedLongLong(len);
}

/* region_read -- read(offset, length): LENGTH bytes at OFFSET as new bytes. */
static PyObject *region_read(RegionObject *self, PyObject *args)
{
	PyObject *off_o, *len_o;
	uint64_t off, len;
	if (!PyArg_ParseTuple(args, "OO:read", &off_o, &len_o) ||
	    npmu_py_u64(off_o, "offset", &off) < 0 || npmu_py_u64(len_o, "length", &len) < 0)
		return NULL;
	if (len > PY_SSIZE_T_MAX)
		return PyErr_Format(PyExc_ValueError, "read: length %llu is too large",
				    (unsigned long long)len);
	PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)len);
	if (!out)
		return NULL;
	char *dst = PyBytes_AS_STRING(out); /* nobody else sees it before it is returned */
	int rc;
	LOCKED(self->base.owner,
	       rc = self->r ? npmu_region_read(self->r, off, dst, (size_t)len) : NPMU_PY_CLOSED);
	if (rc != 0) {
		Py_DECREF(out);
		return npmu_py_raise(rc, "Region.read", self->name);
	}
	return out;
}

/* region_persist -- persist(offset=0, length=None, level=PERSISTENT). */
static PyObject *region_persist(RegionObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"offset", "length", "level", NULL};
	PyObject *off_o = NULL, *len_o = Py_None;
	int level = NPMU_PERSISTENT;
	uint64_t off = 0, len = 0;
	enum npmu_durability dur;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOi:persist", kwlist, &off_o, &len_o, &level) ||
	    (off_o && npmu_py_u64(off_o, "offset", &off) < 0) ||
	    (len_o != Py_None && npmu_py_u64(len_o, "length", &len) < 0) ||
	    npmu_py_level(level, &dur) < 0)
		return NULL;
	int to_end = len_o == Py_None, rc = NPMU_PY_CLOSED;
	LOCKED(self->base.owner, if (self->r) {
		uint64_t size = npmu_region_size(self->r);
		rc = to_end && off > size ? NPMU_E_RANGE
					  : npmu_region_persist(self->r, off,
								to_end ? size - off : len, dur);
	});
	if (rc != 0)
		return npmu_py_raise(rc, "Region.persist", self->name);
	Py_RETURN_NONE;
}

/* release_views -- release the first n of views and free the arrays. */
static void release_views(Py_buffer *views, struct npmu_iov *iov, Py_ssize_t n)
{
	for (Py_ssize_t i = 0; i < n; i++)
		PyBuffer_Release(&views[i]);
	PyMem_Free(views);
	PyMem_Free(iov);
}

/* piece_arg -- pieces[i] as an (offset, buffer) pair into iov and view; 0 or -1. */
static int piece_arg(PyObject *piece, struct npmu_iov *iov, Py_buffer *view)
{
	PyObject *off_o, *buf_o;
	if (!PyTuple_Check(piece) || PyTuple_GET_SIZE(piece) != 2) {
		PyErr_SetString(PyExc_TypeError, "put: each piece must be an (offset, buffer) tuple");
		return -1;
	}
	off_o = PyTuple_GET_ITEM(piece, 0);
	buf_o = PyTuple_GET_ITEM(piece, 1);
	if (npmu_py_u64(off_o, "offset", &iov->offset) < 0 ||
	    npmu_py_read_buffer(buf_o, view, "buffer") < 0)
		return -1;
	iov->buf = view->buf;
	iov->len = (size_t)view->len;
	return 0;
}

/* region_put -- put(pieces, level=PERSISTENT): write every (offset, buffer) piece and make them
 * durable together: one round trip and one flush. */
static PyObject *region_put(RegionObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"pieces", "level", NULL};
	PyObject *pieces_o;
	int level = NPMU_PERSISTENT;
	enum npmu_durability dur;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|i:put", kwlist, &pieces_o, &level) ||
	    npmu_py_level(level, &dur) < 0)
		return NULL;
	PyObject *pieces = PySequence_Fast(pieces_o, "put: pieces must be a sequence of "
						     "(offset, buffer) tuples");
	if (!pieces)
		return NULL;
	Py_ssize_t n = PySequence_Fast_GET_SIZE(pieces);
	if (n > INT_MAX) {
		Py_DECREF(pieces);
		return PyErr_Format(PyExc_ValueError, "put: too many pieces (%zd)", n);
	}
	struct npmu_iov *iov = PyMem_Calloc(n ? (size_t)n : 1, sizeof(*iov));
	Py_buffer *views = PyMem_Calloc(n ? (size_t)n : 1, sizeof(*views));
	Py_ssize_t got = 0;
	if (!iov || !views) {
		release_views(views, iov, 0);
		Py_DECREF(pieces);
		return PyErr_NoMemory();
	}
	while (got < n && piece_arg(PySequence_Fast_GET_ITEM(pieces, got), &iov[got], &views[got]) == 0)
		got++;
	int rc = NPMU_PY_CLOSED;
	if (got == n)
		LOCKED(self->base.owner,
		       rc = self->r ? npmu_region_put(self->r, iov, (int)n, dur) : NPMU_PY_CLOSED);
	release_views(views, iov, got);
	Py_DECREF(pieces);
	if (got < n)
		return NULL;
	if (rc != 0)
		return npmu_py_raise(rc, "Region.put", self->name);
	Py_RETURN_NONE;
}

/* region_size -- the `size` attribute: bytes, as of open or the last refresh(). */
static PyObject *region_size(RegionObject *self, void *unused)
{
	(void)unused;
	uint64_t size = 0;
	int open;
	LOCKED(self->base.owner, open = self->r != NULL; if (open) size = npmu_region_size(self->r));
	if (!open)
		return npmu_py_raise(NPMU_PY_CLOSED, "Region.size", NULL);
	return PyLong_FromUnsignedLongLong(size);
}

/* region_refresh -- learn the current size (after someone grew the region); returns it. */
static PyObject *region_refresh(RegionObject *self, PyObject *unused)
{
	(void)unused;
	int rc;
	LOCKED(self->base.owner, rc = self->r ? npmu_region_refresh(self->r) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "Region.refresh", self->name);
	return region_size(self, NULL);
}

/* region_mirror -- the copies as this handle knows them (a MirrorInfo). */
static PyObject *region_mirror(RegionObject *self, PyObject *unused)
{
	(void)unused;
	struct npmu_mirror_info info;
	int rc;
	LOCKED(self->base.owner, rc = self->r ? npmu_region_mirror(self->r, &info) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "Region.mirror", self->name);
	return npmu_py_mirror_info_new(&info);
}

/* region_resync -- (a writer of a mirrored region) bring every stale copy up to date now. */
static PyObject *region_resync(RegionObject *self, PyObject *unused)
{
	(void)unused;
	int rc;
	LOCKED(self->base.owner,
	       rc = self->r ? npmu_region_resync(self->r, NULL, NULL) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "Region.resync", self->name);
	Py_RETURN_NONE;
}

/* region_close -- revoke the right and free the handle; closing again does nothing. */
static PyObject *region_close(RegionObject *self, PyObject *unused)
{
	(void)unused;
	if (npmu_py_child_close(&self->base) < 0)
		return NULL;
	Py_RETURN_NONE;
}

/* region_enter -- `with conn.open_region(...) as r:` */
static PyObject *region_enter(RegionObject *self, PyObject *unused)
{
	(void)unused;
	Py_INCREF(self);
	return (PyObject *)self;
}

/* region_exit -- close on leaving the block. */
static PyObject *region_exit(RegionObject *self, PyObject *args)
{
	(void)args;
	if (npmu_py_child_close(&self->base) < 0)
		return NULL;
	Py_RETURN_FALSE;
}

/* region_closed -- the `closed` attribute (set by close() or the connection's). */
static PyObject *region_closed(RegionObject *self, void *unused)
{
	(void)unused;
	return PyBool_FromLong(!self->base.linked);
}

/* region_repr -- <npmu.Region 'name' rw> */
static PyObject *region_repr(RegionObject *self)
{
	return PyUnicode_FromFormat("<npmu.Region %R %s%s>", self->name,
				    self->writable ? "read-write" : "read-only",
				    self->base.linked ? "" : " closed");
}

static PyMethodDef region_methods[] = {
	{"write", (PyCFunction)region_write, METH_VARARGS,
	 "write($self, offset, buf)\n--\n\n"
	 "One-sided write of BUF's bytes at OFFSET, straight from BUF's memory (bytes,\n"
	 "bytearray, memoryview, numpy array, tensor.numpy(): any contiguous buffer, no copy).\n"
	 "Returns once the data is placed in the unit's memory; persist() makes it durable.\n"
	 "RangeError beyond the region, AccessError on a read-only right."},
	{"read_into", (PyCFunction)(void (*)(void))region_read_into, METH_VARARGS | METH_KEYWORDS,
	 "read_into($self, offset, buf, length=None)\n--\n\n"
	 "One-sided read of LENGTH bytes (None: len of BUF in bytes) at OFFSET straight into\n"
	 "writable buffer BUF (no copy); returns the bytes read. TypeError for a read-only\n"
	 "buffer, ValueError when BUF is smaller than LENGTH."},
	{"read", (PyCFunction)region_read, METH_VARARGS,
	 "read($self, offset, length)\n--\n\nLENGTH bytes at OFFSET as new bytes (read_into avoids the "
	 "allocation)."},
	{"persist", (PyCFunction)(void (*)(void))region_persist, METH_VARARGS | METH_KEYWORDS,
	 "persist($self, offset=0, length=None, level=npmu.PERSISTENT)\n--\n\n"
	 "Make [offset, offset+length) durable (length None: to the end). PLACED returns at\n"
	 "once (written data is placed when write returns); PERSISTENT returns once the unit\n"
	 "flushed the range to its persistence domain."},
	{"put", (PyCFunction)(void (*)(void))region_put, METH_VARARGS | METH_KEYWORDS,
	 "put($self, pieces, level=npmu.PERSISTENT)\n--\n\n"
	 "Write every (offset, buffer) of PIECES, from the buffers' memory, and make them all\n"
	 "durable together: one round trip and one flush. They land in no order among them:\n"
	 "a structure that must survive a crash mid-put checks itself (a checksum)."},
	{"refresh", (PyCFunction)region_refresh, METH_NOARGS,
	 "refresh($self)\n--\n\nLearn the region's current size (after another client grew it); "
	 "returns it."},
	{"mirror", (PyCFunction)region_mirror, METH_NOARGS,
	 "mirror($self)\n--\n\nA mirrored region's copies as this handle knows them (a MirrorInfo)."},
	{"resync", (PyCFunction)region_resync, METH_NOARGS,
	 "resync($self)\n--\n\n(A writer of a mirrored region) bring every stale copy up to date now;\n"
	 "UnreachableError while a copy's unit does not answer."},
	{"close", (PyCFunction)region_close, METH_NOARGS,
	 "close($self)\n--\n\nRevoke this right at the unit and free it. Closing again does nothing."},
	{"__enter__", (PyCFunction)region_enter, METH_NOARGS, "Return self."},
	{"__exit__", (PyCFunction)region_exit, METH_VARARGS, "Close the region."},
	{NULL}};

static PyMemberDef region_members[] = {
	{"name", T_OBJECT, offsetof(RegionObject, name), READONLY, "The region's name."},
	{"writable", T_BOOL, offsetof(RegionObject, writable), READONLY,
	 "True for a read-write right."},
	{NULL}};

static PyGetSetDef region_getset[] = {
	{"size", (getter)region_size, NULL, "Bytes, as of open or the last refresh().", NULL},
	{"closed", (getter)region_closed, NULL, "True once closed (or its connection).", NULL},
	{NULL}};

PyTypeObject npmu_py_region_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "npmu.Region",
	.tp_basicsize = sizeof(RegionObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "An open right to a region (Connection.open_region).\n\n"
		  "Reads and writes are one-sided RDMA transfers between the caller's buffer and\n"
		  "the unit's memory, with no copy on the way. A context manager; closed with its\n"
		  "connection.",
	.tp_dealloc = (destructor)region_dealloc,
	.tp_repr = (reprfunc)region_repr,
	.tp_methods = region_methods,
	.tp_members = region_members,
	.tp_getset = region_getset,
};
