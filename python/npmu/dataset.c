/* dataset.c -- npmu.Dataset: one checkpoint of many processes (a part each), committed
 * together; put from any buffer, read into the caller's, versions, pins. */
#include "module.h"

typedef struct {
	struct npmu_py_child base;
	struct npmu_dataset *ds; /* NULL once closed */
	PyObject *name;          /* str */
} DatasetObject;

/* dataset_free -- (the lock held) free the handle; its parts' leases go with it. */
static int dataset_free(struct npmu_py_child *ch)
{
	DatasetObject *self = (DatasetObject *)ch;
	if (self->ds)
		npmu_dataset_close(&self->ds);
	return 0;
}

/* npmu_py_open_dataset -- Connection.open_dataset(name, parts=0, *, k, m, n, ...). */
PyObject *npmu_py_open_dataset(ConnectionObject *c, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"name", "parts", "k", "m", "n", "mirror", "seg_size", "capacity",
				 "keep", "pins", "level", NULL};
	PyObject *name_o, *seg_o = NULL, *cap_o = NULL;
	unsigned int parts = 0, k = 0, m = 0, n = 0, keep = 0, pins = 0;
	int mirror = 0, level = NPMU_PERSISTENT;
	const char *name;
	struct npmu_dataset_cfg cfg = {0};
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|I$IIIpOOIIi:open_dataset", kwlist, &name_o,
					 &parts, &k, &m, &n, &mirror, &seg_o, &cap_o, &keep, &pins,
					 &level) ||
	    !(name = npmu_py_name(name_o, "name")) ||
	    (seg_o && npmu_py_u64(seg_o, "seg_size", &cfg.seg_size) < 0) ||
	    (cap_o && npmu_py_u64(cap_o, "capacity", &cfg.capacity) < 0) ||
	    npmu_py_level(level, &cfg.durability) < 0)
		return NULL;
	if (parts > NPMU_DATASET_PARTS_MAX)
		return PyErr_Format(PyExc_ValueError, "parts must be 0..%d, not %u",
				    NPMU_DATASET_PARTS_MAX, parts);
	cfg.parts = parts;
	cfg.k = k;
	cfg.m = m;
	cfg.n = n;
	cfg.mirror = mirror;
	cfg.keep = keep;
	cfg.pins = pins;
	struct npmu_dataset *ds = NULL;
	int rc;
	LOCKED(c, rc = c->conn ? npmu_dataset_open(c->conn, name, &cfg, &ds) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "open_dataset", name_o);
	DatasetObject *self = PyObject_New(DatasetObject, &npmu_py_dataset_type);
	if (!self) {
		npmu_dataset_close(&ds);
		return NULL;
	}
	self->ds = ds;
	Py_INCREF(name_o);
	self->name = name_o;
	npmu_py_child_open(&self->base, c, dataset_free);
	return (PyObject *)self;
}

/* npmu_py_delete_dataset -- Connection.delete_dataset(name). */
PyObject *npmu_py_delete_dataset(ConnectionObject *c, PyObject *name_o)
{
	const char *name = npmu_py_name(name_o, "name");
	if (!name)
		return NULL;
	int rc;
	LOCKED(c, rc = c->conn ? npmu_dataset_delete(c->conn, name) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "delete_dataset", name_o);
	Py_RETURN_NONE;
}

/* dataset_dealloc -- close (if open) and free. */
static void dataset_dealloc(DatasetObject *self)
{
	Py_CLEAR(self->name);
	npmu_py_child_dealloc(&self->base);
}

/* part_args -- (version, part) checked: version >= 0, part a uint32. */
static int part_args(PyObject *ver_o, PyObject *part_o, uint64_t *version, uint32_t *part)
{
	uint64_t p;
	if (npmu_py_u64(ver_o, "version", version) < 0 || npmu_py_u64(part_o, "part", &p) < 0)
		return -1;
	if (p >= NPMU_DATASET_PARTS_MAX) {
		PyErr_Format(PyExc_ValueError, "part must be below %d", NPMU_DATASET_PARTS_MAX);
		return -1;
	}
	*part = (uint32_t)p;
	return 0;
}

