/* info.c -- the read-only records calls return (struct sequences: named tuples made in C). */
#include "module.h"

PyTypeObject *npmu_py_region_info, *npmu_py_unit_info, *npmu_py_copy_info, *npmu_py_mirror_info,
	*npmu_py_stream_info, *npmu_py_checkpoint, *npmu_py_stripe_report, *npmu_py_stripe_info,
	*npmu_py_dataset_version;

static PyStructSequence_Field region_fields[] = {
	{"name", "the region's name"},
	{"owner", "the principal that created it ('' without authentication)"},
	{"id", "unit-wide region id, never reused"},
	{"size", "bytes"},
	{"extents", "runs of contiguous pool pages behind it"},
	{"rights", "open rights (registrations)"},
	{"copies", "1, or 2 for a mirrored region"},
	{NULL}};
static PyStructSequence_Field unit_fields[] = {
	{"addr", "host:port"},
	{"up", "answering and authenticated"},
	{"bytes", "data capacity"},
	{"free", "unallocated bytes"},
	{"regions", "regions on it"},
	{"domain", "its fault domain ('': a domain of its own)"},
	{NULL}};
static PyStructSequence_Field copy_fields[] = {
	{"unit", "host:port"},
	{"state", "npmu.CopyState: IN_SYNC, STALE or RESYNCING"},
	{"reachable", "its unit answered"},
	{"resync_done", "bytes resynced so far (RESYNCING)"},
	{NULL}};
static PyStructSequence_Field mirror_fields[] = {
	{"generation", "of the mirror record in force"},
	{"size", "bytes"},
	{"repaired", "the units' records disagreed; the newer was written back"},
	{"reads_from", "the copy the handle's last read came from (-1: none)"},
	{"copies", "(primary, mirror): a CopyInfo each"},
	{NULL}};
static PyStructSequence_Field stream_fields[] = {
	{"mode", "npmu.StreamMode"},
	{"epoch", "raised each time a writer is fenced"},
	{"seq", "last committed checkpoint (overwrite) or update (append)"},
	{"state_size", "the largest state, bytes"},
	{"state_len", "bytes of the current state"},
	{"log_size", "append: bytes of update log"},
	{"latest_start", "append: log position of the latest update"},
	{"latest_end", "append: log position after it"},
	{"unread", "append: bytes of log the backup has not consumed"},
	{"lease_state", "npmu.LeaseState: NONE, HELD or LAPSED"},
	{"lease_left_ms", "milliseconds the lease still runs"},
	{"lease_holder", "principal holding the lease ('' without authentication)"},
	{NULL}};
static PyStructSequence_Field checkpoint_fields[] = {
	{"seq", "its sequence number"},
	{"epoch", "the writer's epoch"},
	{"data", "the state (bytes)"},
	{NULL}};
static PyStructSequence_Field report_fields[] = {
	{"version", "the version restored (or rebuilt)"},
	{"newest", "the newest committed version found"},
	{"older_ok", "LostError: the newest older version still recoverable (0: none)"},
	{"lost", "members that could not be read"},
	{"bad", "sub-segments that failed their checksum"},
	{"repaired", "sub-segments reconstructed or written back"},
	{"which", "the members lost or failing"},
	{"length", "bytes restored (stripe_read), else 0"},
	{"staged", "True: the version restored is staged, not yet protected (its staging copy)"},
	{NULL}};
static PyStructSequence_Field stripe_fields[] = {
	{"k", "data sub-segments per group"},
	{"m", "parity sub-segments per group"},
	{"n", "units (members)"},
	{"keep", "versions kept"},
	{"seg_size", "sub-segment bytes"},
	{"capacity", "the largest checkpoint it holds"},
	{"newest_data_off", "where the newest version's sub-segments start in each member"},
	{"versions", "newest first: (version, length, members holding its manifest) each"},
	{"members", "(region, unit, npmu.MemberState, manifests) each"},
	{NULL}};
