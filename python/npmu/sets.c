/* sets.c -- striped checkpoint sets (Connection.stripe_*): put from any buffer (synchronous, or
 * staged for an encoder), restore into bytes or into the caller's buffer, stat, rebuild,
 * delete; the versions' states, waiting until one is protected, an encoder's work once. */
#include "module.h"

/* raise_with_report -- the exception of rc, with what the restore found as its .report. */
static PyObject *raise_with_report(int rc, const char *what, PyObject *name,
				   const struct npmu_stripe_report *rep)
{
	npmu_py_raise(rc, what, name);
	PyObject *type, *value, *tb;
	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	PyObject *r = value ? npmu_py_stripe_report_new(rep, 0) : NULL;
	if (!r || PyObject_SetAttrString(value, "report", r) < 0)
		PyErr_Clear(); /* the error itself is what matters */
	Py_XDECREF(r);
	PyErr_Restore(type, value, tb);
	return NULL;
}

/* staged_put -- a staged put through a staging handle held for this put alone: 0 staged, 1 put
 * synchronously (staging full and `sync` asked), or the error. */
static int staged_put(struct npmu_conn *conn, const char *name, const void *data, uint64_t len,
		      const struct npmu_stripe_cfg *cfg, const struct npmu_stage_cfg *sc,
		      uint64_t *version)
{
	struct npmu_stage *st;
	int rc = npmu_stage_open(conn, name, cfg, sc, &st);
	if (rc == 0) {
		rc = npmu_stage_put(st, data, len, version);
		npmu_stage_close(&st);
	}
	return rc;
}

/* npmu_py_stripe_put -- stripe_put(name, data, *, k, m, n, ..., staged, ...): the version. */
PyObject *npmu_py_stripe_put(ConnectionObject *c, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"name", "data", "k", "m", "n", "seg_size", "keep", "capacity",
				 "mirror", "level", "staged", "stage_unit", "stage_slots",
				 "stage_level", "sync_when_full", "wait_ms", NULL};
	PyObject *name_o, *data_o, *seg_o = NULL, *cap_o = NULL, *unit_o = Py_None;
	unsigned int k = 0, m = 0, n = 0, keep = 0, slots = 0;
	int mirror = 0, level = NPMU_PERSISTENT, staged = 0, stage_level = NPMU_PLACED;
	int sync = 0, wait_ms = 0;
	const char *name;
	struct npmu_stripe_cfg cfg = {0};
	struct npmu_stage_cfg sc = {0};
	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$IIIOIOpipOIipi:stripe_put", kwlist,
					 &name_o, &data_o, &k, &m, &n, &seg_o, &keep, &cap_o,
					 &mirror, &level, &staged, &unit_o, &slots, &stage_level,
					 &sync, &wait_ms) ||
	    !(name = npmu_py_name(name_o, "name")) ||
	    (seg_o && npmu_py_u64(seg_o, "seg_size", &cfg.seg_size) < 0) ||
	    (cap_o && npmu_py_u64(cap_o, "capacity", &cfg.capacity) < 0) ||
	    npmu_py_level(level, &cfg.durability) < 0 ||
	    npmu_py_level(stage_level, &sc.durability) < 0 ||
	    (unit_o != Py_None && !(sc.unit = npmu_py_name(unit_o, "stage_unit"))))
		return NULL;
	if (!staged && (unit_o != Py_None || slots || sync || wait_ms))
		return PyErr_Format(PyExc_ValueError, "stripe_put %R: stage_unit, stage_slots, "
				    "sync_when_full and wait_ms go with staged=True", name_o);
	sc.slots = slots;
	sc.full = sync ? NPMU_STAGE_SYNC : NPMU_STAGE_WAIT;
	sc.wait_ms = wait_ms;
	cfg.k = k;
	cfg.m = m;
	cfg.n = n;
	cfg.keep = keep;
	cfg.mirror = mirror;
	Py_buffer view;
	if (npmu_py_read_buffer(data_o, &view, "data") < 0)
		return NULL;
	uint64_t version = 0;
	int rc;
	LOCKED(c, rc = !c->conn ? NPMU_PY_CLOSED
		       : staged ? staged_put(c->conn, name, view.buf, (uint64_t)view.len, &cfg, &sc,
					     &version)
				: npmu_stripe_put(c->conn, name, view.buf, (uint64_t)view.len, &cfg,
						  NULL, NULL, &version));
	PyBuffer_Release(&view);
	if (rc < 0)
		return npmu_py_raise(rc, "stripe_put", name_o);
	return PyLong_FromUnsignedLongLong(version);
}