/* dataset_put -- put(version, part, data): this process's part of VERSION from DATA's memory. */
static PyObject *dataset_put(DatasetObject *self, PyObject *args)
{
	PyObject *ver_o, *part_o, *data_o;
	uint64_t version;
	uint32_t part;
	Py_buffer view;
	if (!PyArg_ParseTuple(args, "OOO:put", &ver_o, &part_o, &data_o) ||
	    part_args(ver_o, part_o, &version, &part) < 0 ||
	    npmu_py_read_buffer(data_o, &view, "data") < 0)
		return NULL;
	int rc;
	LOCKED(self->base.owner,
	       rc = self->ds ? npmu_dataset_put(self->ds, version, part, view.buf, (uint64_t)view.len)
			     : NPMU_PY_CLOSED);
	PyBuffer_Release(&view);
	if (rc != 0)
		return npmu_py_raise(rc, "Dataset.put", self->name);
	Py_RETURN_NONE;
}

/* dataset_commit -- commit(version, label): make VERSION complete (every part put). */
static PyObject *dataset_commit(DatasetObject *self, PyObject *args)
{
	PyObject *ver_o, *label_o;
	uint64_t version, label;
	if (!PyArg_ParseTuple(args, "OO:commit", &ver_o, &label_o) ||
	    npmu_py_u64(ver_o, "version", &version) < 0 || npmu_py_u64(label_o, "label", &label) < 0)
		return NULL;
	int rc;
	LOCKED(self->base.owner,
	       rc = self->ds ? npmu_dataset_commit(self->ds, version, label) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "Dataset.commit", self->name);
	Py_RETURN_NONE;
}

/* dataset_latest -- the newest complete version (a DatasetVersion), or None. */
static PyObject *dataset_latest(DatasetObject *self, PyObject *unused)
{
	(void)unused;
	struct npmu_dataset_version v;
	int rc;
	LOCKED(self->base.owner, rc = self->ds ? npmu_dataset_latest(self->ds, &v) : NPMU_PY_CLOSED);
	if (rc == NPMU_E_NOENT)
		Py_RETURN_NONE;
	if (rc != 0)
		return npmu_py_raise(rc, "Dataset.latest", self->name);
	return npmu_py_dataset_version_new(&v);
}

/* dataset_versions -- every kept complete version, newest first. */
static PyObject *dataset_versions(DatasetObject *self, PyObject *unused)
{
	(void)unused;
	struct npmu_dataset_version *list = NULL;
	size_t n = 0;
	int rc;
	LOCKED(self->base.owner,
	       rc = self->ds ? npmu_dataset_versions(self->ds, &list, &n) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "Dataset.versions", self->name);
	PyObject *out = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; out && i < n; i++) {
		PyObject *v = npmu_py_dataset_version_new(&list[i]);
		if (!v)
			Py_CLEAR(out);
		else
			PyList_SET_ITEM(out, (Py_ssize_t)i, v);
	}
	free(list);
	return out;
}

/* dataset_part_size -- part_size(version, part): its bytes. */
static PyObject *dataset_part_size(DatasetObject *self, PyObject *args)
{
	PyObject *ver_o, *part_o;
	uint64_t version, len = 0;
	uint32_t part;
	if (!PyArg_ParseTuple(args, "OO:part_size", &ver_o, &part_o) ||
	    part_args(ver_o, part_o, &version, &part) < 0)
		return NULL;
	int rc;
	LOCKED(self->base.owner,
	       rc = self->ds ? npmu_dataset_part_size(self->ds, version, part, &len) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "Dataset.part_size", self->name);
	return PyLong_FromUnsignedLongLong(len);
}

/* dataset_read_into -- read_into(version, part, offset, buf): len(buf) bytes at OFFSET of the
 * part, straight into BUF. */
static PyObject *dataset_read_into(DatasetObject *self, PyObject *args)
{
	PyObject *ver_o, *part_o, *off_o, *buf_o;
	uint64_t version, off;
	uint32_t part;
	Py_buffer view;
	if (!PyArg_ParseTuple(args, "OOOO:read_into", &ver_o, &part_o, &off_o, &buf_o) ||
	    part_args(ver_o, part_o, &version, &part) < 0 ||
	    npmu_py_u64(off_o, "offset", &off) < 0 || npmu_py_write_buffer(buf_o, &view, "buf") < 0)
		return NULL;
	int rc;
	LOCKED(self->base.owner,
	       rc = self->ds ? npmu_dataset_read(self->ds, version, part, off, view.buf,
						 (uint64_t)view.len)
			     : NPMU_PY_CLOSED);
	PyBuffer_Release(&view);
	if (rc != 0)
		return npmu_py_raise(rc, "Dataset.read_into", self->name);
	Py_RETURN_NONE;
}

