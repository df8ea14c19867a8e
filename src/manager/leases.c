/* leases.c -- the lease table: states, slots, the grace after a start, and stall credit. */
#include "leases.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

/* npmu__leases_now -- monotonic milliseconds. */
uint64_t npmu__leases_now(void)
{
	return npmu__now_ms();
}

/* npmu__leases_init -- an empty table whose grace starts now. */
void npmu__leases_init(struct npmu__leases *ls, uint32_t grace_ms)
{
	memset(ls, 0, sizeof(*ls));
	ls->grace_ms = grace_ms;
	ls->started_ms = npmu__leases_now();
}

/* npmu__leases_fini -- free the table. */
void npmu__leases_fini(struct npmu__leases *ls)
{
	free(ls->l);
	ls->l = NULL;
}

/* npmu__lease_state -- FREE, HELD, LAPSED or TAKING now. */
enum npmu__lease_state npmu__lease_state(const struct npmu__lease *l)
{
	if (!l || !l->id)
		return LEASE_FREE;
	if (l->taking)
		return LEASE_TAKING;
	return l->expiry_ms > npmu__leases_now() ? LEASE_HELD : LEASE_LAPSED;
}

/* table -- the entries, allocated on first use; NULL when out of memory. */
static struct npmu__lease *table(struct npmu__leases *ls)
{
	if (!ls->l)
		ls->l = calloc(NPMU_LEASES_MAX, sizeof(*ls->l));
	return ls->l;
}

/* npmu__leases_find -- the entry of name, or NULL. */
struct npmu__lease *npmu__leases_find(struct npmu__leases *ls, const char *name)
{
	struct npmu__lease *t = table(ls);
	for (int i = 0; t && i < NPMU_LEASES_MAX; i++)
		if (t[i].id && strcmp(t[i].name, name) == 0)
			return &t[i];
	return NULL;
}

/* npmu__leases_slot -- name's entry, a free one, or the longest-lapsed one. */
struct npmu__lease *npmu__leases_slot(struct npmu__leases *ls, const char *name)
{
	struct npmu__lease *l = npmu__leases_find(ls, name), *t = table(ls);
	if (l || !t)
		return l;
	struct npmu__lease *victim = NULL;
	for (int i = 0; i < NPMU_LEASES_MAX; i++) {
		if (!t[i].id) {
			victim = &t[i];
			break;
		}
		if (npmu__lease_state(&t[i]) == LEASE_LAPSED &&
		    (!victim || t[i].expiry_ms < victim->expiry_ms))
			victim = &t[i];
	}
	if (victim)
		memset(victim, 0, sizeof(*victim));
	return victim;
}

/* npmu__leases_grace_left -- milliseconds of the grace after the start left. */
uint32_t npmu__leases_grace_left(const struct npmu__leases *ls)
{
	uint64_t now = npmu__leases_now(), end = ls->started_ms + ls->grace_ms;
	return now < end ? (uint32_t)(end - now) : 0;
}

/* npmu__leases_in_grace -- whether the grace after the manager's start still runs. */
bool npmu__leases_in_grace(const struct npmu__leases *ls)
{
	return npmu__leases_grace_left(ls) > 0;
}

/* npmu__leases_stalled -- the last ms passed without the manager serving anything: add them to
 * every lease that was live when the stall began (nobody could renew meanwhile). */
void npmu__leases_stalled(struct npmu__leases *ls, uint64_t ms)
{
	uint64_t now = npmu__leases_now();
	for (int i = 0; ls->l && i < NPMU_LEASES_MAX; i++) {
		struct npmu__lease *l = &ls->l[i];
		if (l->id && !l->taking && l->expiry_ms + ms > now)
			l->expiry_ms += ms;
	}
}