/* version_args -- (name, version=0) and an optional buffer, parsed for get and read. */
static int version_args(PyObject *args, PyObject *kw, const char *fmt, char **kwlist,
			PyObject **name_o, const char **name, PyObject **buf_o, uint64_t *version)
{
	PyObject *ver_o = NULL;
	int ok = buf_o ? PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, name_o, buf_o, &ver_o)
		       : PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, name_o, &ver_o);
	*version = 0;
	if (!ok || !(*name = npmu_py_name(*name_o, "name")) ||
	    (ver_o && npmu_py_u64(ver_o, "version", version) < 0))
		return -1;
	return 0;
}

/* npmu_py_stripe_get -- stripe_get(name, version=0): (bytes, StripeReport). */
PyObject *npmu_py_stripe_get(ConnectionObject *c, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"name", "version", NULL};
	PyObject *name_o;
	const char *name;
	uint64_t version, len = 0;
	if (version_args(args, kw, "O|O:stripe_get", kwlist, &name_o, &name, NULL, &version) < 0)
		return NULL;
	void *data = NULL;
	struct npmu_stripe_report rep = {0};
	int rc;
	LOCKED(c, rc = c->conn ? npmu_stripe_get(c->conn, name, version, &data, &len, NULL, NULL,
						 &rep)
			       : NPMU_PY_CLOSED);
	if (rc != 0)
		return raise_with_report(rc, "stripe_get", name_o, &rep);
	PyObject *bytes = len > PY_SSIZE_T_MAX ? PyErr_NoMemory()
		: PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
	free(data);
	if (!bytes)
		return NULL;
	return Py_BuildValue("(NN)", bytes, npmu_py_stripe_report_new(&rep, len));
}

/* npmu_py_stripe_read -- stripe_read(name, buf, version=0): restored into BUF; a StripeReport. */
PyObject *npmu_py_stripe_read(ConnectionObject *c, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"name", "buf", "version", NULL};
	PyObject *name_o, *buf_o;
	const char *name;
	uint64_t version, len = 0;
	Py_buffer view;
	if (version_args(args, kw, "OO|O:stripe_read", kwlist, &name_o, &name, &buf_o, &version) <
		    0 ||
	    npmu_py_write_buffer(buf_o, &view, "buf") < 0)
		return NULL;
	struct npmu_stripe_report rep = {0};
	Py_ssize_t cap = view.len;
	int rc;
	LOCKED(c, rc = c->conn ? npmu_stripe_read(c->conn, name, version, cap ? view.buf : NULL,
						  (uint64_t)cap, &len, NULL, NULL, &rep)
			       : NPMU_PY_CLOSED);
	PyBuffer_Release(&view);
	if (rc == NPMU_E_TOOBIG)
		return PyErr_Format(PyExc_ValueError, "stripe_read %R: buf holds %zd bytes, the "
				    "version needs %llu", name_o, cap, (unsigned long long)len);
	if (rc != 0)
		return raise_with_report(rc, "stripe_read", name_o, &rep);
	return npmu_py_stripe_report_new(&rep, len);
}

/* npmu_py_stripe_stat -- stripe_stat(name): a StripeInfo. */
PyObject *npmu_py_stripe_stat(ConnectionObject *c, PyObject *name_o)
{
	const char *name = npmu_py_name(name_o, "name");
	if (!name)
		return NULL;
	struct npmu_stripe_info *info = PyMem_Calloc(1, sizeof(*info)); /* (about 14 KiB) */
	if (!info)
		return PyErr_NoMemory();
	int rc;
	LOCKED(c, rc = c->conn ? npmu_stripe_stat(c->conn, name, info) : NPMU_PY_CLOSED);
	PyObject *out = rc != 0 ? npmu_py_raise(rc, "stripe_stat", name_o)
				: npmu_py_stripe_info_new(info);
	PyMem_Free(info);
	return out;
}

