/* holders.c -- live clients by holder id: renewals, liveness, and the bound on the table. */
#include "holders.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grow.h"
#include "clock.h"
#include "fabric.h"
#include "log.h"
#include "npmu.h"

/* npmu__holders_init -- an empty table; unknown holders count as live for one TTL from now. */
void npmu__holders_init(struct npmu__holders *hs, uint32_t ttl_ms)
{
	memset(hs, 0, sizeof(*hs));
	pthread_mutex_init(&hs->lock, NULL);
	hs->ttl_ms = ttl_ms;
	hs->started_ms = npmu__now_ms();
}

/* npmu__holders_fini -- free the table. */
void npmu__holders_fini(struct npmu__holders *hs)
{
	free(hs->h);
	pthread_mutex_destroy(&hs->lock);
	memset(hs, 0, sizeof(*hs));
}

/* find -- the entry of id, or NULL. */
static struct npmu__holder *find(const struct npmu__holders *hs, uint64_t id)
{
	for (uint32_t i = 0; i < hs->n; i++)
		if (hs->h[i].id == id)
			return &hs->h[i];
	return NULL;
}

/* sweep -- drop entries dead for a whole TTL more (their rights are reclaimable either way:
 * an unknown holder past the grace counts as dead). */
static void sweep(struct npmu__holders *hs, uint64_t now)
{
	for (uint32_t i = 0; i < hs->n;)
		if (hs->h[i].expiry_ms + hs->ttl_ms < now)
			hs->h[i] = hs->h[--hs->n];
		else
			i++;
}

/* set_addr -- where holder h's requests come from. */
static void set_addr(struct npmu__holder *h, const uint8_t *addr, size_t len)
{
	h->addr_len = addr && len <= NPMU_HOLDER_ADDR_MAX ? (uint8_t)len : 0;
	if (h->addr_len)
		memcpy(h->addr, addr, len);
}

/* renew -- npmu__holders_renew with the lock held. */
static int renew(struct npmu__holders *hs, uint64_t id, const char *who, const uint8_t *addr,
		 size_t addr_len)
{
	if (id == 0)
		return NPMU_E_INVAL;
	if (!who)
		who = "";
	uint64_t now = npmu__now_ms();
	struct npmu__holder *h = find(hs, id);
	if (h) {
		if (strcmp(h->who, who) != 0)
			return NPMU_E_ACCESS; /* not its holder: keeps nobody's rights alive */
		h->expiry_ms = now + hs->ttl_ms;
		if (addr_len)
			set_addr(h, addr, addr_len);
		return 0;
	}
	if (hs->n == hs->cap)
		sweep(hs, now);
	uint32_t mine = 0;
	for (uint32_t i = 0; i < hs->n; i++)
		mine += hs->h[i].expiry_ms > now && strcmp(hs->h[i].who, who) == 0;
	if (mine >= NPMU_HOLDERS_PER_ID)
		return NPMU_E_LIMIT;
	int rc;
	void *p = npmu__grow(hs->h, &hs->cap, hs->n, sizeof(*hs->h), 64, NPMU_HOLDERS_MAX, &rc);
	if (!p)
		return rc;
	hs->h = p;
	h = &hs->h[hs->n++];
	h->id = id;
	h->expiry_ms = now + hs->ttl_ms;
	snprintf(h->who, sizeof(h->who), "%s", who);
	set_addr(h, addr, addr_len);
	return 0;
}

/* npmu__holders_renew -- holder id of principal who is alive now. */
int npmu__holders_renew(struct npmu__holders *hs, uint64_t id, const char *who,
			const uint8_t *addr, size_t addr_len)
{
	pthread_mutex_lock(&hs->lock);
	int rc = renew(hs, id, who, addr, addr_len);
	pthread_mutex_unlock(&hs->lock);
	return rc;
}

/* live -- npmu__holders_live with the lock held. */
static bool live(const struct npmu__holders *hs, uint64_t id)
{
	if (id == 0)
		return false;
	uint64_t now = npmu__now_ms();
	const struct npmu__holder *h = find(hs, id);
	if (h)
		return h->expiry_ms > now;
	return now < hs->started_ms + hs->ttl_ms; /* unknown: live during the grace after a start */
}

/* npmu__holders_live -- whether the rights of holder id must be kept. */
bool npmu__holders_live(struct npmu__holders *hs, uint64_t id)
{
	pthread_mutex_lock(&hs->lock);
	bool l = live(hs, id);
	pthread_mutex_unlock(&hs->lock);
	return l;
}

