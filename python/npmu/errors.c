/* errors.c -- npmu.Error, one subclass per NPMU_E_* code, and raising them from a library code. */
#include "module.h"

/* One library code and the exception it raises. */
struct error_class {
	int code;
	const char *name;  /* npmu.<name> */
	PyObject **also;   /* a built-in exception it also is (NULL: none) */
	PyObject *type;    /* made at import */
};

static struct error_class classes[] = {
	{NPMU_E_INVAL, "InvalidArgumentError", &PyExc_ValueError, NULL},
	{NPMU_E_NOMEM, "OutOfMemoryError", &PyExc_MemoryError, NULL},
	{NPMU_E_NOENT, "NotFoundError", &PyExc_LookupError, NULL},
	{NPMU_E_EXIST, "ExistsError", NULL, NULL},
	{NPMU_E_NOSPC, "NoSpaceError", NULL, NULL},
	{NPMU_E_NAME, "BadNameError", &PyExc_ValueError, NULL},
	{NPMU_E_RANGE, "RangeError", &PyExc_ValueError, NULL},
	{NPMU_E_ACCESS, "AccessError", NULL, NULL},
	{NPMU_E_KEY, "AccessKeyError", NULL, NULL},
	{NPMU_E_PROTO, "ProtocolError", NULL, NULL},
	{NPMU_E_TOOBIG, "TooBigError", &PyExc_ValueError, NULL},
	{NPMU_E_CORRUPT, "CorruptError", NULL, NULL},
	{NPMU_E_VERSION, "VersionError", NULL, NULL},
	{NPMU_E_IO, "UnitIOError", NULL, NULL},
	{NPMU_E_FABRIC, "FabricError", NULL, NULL},
	{NPMU_E_TIMEDOUT, "TimedOutError", NULL, NULL},
	{NPMU_E_UNREACHABLE, "UnreachableError", NULL, NULL},
	{NPMU_E_LIMIT, "LimitError", NULL, NULL},
	{NPMU_E_SHRINK, "ShrinkError", &PyExc_ValueError, NULL},
	{NPMU_E_INTERNAL, "InternalError", NULL, NULL},
	{NPMU_E_BUSY, "BusyError", NULL, NULL},
	{NPMU_E_AUTH, "AuthError", NULL, NULL},
	{NPMU_E_NOUNIT, "NoUnitError", NULL, NULL},
	{NPMU_E_FENCED, "FencedError", NULL, NULL},
	{NPMU_E_LEASE, "LeaseError", NULL, NULL},
	{NPMU_E_LOST, "LostError", NULL, NULL},
	{NPMU_E_MANAGER, "ManagerError", NULL, NULL},
	{NPMU_E_CONFIG, "ConfigError", NULL, NULL},
};
#define NCLASSES (sizeof(classes) / sizeof(classes[0]))

static PyObject *error_base; /* npmu.Error */

/* new_class -- npmu.<name>(bases), with code set on the class; a new reference or NULL. */
static PyObject *new_class(const char *name, PyObject *bases, int code, const char *doc)
{
	char qual[64];
	snprintf(qual, sizeof(qual), "npmu.%s", name);
	PyObject *dict = Py_BuildValue("{s:i,s:s}", "code", code, "message", npmu_strerror(code));
	if (!dict)
		return NULL;
	PyObject *type = PyErr_NewExceptionWithDoc(qual, doc, bases, dict);
	Py_DECREF(dict);
	return type;
}

/* add_class -- classes[i] made and added to m; 0 or -1. */
static int add_class(PyObject *m, struct error_class *e)
{
	char doc[160];
	snprintf(doc, sizeof(doc), "NPMU_E code %d: %s.", e->code, npmu_strerror(e->code));
	PyObject *bases = e->also ? PyTuple_Pack(2, error_base, *e->also) : PyTuple_Pack(1, error_base);
	if (!bases)
		return -1;
	e->type = new_class(e->name, bases, e->code, doc);
	Py_DECREF(bases);
	if (!e->type)
		return -1;
	Py_INCREF(e->type); /* one for the table, one for the module */
	return PyModule_AddObject(m, e->name, e->type) < 0 ? (Py_DECREF(e->type), -1) : 0;
}

/* npmu_py_errors_init -- npmu.Error and its subclasses, added to m. */
int npmu_py_errors_init(PyObject *m)
{
	static const char doc[] =
		"An npmu library call failed.\n\n"
		"Attributes: code (the negative NPMU_E_* code) and message (the library's sentence,\n"
		"npmu.strerror(code)). Each code has its subclass (FencedError, LeaseError,\n"
		"NotFoundError, ...); argument errors are also ValueError, NotFoundError LookupError.";
	error_base = PyErr_NewExceptionWithDoc("npmu.Error", doc, PyExc_Exception, NULL);
	if (!error_base)
		return -1;
	Py_INCREF(error_base);
	if (PyModule_AddObject(m, "Error", error_base) < 0) {
		Py_DECREF(error_base);
		return -1;
	}
	if (PyObject_SetAttrString(error_base, "code", Py_None) < 0 ||
	    PyObject_SetAttrString(error_base, "message", Py_None) < 0)
		return -1;
	for (size_t i = 0; i < NCLASSES; i++)
		if (add_class(m, &classes[i]) < 0)
			return -1;
	return 0;
}

/* class_of -- the exception class of library code rc (npmu.Error for a code it does not know). */
static PyObject *class_of(int rc)
{
	for (size_t i = 0; i < NCLASSES; i++)
		if (classes[i].code == rc)
			return classes[i].type;
	return error_base;
}

/* npmu_py_raise -- "what 'name': sentence" as the exception of rc, with .code and .message. */
PyObject *npmu_py_raise(int rc, const char *what, PyObject *name)
{
	if (rc == NPMU_PY_CLOSED) {
		PyErr_Format(PyExc_ValueError, "%s: the object is closed", what);
		return NULL;
	}
	if (rc == NPMU_PY_VIEWED) {
		PyErr_Format(PyExc_BufferError,
			     "%s: a view of the state is still alive (release the memoryview, or "
			     "drop the arrays made from it, first)", what);
		return NULL;
	}
	const char *sentence = npmu_strerror(rc);
	PyObject *text = name ? PyUnicode_FromFormat("%s %R: %s", what, name, sentence)
			      : PyUnicode_FromFormat("%s: %s", what, sentence);
	if (!text)
		return NULL;
	PyObject *cls = class_of(rc);
	PyObject *exc = PyObject_CallOneArg(cls, text);
	Py_DECREF(text);
	if (!exc)
		return NULL;
	PyObject *code = PyLong_FromLong(rc), *msg = PyUnicode_FromString(sentence);
	if (code && msg && PyObject_SetAttrString(exc, "code", code) == 0 &&
	    PyObject_SetAttrString(exc, "message", msg) == 0)
		PyErr_SetObject(cls, exc);
	Py_XDECREF(code);
	Py_XDECREF(msg);
	Py_DECREF(exc);
	return NULL;
}
