/* args.c -- the argument checks every object shares: sizes and offsets, levels, copies, buffers. */
#include "module.h"

/* npmu_py_u64 -- o as a uint64_t: an integer (int, numpy integer) >= 0, else TypeError or
 * ValueError naming arg. */
int npmu_py_u64(PyObject *o, const char *arg, uint64_t *out)
{
	PyObject *i = PyNumber_Index(o);
	if (!i) {
		PyErr_Format(PyExc_TypeError, "%s must be an int, not %.80s", arg,
			     Py_TYPE(o)->tp_name);
		return -1;
	}
	int overflow;
	long long s = PyLong_AsLongLongAndOverflow(i, &overflow);
	int negative = overflow < 0 || (overflow == 0 && s < 0);
	unsigned long long v = negative ? 0 : PyLong_AsUnsignedLongLong(i);
	Py_DECREF(i);
	if (negative) {
		PyErr_Format(PyExc_ValueError, "%s must be >= 0, not %R", arg, o);
		return -1;
	}
	if (v == (unsigned long long)-1 && PyErr_Occurred()) {
		PyErr_Format(PyExc_ValueError, "%s is too large: %R", arg, o);
		return -1;
	}
	*out = v;
	return 0;
}

/* npmu_py_level -- npmu.PLACED (1) or npmu.PERSISTENT (2). */
int npmu_py_level(int level, enum npmu_durability *out)
{
	if (level != NPMU_PLACED && level != NPMU_PERSISTENT) {
		PyErr_Format(PyExc_ValueError,
			     "level must be npmu.PLACED (1) or npmu.PERSISTENT (2), not %d", level);
		return -1;
	}
	*out = (enum npmu_durability)level;
	return 0;
}

/* npmu_py_copy -- None (the nearest) or npmu.Copy.NEAREST, PRIMARY or MIRROR. */
int npmu_py_copy(PyObject *o, enum npmu_copy *out)
{
	if (o == Py_None) {
		*out = NPMU_COPY_NEAREST;
		return 0;
	}
	long v = PyLong_Check(o) ? PyLong_AsLong(o) : -1;
	if (v == -1 && PyErr_Occurred())
		return -1;
	if (v != NPMU_COPY_NEAREST && v != NPMU_COPY_PRIMARY && v != NPMU_COPY_MIRROR) {
		PyErr_Format(PyExc_ValueError,
			     "copy must be None or npmu.Copy.NEAREST, PRIMARY or MIRROR, not %R", o);
		return -1;
	}
	*out = (enum npmu_copy)v;
	return 0;
}

/* npmu_py_read_buffer -- o's memory, contiguous, without a copy: bytes, bytearray, memoryview,
 * numpy arrays, array.array, mmap. */
int npmu_py_read_buffer(PyObject *o, Py_buffer *view, const char *arg)
{
	if (!PyObject_CheckBuffer(o)) {
		PyErr_Format(PyExc_TypeError,
			     "%s must support the buffer protocol (bytes, bytearray, memoryview, a "
			     "numpy array, tensor.numpy()), not %.80s", arg, Py_TYPE(o)->tp_name);
		return -1;
	}
	if (PyObject_GetBuffer(o, view, PyBUF_ANY_CONTIGUOUS) == 0)
		return 0;
	PyErr_Clear();
	PyErr_Format(PyExc_BufferError,
		     "%s must be a contiguous buffer (this %.80s is not: copy it first, e.g. "
		     "numpy.ascontiguousarray or tensor.contiguous())", arg, Py_TYPE(o)->tp_name);
	return -1;
}

/* npmu_py_write_buffer -- o's memory to fill in place: contiguous and writable. */
int npmu_py_write_buffer(PyObject *o, Py_buffer *view, const char *arg)
{
	if (npmu_py_read_buffer(o, view, arg) < 0)
		return -1;
	if (!view->readonly)
		return 0;
	PyBuffer_Release(view);
	PyErr_Format(PyExc_TypeError,
		     "%s must be writable: this %.80s is read-only (use a bytearray, a numpy "
		     "array or a memoryview of one)", arg, Py_TYPE(o)->tp_name);
	return -1;
}

/* npmu_py_name -- o as a name for the library: a str without NUL characters; NULL with
 * TypeError or ValueError otherwise. The text lives as long as o. */
const char *npmu_py_name(PyObject *o, const char *arg)
{
	if (!PyUnicode_Check(o)) {
		PyErr_Format(PyExc_TypeError, "%s must be a str, not %.80s", arg,
			     Py_TYPE(o)->tp_name);
		return NULL;
	}
	Py_ssize_t len;
	const char *s = PyUnicode_AsUTF8AndSize(o, &len);
	if (s && strlen(s) != (size_t)len) {
		PyErr_Format(PyExc_ValueError, "%s must not contain NUL characters", arg);
		return NULL;
	}
	return s;
}