/* dataset_pin -- pin(version, pinned=True): keep VERSION whatever is committed after it. */
static PyObject *dataset_pin(DatasetObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"version", "pinned", NULL};
	PyObject *ver_o;
	int pinned = 1;
	uint64_t version;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:pin", kwlist, &ver_o, &pinned) ||
	    npmu_py_u64(ver_o, "version", &version) < 0)
		return NULL;
	int rc;
	LOCKED(self->base.owner,
	       rc = self->ds ? npmu_dataset_pin(self->ds, version, pinned) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "Dataset.pin", self->name);
	Py_RETURN_NONE;
}

/* dataset_stage -- stage(*, unit=None, slots=0, level=PLACED, wait_ms=0): this handle's puts
 * from now on are staged; an encoder protects them in the background. */
static PyObject *dataset_stage(DatasetObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"unit", "slots", "level", "wait_ms", NULL};
	PyObject *unit_o = Py_None;
	unsigned int slots = 0;
	int level = NPMU_PLACED, wait_ms = 0;
	struct npmu_stage_cfg sc = {0};
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|$OIii:stage", kwlist, &unit_o, &slots, &level,
					 &wait_ms) ||
	    npmu_py_level(level, &sc.durability) < 0 ||
	    (unit_o != Py_None && !(sc.unit = npmu_py_name(unit_o, "unit"))))
		return NULL;
	sc.slots = slots;
	sc.wait_ms = wait_ms;
	int rc;
	LOCKED(self->base.owner,
	       rc = self->ds ? npmu_dataset_stage(self->ds, &sc) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "Dataset.stage", self->name);
	Py_RETURN_NONE;
}

/* dataset_state -- state(version): "protected", "staged", "partial" or "lost". */
static PyObject *dataset_state(DatasetObject *self, PyObject *ver_o)
{
	uint64_t version;
	if (npmu_py_u64(ver_o, "version", &version) < 0)
		return NULL;
	enum npmu_version_state st = NPMU_VERSION_PROTECTED;
	int rc;
	LOCKED(self->base.owner,
	       rc = self->ds ? npmu_dataset_state(self->ds, version, &st) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "Dataset.state", self->name);
	return PyUnicode_FromString(npmu_py_state_name(st));
}

/* dataset_wait -- wait(version, timeout_ms=60000): until that complete version is protected. */
static PyObject *dataset_wait(DatasetObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"version", "timeout_ms", NULL};
	PyObject *ver_o;
	int timeout = 60000;
	uint64_t version;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|i:wait", kwlist, &ver_o, &timeout) ||
	    npmu_py_u64(ver_o, "version", &version) < 0)
		return NULL;
	int rc;
	LOCKED(self->base.owner,
	       rc = self->ds ? npmu_dataset_wait(self->ds, version, timeout) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "Dataset.wait", self->name);
	Py_RETURN_NONE;
}

/* dataset_close -- free the handle (nothing is committed by closing). */
static PyObject *dataset_close(DatasetObject *self, PyObject *unused)
{
	(void)unused;
	if (npmu_py_child_close(&self->base) < 0)
		return NULL;
	Py_RETURN_NONE;
}

/* dataset_enter -- `with conn.open_dataset(...) as ds:` */
static PyObject *dataset_enter(DatasetObject *self, PyObject *unused)
{
	(void)unused;
	Py_INCREF(self);
	return (PyObject *)self;
}

/* dataset_exit -- close on leaving the block. */
static PyObject *dataset_exit(DatasetObject *self, PyObject *args)
{
	(void)args;
	if (npmu_py_child_close(&self->base) < 0)
		return NULL;
	Py_RETURN_FALSE;
}

/* dataset_closed -- the `closed` attribute. */
static PyObject *dataset_closed(DatasetObject *self, void *unused)
{
	(void)unused;
	return PyBool_FromLong(!self->base.linked);
}