static PyStructSequence_Field version_fields[] = {
	{"version", "the version number"},
	{"label", "what the committing process said (the step)"},
	{"parts", "N"},
	{"pinned", "kept whatever is committed after it"},
	{"bytes", "all parts together"},
	{NULL}};

/* One record type to make. */
struct info_type {
	PyTypeObject **type;
	const char *name, *doc;
	PyStructSequence_Field *fields;
};

static const struct info_type types[] = {
	{&npmu_py_region_info, "npmu.RegionInfo", "What a unit says about one region.", region_fields},
	{&npmu_py_unit_info, "npmu.UnitInfo", "What a manager says about one of its units.", unit_fields},
	{&npmu_py_copy_info, "npmu.CopyInfo", "The state of one copy of a mirrored region.", copy_fields},
	{&npmu_py_mirror_info, "npmu.MirrorInfo", "What is known of a mirrored region's copies.",
	 mirror_fields},
	{&npmu_py_stream_info, "npmu.StreamInfo", "What a stream says of itself.", stream_fields},
	{&npmu_py_checkpoint, "npmu.Checkpoint", "One kept checkpoint of an overwrite stream.",
	 checkpoint_fields},
	{&npmu_py_stripe_report, "npmu.StripeReport", "What a restore or a rebuild found.",
	 report_fields},
	{&npmu_py_stripe_info, "npmu.StripeInfo", "A striped set: layout, versions, members.",
	 stripe_fields},
	{&npmu_py_dataset_version, "npmu.DatasetVersion", "One complete version of a dataset.",
	 version_fields},
};

/* npmu_py_info_init -- make every record type and add it to m under its short name. */
int npmu_py_info_init(PyObject *m)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		PyStructSequence_Desc d = {types[i].name, types[i].doc, types[i].fields, 0};
		for (PyStructSequence_Field *f = d.fields; f->name; f++)
			d.n_in_sequence++;
		*types[i].type = PyStructSequence_NewType(&d);
		if (!*types[i].type)
			return -1;
		Py_INCREF(*types[i].type);
		if (PyModule_AddObject(m, strchr(types[i].name, '.') + 1,
				       (PyObject *)*types[i].type) < 0) {
			Py_DECREF(*types[i].type);
			return -1;
		}
	}
	return 0;
}

/* fill -- a record of type t from a format of its fields (Py_BuildValue); NULL on failure. */
static PyObject *fill(PyTypeObject *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	PyObject *values = Py_VaBuildValue(fmt, ap);
	va_end(ap);
	if (!values)
		return NULL;
	PyObject *rec = PyStructSequence_New(t);
	for (Py_ssize_t i = 0; rec && i < PyTuple_GET_SIZE(values); i++) {
		PyObject *v = PyTuple_GET_ITEM(values, i);
		Py_INCREF(v);
		PyStructSequence_SET_ITEM(rec, i, v);
	}
	Py_DECREF(values);
	return rec;
}

/* npmu_py_region_info_new -- a RegionInfo. */
PyObject *npmu_py_region_info_new(const struct npmu_region_info *i)
{
	return fill(npmu_py_region_info, "(ssKKIII)", i->name, i->owner, (unsigned long long)i->id,
		    (unsigned long long)i->size, i->extents, i->rights, i->copies);
}

/* npmu_py_unit_info_new -- a UnitInfo. */
PyObject *npmu_py_unit_info_new(const struct npmu_unit_info *i)
{
	return fill(npmu_py_unit_info, "(sNKKIs)", i->addr, PyBool_FromLong(i->up),
		    (unsigned long long)i->bytes, (unsigned long long)i->free, i->regions,
		    i->domain);
}

/* copy_info -- a CopyInfo. */
static PyObject *copy_info(const struct npmu_copy_info *c)
{
	return fill(npmu_py_copy_info, "(siNK)", c->unit, c->state, PyBool_FromLong(c->reachable),
		    (unsigned long long)c->resync_done);
}