/* npmu_py_stripe_rebuild -- stripe_rebuild(name): a StripeReport of what was written. */
PyObject *npmu_py_stripe_rebuild(ConnectionObject *c, PyObject *name_o)
{
	const char *name = npmu_py_name(name_o, "name");
	if (!name)
		return NULL;
	struct npmu_stripe_report rep = {0};
	int rc;
	LOCKED(c, rc = c->conn ? npmu_stripe_rebuild(c->conn, name, NULL, NULL, &rep)
			       : NPMU_PY_CLOSED);
	if (rc != 0)
		return raise_with_report(rc, "stripe_rebuild", name_o, &rep);
	return npmu_py_stripe_report_new(&rep, 0);
}

/* npmu_py_stripe_delete -- stripe_delete(name): every member region. */
PyObject *npmu_py_stripe_delete(ConnectionObject *c, PyObject *name_o)
{
	const char *name = npmu_py_name(name_o, "name");
	if (!name)
		return NULL;
	int rc;
	LOCKED(c, rc = c->conn ? npmu_stripe_delete(c->conn, name) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "stripe_delete", name_o);
	Py_RETURN_NONE;
}

/* npmu_py_state_name -- a version's state as stripe_versions names it. */
const char *npmu_py_state_name(enum npmu_version_state s)
{
	static const char *const names[] = {"protected", "staged", "lost", "superseded", "partial"};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

/* npmu_py_stripe_versions -- stripe_versions(name): [dict] newest first, with each state. */
PyObject *npmu_py_stripe_versions(ConnectionObject *c, PyObject *name_o)
{
	const char *name = npmu_py_name(name_o, "name");
	if (!name)
		return NULL;
	struct npmu_version_info *v = NULL;
	size_t n = 0;
	int rc;
	LOCKED(c, rc = c->conn ? npmu_stripe_versions(c->conn, name, &v, &n) : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "stripe_versions", name_o);
	PyObject *list = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; list && i < n; i++) {
		PyObject *d = Py_BuildValue("{sKsKsssIsKss}", "version",
					    (unsigned long long)v[i].version, "length",
					    (unsigned long long)v[i].length, "state",
					    npmu_py_state_name(v[i].state), "members", v[i].members,
					    "staged_ms", (unsigned long long)v[i].staged_ms,
					    "staging", v[i].staging);
		if (!d) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, d);
	}
	free(v);
	return list;
}

/* npmu_py_stripe_wait -- stripe_wait(name, version, timeout_ms=60000): the protected version
 * (the GIL released while it waits). */
PyObject *npmu_py_stripe_wait(ConnectionObject *c, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"name", "version", "timeout_ms", NULL};
	PyObject *name_o, *ver_o;
	int timeout = 60000;
	uint64_t version, got = 0;
	const char *name;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|i:stripe_wait", kwlist, &name_o, &ver_o,
					 &timeout) ||
	    !(name = npmu_py_name(name_o, "name")) ||
	    npmu_py_u64(ver_o, "version", &version) < 0)
		return NULL;
	int rc;
	LOCKED(c, rc = c->conn ? npmu_stripe_wait(c->conn, name, version, timeout, &got)
			       : NPMU_PY_CLOSED);
	if (rc != 0)
		return npmu_py_raise(rc, "stripe_wait", name_o);
	return PyLong_FromUnsignedLongLong(got);
}

/* npmu_py_stripe_protect -- stripe_protect(name): an encoder's work once; versions protected. */
PyObject *npmu_py_stripe_protect(ConnectionObject *c, PyObject *name_o)
{
	const char *name = npmu_py_name(name_o, "name");
	if (!name)
		return NULL;
	int rc;
	LOCKED(c, rc = c->conn ? npmu_stripe_protect(c->conn, name, NULL, NULL) : NPMU_PY_CLOSED);
	if (rc < 0)
		return npmu_py_raise(rc, "stripe_protect", name_o);
	return PyLong_FromLong(rc);
}