/* npmu__holders_gone -- whether holder id's address refuses connections (its process is gone). */
bool npmu__holders_gone(struct npmu__holders *hs, uint64_t id)
{
	uint8_t addr[NPMU_HOLDER_ADDR_MAX];
	size_t len = 0;
	pthread_mutex_lock(&hs->lock);
	const struct npmu__holder *h = hs->probe ? find(hs, id) : NULL;
	if (h && h->addr_len) {
		len = h->addr_len;
		memcpy(addr, h->addr, len);
		hs->probes++;
	}
	pthread_mutex_unlock(&hs->lock);
	return len && npmu__addr_refused(addr, len); /* asked without the lock: up to 100 ms */
}

/* quiet -- whether probing rests now (a pass used up its budget lately); with spent, it starts
 * resting. */
static bool quiet(struct npmu__holders *hs, bool spent)
{
	pthread_mutex_lock(&hs->lock);
	uint64_t now = npmu__now_ms();
	if (spent && now >= hs->probe_quiet_until_ms)
		hs->probe_quiet_until_ms = now + NPMU_RECLAIM_QUIET_MS;
	bool q = now < hs->probe_quiet_until_ms;
	pthread_mutex_unlock(&hs->lock);
	return q;
}

/* npmu__holders_count -- holders live now. */
uint32_t npmu__holders_count(struct npmu__holders *hs)
{
	pthread_mutex_lock(&hs->lock);
	uint64_t now = npmu__now_ms();
	uint32_t n = 0;
	for (uint32_t i = 0; i < hs->n; i++)
		n += hs->h[i].expiry_ms > now;
	pthread_mutex_unlock(&hs->lock);
	return n;
}

/* npmu__reclaim_init -- a reclaim whose probing budget starts now. */
void npmu__reclaim_init(struct npmu__reclaim *rc, struct npmu__holders *hs)
{
	rc->hs = hs;
	rc->deadline_ms = npmu__now_ms() + NPMU_RECLAIM_PROBE_MS;
	rc->found = false;
}

/* npmu__holders_keep_live -- keep a right unless its holder is dead. */
bool npmu__holders_keep_live(void *hs, uint64_t holder)
{
	return npmu__holders_live(hs, holder);
}

/* npmu__holders_keep_present -- keep a right unless it is the first whose holder is gone. */
bool npmu__holders_keep_present(void *arg, uint64_t holder)
{
	struct npmu__reclaim *rc = arg;
	if (rc->found || quiet(rc->hs, npmu__now_ms() > rc->deadline_ms) ||
	    !npmu__holders_gone(rc->hs, holder))
		return true;
	rc->found = true;
	return false;
}

/* npmu__rights_holder_full -- whether the holder asking holds its share of the region already. */
bool npmu__rights_holder_full(const struct npmu__rights_count *c)
{
	return c->held >= NPMU_RIGHTS_PER_HOLDER;
}

/* npmu__rights_log_refusal -- say which limit a refused right met, at most once a second. */
void npmu__rights_log_refusal(const char *name, const char *where, uint32_t access,
			      uint64_t holder, const struct npmu__rights_count *c)
{
	static _Atomic uint64_t last_ms;
	uint64_t now = npmu__now_ms(), last = atomic_load(&last_ms);
	if ((last && now - last < 1000) || !atomic_compare_exchange_strong(&last_ms, &last, now))
		return;
	char on[160] = "";
	if (where)
		snprintf(on, sizeof(on), " on %s", where);
	if (npmu__rights_holder_full(c))
		LOG_WARN("region %s%s: client %016llx holds %u rights to it already, the most one "
			 "client may: it must close some", name, on, (unsigned long long)holder, c->held);
	else if (access == NPMU_ACCESS_READ && c->reads >= NPMU_RIGHTS_READ_MAX)
		LOG_WARN("region %s%s: all %d read rights are held by live clients (the other %d are "
			 "kept for writers): close some, or revoke them all (npmu region revoke %s)",
			 name, on, NPMU_RIGHTS_READ_MAX, NPMU_RIGHTS_REPLY_MAX - NPMU_RIGHTS_READ_MAX,
			 name);
	else
		LOG_WARN("region %s%s: all %d rights are held by live clients: close some, or revoke "
			 "them all (npmu region revoke %s)", name, on, NPMU_RIGHTS_REPLY_MAX, name);
}
