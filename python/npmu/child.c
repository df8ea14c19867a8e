/* child.c -- the objects opened through a connection (Region, Stream, Dataset): linked to it
 * while open, closed under its lock, closed with it. */
#include "module.h"

/* npmu_py_child_open -- link ch to owner (a reference to it, kept until ch is freed, so that
 * ch->owner never changes) as an open object. */
void npmu_py_child_open(struct npmu_py_child *ch, ConnectionObject *owner,
			int (*close)(struct npmu_py_child *))
{
	Py_INCREF(owner);
	ch->owner = owner;
	ch->close = close;
	ch->linked = 1;
	ch->prev = NULL;
	ch->next = owner->children;
	if (ch->next)
		ch->next->prev = ch;
	owner->children = ch;
}

/* unlink_child -- ch out of its owner's list of open objects, once. */
static void unlink_child(struct npmu_py_child *ch)
{
	if (!ch->linked)
		return;
	if (ch->prev)
		ch->prev->next = ch->next;
	else
		ch->owner->children = ch->next;
	if (ch->next)
		ch->next->prev = ch->prev;
	ch->prev = ch->next = NULL;
	ch->linked = 0;
}

/* npmu_py_child_close -- free ch's handle under the lock (the GIL released), then unlink it;
 * closing a closed one does nothing. */
int npmu_py_child_close(struct npmu_py_child *ch)
{
	int rc;
	LOCKED(ch->owner, rc = ch->close(ch));
	if (rc == NPMU_PY_VIEWED) {
		npmu_py_raise(rc, Py_TYPE(ch)->tp_name, NULL);
		return -1;
	}
	unlink_child(ch);
	return 0;
}

/* npmu_py_child_dealloc -- the end of a child: closed with the GIL held (nothing may run in
 * the middle of a deallocation; no view of it is alive, as a view holds a reference), its
 * connection let go, its memory freed. */
void npmu_py_child_dealloc(struct npmu_py_child *ch)
{
	PyThread_acquire_lock(ch->owner->lock, WAIT_LOCK);
	(void)ch->close(ch);
	PyThread_release_lock(ch->owner->lock);
	unlink_child(ch);
	Py_CLEAR(ch->owner);
	Py_TYPE(ch)->tp_free((PyObject *)ch);
}