/* dataset_repr -- <npmu.Dataset 'name'> */
static PyObject *dataset_repr(DatasetObject *self)
{
	return PyUnicode_FromFormat("<npmu.Dataset %R%s>", self->name,
				    self->base.linked ? "" : " closed");
}

static PyMethodDef dataset_methods[] = {
	{"put", (PyCFunction)dataset_put, METH_VARARGS,
	 "put($self, version, part, data)\n--\n\nPut part PART of VERSION from DATA (any buffer, no copy):\n"
	 "cut, encoded and written to the part's units. VERSION must be above every complete\n"
	 "version. The handle holds the part's lease until closed."},
	{"commit", (PyCFunction)dataset_commit, METH_VARARGS,
	 "commit($self, version, label)\n--\n\n(One process, once every part of VERSION was put) make it\n"
	 "complete with LABEL (the step). NotFoundError names a part missing."},
	{"latest", (PyCFunction)dataset_latest, METH_NOARGS,
	 "latest($self)\n--\n\nThe newest complete version (a DatasetVersion), or None."},
	{"versions", (PyCFunction)dataset_versions, METH_NOARGS,
	 "versions($self)\n--\n\nEvery kept complete version, newest first."},
	{"part_size", (PyCFunction)dataset_part_size, METH_VARARGS,
	 "part_size($self, version, part)\n--\n\nThe bytes of part PART of complete version VERSION."},
	{"read_into", (PyCFunction)dataset_read_into, METH_VARARGS,
	 "read_into($self, version, part, offset, buf)\n--\n\nRead len(buf) bytes at OFFSET of part PART\n"
	 "of complete version VERSION straight into writable buffer BUF, checked against\n"
	 "the version's checksums. RangeError beyond the part."},
	{"pin", (PyCFunction)(void (*)(void))dataset_pin, METH_VARARGS | METH_KEYWORDS,
	 "pin($self, version, pinned=True)\n--\n\nKeep complete version VERSION whatever is committed "
	 "after it\n(pinned=False lets it go). LimitError beyond the dataset's pins."},
	{"stage", (PyCFunction)(void (*)(void))dataset_stage, METH_VARARGS | METH_KEYWORDS,
	 "stage(*, unit=None, slots=0, level=PLACED, wait_ms=0): this handle's puts from now on\n"
	 "write each part once to its staging region and return; npmu-encoder protects them."},
	{"state", (PyCFunction)dataset_state, METH_O,
	 "state(version): 'protected', 'staged' (waiting for an encoder), 'partial' or 'lost'."},
	{"wait", (PyCFunction)(void (*)(void))dataset_wait, METH_VARARGS | METH_KEYWORDS,
	 "wait(version, timeout_ms=60000): until that complete version is protected\n"
	 "(TimedOutError, LostError)."},
	{"close", (PyCFunction)dataset_close, METH_NOARGS,
	 "close($self)\n--\n\nFree the handle and its parts' leases (nothing is committed by closing)."},
	{"__enter__", (PyCFunction)dataset_enter, METH_NOARGS, "Return self."},
	{"__exit__", (PyCFunction)dataset_exit, METH_VARARGS, "Close the dataset."},
	{NULL}};

static PyMemberDef dataset_members[] = {
	{"name", T_OBJECT, offsetof(DatasetObject, name), READONLY, "The dataset's name."},
	{NULL}};

static PyGetSetDef dataset_getset[] = {
	{"closed", (getter)dataset_closed, NULL, "True once closed (or its connection).", NULL},
	{NULL}};

PyTypeObject npmu_py_dataset_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "npmu.Dataset",
	.tp_basicsize = sizeof(DatasetObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A dataset: the checkpoint of a job of many processes (Connection.open_dataset).\n\n"
		  "Version v has one part per process, each striped with parity over the units,\n"
		  "and a label (the step); it is complete once every part was put and one process\n"
		  "committed it. Readers see complete versions only. A context manager.",
	.tp_dealloc = (destructor)dataset_dealloc,
	.tp_repr = (reprfunc)dataset_repr,
	.tp_methods = dataset_methods,
	.tp_members = dataset_members,
	.tp_getset = dataset_getset,
};