/* npmu_py_mirror_info_new -- a MirrorInfo with its copies. */
PyObject *npmu_py_mirror_info_new(const struct npmu_mirror_info *i)
{
	uint32_t n = i->ncopies < 2 ? i->ncopies : 2;
	PyObject *copies = PyTuple_New(n);
	for (uint32_t k = 0; copies && k < n; k++) {
		PyObject *c = copy_info(&i->copy[k]);
		if (!c) {
			Py_CLEAR(copies);
			break;
		}
		PyTuple_SET_ITEM(copies, k, c);
	}
	if (!copies)
		return NULL;
	return fill(npmu_py_mirror_info, "(KKNiN)", (unsigned long long)i->generation,
		    (unsigned long long)i->size, PyBool_FromLong(i->repaired), i->reads_from,
		    copies);
}

/* npmu_py_stream_info_new -- a StreamInfo. */
PyObject *npmu_py_stream_info_new(const struct npmu_ckpt_info *i)
{
	return fill(npmu_py_stream_info, "(iKKKKKKKKiIs)", (int)i->mode,
		    (unsigned long long)i->epoch, (unsigned long long)i->seq,
		    (unsigned long long)i->state_size, (unsigned long long)i->state_len,
		    (unsigned long long)i->log_size, (unsigned long long)i->latest_start,
		    (unsigned long long)i->latest_end, (unsigned long long)i->unread,
		    (int)i->lease_state, i->lease_left_ms, i->lease_holder);
}

/* npmu_py_stripe_report_new -- a StripeReport (length: bytes restored, 0 when not a read). */
PyObject *npmu_py_stripe_report_new(const struct npmu_stripe_report *r, uint64_t length)
{
	return fill(npmu_py_stripe_report, "(KKKIIIsKN)", (unsigned long long)r->version,
		    (unsigned long long)r->newest, (unsigned long long)r->older_ok, r->lost, r->bad,
		    r->repaired, r->which, (unsigned long long)length, PyBool_FromLong(r->staged));
}

/* npmu_py_stripe_info_new -- a StripeInfo with its versions and members. */
PyObject *npmu_py_stripe_info_new(const struct npmu_stripe_info *i)
{
	uint32_t nv = i->nversions < 8 ? i->nversions : 8, nm = i->n < 64 ? i->n : 64;
	PyObject *versions = PyTuple_New(nv), *members = PyTuple_New(nm);
	for (uint32_t k = 0; versions && members && k < nv; k++) {
		PyObject *v = Py_BuildValue("(KKI)", (unsigned long long)i->versions[k].version,
					    (unsigned long long)i->versions[k].length,
					    i->versions[k].members);
		if (!v)
			goto fail;
		PyTuple_SET_ITEM(versions, k, v);
	}
	for (uint32_t k = 0; versions && members && k < nm; k++) {
		PyObject *v = Py_BuildValue("(ssiI)", i->member[k].region, i->member[k].unit,
					    (int)i->member[k].state, i->member[k].manifests);
		if (!v)
			goto fail;
		PyTuple_SET_ITEM(members, k, v);
	}
	if (!versions || !members)
		goto fail;
	return fill(npmu_py_stripe_info, "(IIIIKKKNN)", i->k, i->m, i->n, i->keep,
		    (unsigned long long)i->seg_size, (unsigned long long)i->capacity,
		    (unsigned long long)i->newest_data_off, versions, members);
fail:
	Py_XDECREF(versions);
	Py_XDECREF(members);
	return NULL;
}

/* npmu_py_dataset_version_new -- a DatasetVersion. */
PyObject *npmu_py_dataset_version_new(const struct npmu_dataset_version *v)
{
	return fill(npmu_py_dataset_version, "(KKINK)", (unsigned long long)v->version,
		    (unsigned long long)v->label, v->parts, PyBool_FromLong(v->pinned),
		    (unsigned long long)v->bytes);
}
