/* _npmu.c -- the npmu._npmu extension module: its types, errors, records and constants over
 * libnpmu (include/npmu.h); python/npmu/__init__.py is its public face. */
#include "module.h"

/* strerror_ -- npmu.strerror(code): the library's sentence for a code (any int). */
static PyObject *strerror_(PyObject *mod, PyObject *arg)
{
	(void)mod;
	if (!PyLong_Check(arg))
		return PyErr_Format(PyExc_TypeError, "code must be an int, not %.80s",
				    Py_TYPE(arg)->tp_name);
	int overflow;
	long code = PyLong_AsLongAndOverflow(arg, &overflow);
	if (overflow || code < INT_MIN || code > INT_MAX)
		code = INT_MIN; /* no code of the library: its sentence for an unknown one */
	return PyUnicode_FromString(npmu_strerror((int)code));
}

/* set_log_level -- npmu.set_log_level(level): the library logs this level and more severe. */
static PyObject *set_log_level(PyObject *mod, PyObject *arg)
{
	(void)mod;
	long level = PyLong_Check(arg) ? PyLong_AsLong(arg) : -1;
	if (level == -1 && PyErr_Occurred())
		return NULL;
	if (level < NPMU_LOG_ERROR || level > NPMU_LOG_DEBUG)
		return PyErr_Format(PyExc_ValueError, "level must be npmu.LogLevel.ERROR (0) .. "
				    "DEBUG (3)");
	npmu_log_set_level((enum npmu_log_level)level);
	Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
	{"strerror", strerror_, METH_O,
	 "strerror(code)\n--\n\nThe library's sentence for an NPMU_E_* code (Error.message)."},
	{"set_log_level", set_log_level, METH_O,
	 "set_log_level(level)\n--\n\nLog lines at LEVEL (npmu.LogLevel) and more severe, to stderr;\n"
	 "overrides $NPMU_LOG from now on."},
	{NULL}};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "npmu._npmu",
	.m_doc = "The C half of npmu: types and calls over libnpmu. Import npmu, not this.",
	.m_size = -1,
	.m_methods = module_methods,
};

/* One integer constant of the module. */
struct constant {
	const char *name;
	long value;
};

static const struct constant constants[] = {
	{"PLACED", NPMU_PLACED}, {"PERSISTENT", NPMU_PERSISTENT},
	{"COPY_NEAREST", NPMU_COPY_NEAREST}, {"COPY_PRIMARY", NPMU_COPY_PRIMARY},
	{"COPY_MIRROR", NPMU_COPY_MIRROR},
	{"COPY_IN_SYNC", NPMU_COPY_IN_SYNC}, {"COPY_STALE", NPMU_COPY_STALE},
	{"COPY_RESYNCING", NPMU_COPY_RESYNCING},
	{"OVERWRITE", NPMU_CKPT_OVERWRITE}, {"APPEND", NPMU_CKPT_APPEND},
	{"LEASE_NONE", NPMU_LEASE_NONE}, {"LEASE_HELD", NPMU_LEASE_HELD},
	{"LEASE_LAPSED", NPMU_LEASE_LAPSED},
	{"MEMBER_OK", NPMU_MEMBER_OK}, {"MEMBER_LOST", NPMU_MEMBER_LOST},
	{"MEMBER_CORRUPT", NPMU_MEMBER_CORRUPT},
	{"LOG_ERROR", NPMU_LOG_ERROR}, {"LOG_WARN", NPMU_LOG_WARN}, {"LOG_INFO", NPMU_LOG_INFO},
	{"LOG_DEBUG", NPMU_LOG_DEBUG},
	{"NAME_MAX", NPMU_NAME_MAX}, {"DEFAULT_PORT", NPMU_DEFAULT_PORT},
	{"DATASET_PARTS_MAX", NPMU_DATASET_PARTS_MAX},
	{"DATASET_NAME_MAX", NPMU_DATASET_NAME_MAX},
};

/* add_types -- the object types, ready and added to m. */
static int add_types(PyObject *m)
{
	PyTypeObject *types[] = {&npmu_py_connection_type, &npmu_py_region_type,
				 &npmu_py_stream_type, &npmu_py_dataset_type};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (PyType_Ready(types[i]) < 0)
			return -1;
		Py_INCREF(types[i]);
		if (PyModule_AddObject(m, strchr(types[i]->tp_name, '.') + 1,
				       (PyObject *)types[i]) < 0) {
			Py_DECREF(types[i]);
			return -1;
		}
	}
	return 0;
}

/* PyInit__npmu -- make the module. */
PyMODINIT_FUNC PyInit__npmu(void)
{
	PyObject *m = PyModule_Create(&module);
	if (!m)
		return NULL;
	if (add_types(m) < 0 || npmu_py_errors_init(m) < 0 || npmu_py_info_init(m) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++)
		if (PyModule_AddIntConstant(m, constants[i].name, constants[i].value) < 0)
			goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
