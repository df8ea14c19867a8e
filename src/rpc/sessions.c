/* sessions.c -- responder side of the handshake, the session table, and slowing down guessers. */
#include "sessions.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "clock.h"
#include "codec.h"
#include "fabric.h"
#include "log.h"
#include "replies.h"

/* session_hash -- (slot_index.h) the hash of slot's session id. */
static uint32_t session_hash(const void *table, uint32_t slot)
{
	uint64_t id = ((const struct npmu__sessions *)table)->s[slot].t.session;
	return (uint32_t)(id ^ id >> 32);
}

/* session_is -- (slot_index.h) whether slot holds the session with id *key. */
static bool session_is(const void *table, uint32_t slot, const void *key)
{
	return ((const struct npmu__sessions *)table)->s[slot].t.session == *(const uint64_t *)key;
}

/* npmu__sessions_init -- an empty table answering as `id`. */
int npmu__sessions_init(struct npmu__sessions *ss, const struct npmu__credentials *creds,
			const uint8_t *cluster_key, const char *id, uint32_t max)
{
	memset(ss, 0, sizeof(*ss));
	if (max > NPMU_SESSIONS_LIMIT)
		return NPMU_E_INVAL;
	ss->max = max ? max : NPMU_SESSIONS_MAX;
	ss->s = calloc(ss->max, sizeof(*ss->s)); /* (zero pages: untouched until used) */
	int rc = ss->s ? npmu__slot_index_init(&ss->index, ss->max, ss, session_hash)
		       : NPMU_E_NOMEM;
	if (rc != 0) {
		npmu__sessions_fini(ss);
		return rc;
	}
	ss->creds = creds;
	ss->cluster_key = cluster_key;
	snprintf(ss->id, sizeof(ss->id), "%s", id);
	randombytes_buf(ss->decoy, sizeof(ss->decoy));
	return 0;
}

/* npmu__sessions_fini -- wipe every key (of the slots ever used) and free the table. */
void npmu__sessions_fini(struct npmu__sessions *ss)
{
	for (uint32_t i = 0; ss->s && i < ss->max; i++)
		if (ss->s[i].state != SESSION_FREE)
			sodium_memzero(&ss->s[i], sizeof(ss->s[i]));
	free(ss->s);
	npmu__slot_index_fini(&ss->index);
	sodium_memzero(ss, sizeof(*ss));
}

/* index_find -- the open session with that id, or NULL. */
static struct npmu__session *index_find(const struct npmu__sessions *ss, uint64_t id)
{
	int32_t slot = npmu__slot_index_find(&ss->index, (uint32_t)(id ^ id >> 32), session_is,
					     &id);
	return slot < 0 ? NULL : &ss->s[slot];
}

/* close_open -- close an open session: out of the index, its keys wiped, its slot free. */
static void close_open(struct npmu__sessions *ss, struct npmu__session *s)
{
	npmu__slot_index_del(&ss->index, (uint32_t)(s - ss->s));
	sodium_memzero(s, sizeof(*s));
	ss->open--;
}

/* npmu__host_of -- the host part of a socket address, the port zeroed. */
void npmu__host_of(const uint8_t *addr, size_t len, uint8_t host[16])
{
	memset(host, 0, 16);
	if (len >= 8 && addr[0] == AF_INET)
		memcpy(host, addr + 4, 4);
	else if (len >= 24 && addr[0] == AF_INET6)
		memcpy(host, addr + 8, 16);
	else
		memcpy(host, addr, len < 16 ? len : 16);
}

/* failures_of -- the failure record of host (a new or the oldest one when absent). */
static struct npmu__auth_failures *failures_of(struct npmu__sessions *ss, const uint8_t host[16])
{
	struct npmu__auth_failures *victim = &ss->f[0];
	for (size_t i = 0; i < sizeof(ss->f) / sizeof(ss->f[0]); i++) {
		if (memcmp(ss->f[i].host, host, 16) == 0 && ss->f[i].count)
			return &ss->f[i];
		if (ss->f[i].until_ns < victim->until_ns || !ss->f[i].count)
			victim = &ss->f[i];
	}
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->host, host, 16);
	return victim;
}

/* npmu__sessions_fail -- count a failure; from the third on, refuse the host for a growing time. */
void npmu__sessions_fail(struct npmu__sessions *ss, const uint8_t host[16])
{
	struct npmu__auth_failures *f = failures_of(ss, host);
	ss->failures++;
	if (++f->count >= 3) {
		unsigned shift = f->count - 3 < 8 ? f->count - 3 : 8;
		f->until_ns = npmu__now_ns() + (100000000ull << shift); /* 0.1 s doubling to 25.6 s */
	}
}

/* throttled -- whether host must be refused without looking. */
static bool throttled(struct npmu__sessions *ss, const uint8_t host[16])
{
	for (size_t i = 0; i < sizeof(ss->f) / sizeof(ss->f[0]); i++)
		if (ss->f[i].count && memcmp(ss->f[i].host, host, 16) == 0)
			return npmu__now_ns() < ss->f[i].until_ns;
	return false;
}

#define GONE_PROBES 8 /* peers asked, at most, for one slot */

/* among -- whether s is one of the n in list. */
static bool among(struct npmu__session *const *list, int n, const struct npmu__session *s)
{
	for (int i = 0; i < n; i++)
		if (list[i] == s)
			return true;
	return false;
}

/* open_slot -- a free session slot, else the least recently used open session idle for over a
 * minute, else the first of the longest-idle (idle NPMU_SESSION_IDLE_MS at least) whose peer is
 * gone; NULL when all are in use. */
static struct npmu__session *open_slot(struct npmu__sessions *ss)
{
	uint64_t now = npmu__now_ns();
	struct npmu__session *lru = NULL;
	for (uint32_t i = 0; i < ss->max; i++) {
		struct npmu__session *s = &ss->s[i];
		if (s->state == SESSION_FREE)
			return s;
		if (now - s->last_ns > 60ull * 1000000000 && (!lru || s->last_ns < lru->last_ns))
			lru = s;
	}
	if (lru) {
		LOG_INFO("session of %s: idle for a minute: closed to make room", lru->who);
		close_open(ss, lru);
		return lru;
	}
	if (!ss->probe)
		return NULL;
	struct npmu__session *asked[GONE_PROBES];
	for (int k = 0; k < GONE_PROBES; k++) {
		struct npmu__session *c = NULL;
		for (uint32_t i = 0; i < ss->max; i++) {
			struct npmu__session *s = &ss->s[i];
			if (s->addr_len && now - s->last_ns > (uint64_t)NPMU_SESSION_IDLE_MS * 1000000 &&
			    (!c || s->last_ns < c->last_ns) && !among(asked, k, s))
				c = s;
		}
		if (!c)
			break;
		asked[k] = c;
		if (npmu__addr_refused(c->addr, c->addr_len)) {
			LOG_INFO("session of %s: its client is gone: closed to make room", c->who);
			close_open(ss, c);
			return c;
		}
	}
	return NULL;
}

/* abandon -- free an unfinished handshake; one evicted to make room counts against its host. */
static void abandon(struct npmu__sessions *ss, struct npmu__session *p, bool evicted)
{
	uint8_t host[16];
	memcpy(host, p->host, 16);
	sodium_memzero(p, sizeof(*p));
	ss->abandoned++;
	if (evicted)
		npmu__sessions_fail(ss, host);
}

/* expire -- free the handshakes left unfinished for NPMU_SESSION_PENDING_MS (a client that died
 * mid-handshake; one that held room others needed was evicted and counted already). */
static void expire(struct npmu__sessions *ss)
{
	uint64_t now = npmu__now_ns();
	for (int i = 0; i < NPMU_PENDING_MAX; i++)
		if (ss->pending[i].state == SESSION_CHALLENGED &&
		    now - ss->pending[i].last_ns > (uint64_t)NPMU_SESSION_PENDING_MS * 1000000)
			abandon(ss, &ss->pending[i], false);
}

/* pending_slot -- room for a handshake of host: a free slot; else, when host has its share,
 * its own oldest; else the oldest of the host holding most (abandoned, counted). */
static struct npmu__session *pending_slot(struct npmu__sessions *ss, const uint8_t host[16])
{
	expire(ss);
	struct npmu__session *free_slot = NULL, *own_oldest = NULL;
	int own = 0;
	for (int i = 0; i < NPMU_PENDING_MAX; i++) {
		struct npmu__session *p = &ss->pending[i];
		if (p->state == SESSION_FREE) {
			if (!free_slot)
				free_slot = p;
			continue;
		}
		if (memcmp(p->host, host, 16) == 0) {
			own++;
			if (!own_oldest || p->last_ns < own_oldest->last_ns)
				own_oldest = p;
		}
	}
	if (own >= NPMU_PENDING_PER_HOST) {
		abandon(ss, own_oldest, true);
		return own_oldest;
	}
	if (free_slot)
		return free_slot;
	/* full: the host holding the most handshakes gives its oldest */
	struct npmu__session *victim = NULL;
	int most = 0;
	for (int i = 0; i < NPMU_PENDING_MAX; i++) {
		int n = 0;
		struct npmu__session *oldest = NULL;
		for (int k = 0; k < NPMU_PENDING_MAX; k++)
			if (memcmp(ss->pending[k].host, ss->pending[i].host, 16) == 0) {
				n++;
				if (!oldest || ss->pending[k].last_ns < oldest->last_ns)
					oldest = &ss->pending[k];
			}
		if (n > most) {
			most = n;
			victim = oldest;
		}
	}
	abandon(ss, victim, true);
	return victim;
}

/* npmu__sessions_auth1 -- answer AUTH1 with a challenge. */
int npmu__sessions_auth1(struct npmu__sessions *ss, const struct npmu__request *req,
			 fi_addr_t peer, const uint8_t host[16], struct npmu__cursor *reply)
{
	if (throttled(ss, host))
		return NPMU_E_AUTH;
	struct npmu__session *s = pending_slot(ss, host);
	if (throttled(ss, host)) /* its own abandoned handshake may have tipped it over */
		return NPMU_E_AUTH;
	sodium_memzero(s, sizeof(*s));
	const struct npmu__principal *p = ss->creds ? npmu__credentials_find(ss->creds, req->id) : NULL;
	s->manager = ss->cluster_key && strcmp(req->id, NPMU_MANAGER_ID) == 0;
	memcpy(s->key, s->manager ? ss->cluster_key : p ? p->key : ss->decoy, NPMU_KEY_LEN);
	snprintf(s->who, sizeof(s->who), "%s", req->id);
	snprintf(s->t.id_i, sizeof(s->t.id_i), "%s", req->id);
	snprintf(s->t.id_r, sizeof(s->t.id_r), "%s", ss->id);
	memcpy(s->t.nonce_i, req->nonce, NPMU_NONCE_LEN);
	randombytes_buf(s->t.nonce_r, NPMU_NONCE_LEN);
	do
		randombytes_buf(&s->t.session, sizeof(s->t.session));
	while (s->t.session == 0);
	s->peer = peer;
	memcpy(s->host, host, 16);
	s->addr_len = req->peer_len <= sizeof(s->addr) ? req->peer_len : 0;
	memcpy(s->addr, req->peer, s->addr_len);
	s->last_ns = npmu__now_ns();
	s->state = SESSION_CHALLENGED;
	struct npmu__auth1_reply a = {.session = s->t.session};
	snprintf(a.id_r, sizeof(a.id_r), "%s", ss->id);
	memcpy(a.nonce_r, s->t.nonce_r, NPMU_NONCE_LEN);
	npmu__auth_mac(s->key, false, &s->t, a.mac);
	npmu__reply_auth1_put(reply, &a);
	return 0;
}

/* find_state -- the entry with id in state st (in its table), or NULL. */
static struct npmu__session *find_state(struct npmu__sessions *ss, uint64_t id,
					 enum npmu__session_state st)
{
	if (id == 0)
		return NULL;
	if (st == SESSION_OPEN)
		return index_find(ss, id);
	for (int i = 0; i < NPMU_PENDING_MAX; i++)
		if (ss->pending[i].state == st && ss->pending[i].t.session == id)
			return &ss->pending[i];
	return NULL;
}

/* close_same_peer -- close the open session of the peer that completed handshake p, if it has
 * one: a client authenticates once per endpoint (sessions.h). */
static void close_same_peer(struct npmu__sessions *ss, const struct npmu__session *p)
{
	uint32_t seen = 0;
	for (uint32_t i = 0; i < ss->max && seen < ss->open; i++) {
		struct npmu__session *s = &ss->s[i];
		seen += s->state == SESSION_OPEN;
		if (s->state != SESSION_OPEN || s->addr_len != p->addr_len ||
		    (p->addr_len ? memcmp(s->addr, p->addr, p->addr_len) != 0 : s->peer != p->peer))
			continue;
		LOG_DEBUG("session of %s: its endpoint authenticated again: the old one closed",
			  s->who);
		close_open(ss, s);
		return; /* (one at most) */
	}
}

/* npmu__sessions_auth3 -- check the initiator's proof: open the session, or free it. */
int npmu__sessions_auth3(struct npmu__sessions *ss, uint64_t session, const uint8_t host[16],
			 const struct npmu__request *req, const char **who)
{
	if (throttled(ss, host))
		return NPMU_E_AUTH;
	struct npmu__session *p = find_state(ss, session, SESSION_CHALLENGED);
	if (!p || memcmp(p->host, host, 16) != 0) {
		npmu__sessions_fail(ss, host);
		return NPMU_E_AUTH;
	}
	if (!npmu__auth_check(p->key, true, &p->t, req->mac)) {
		npmu__sessions_fail(ss, host);
		sodium_memzero(p, sizeof(*p));
		return NPMU_E_AUTH;
	}
	close_same_peer(ss, p);
	struct npmu__session *s = open_slot(ss);
	if (!s) { /* every session in use: the handshake stays, the client may retry */
		return NPMU_E_LIMIT;
	}
	*s = *p;
	sodium_memzero(p, sizeof(*p));
	npmu__channel_init(&s->ch, s->key, false, &s->t);
	s->state = SESSION_OPEN;
	npmu__slot_index_add(&ss->index, (uint32_t)(s - ss->s));
	ss->open++;
	failures_of(ss, host)->count = 0; /* a success forgives earlier failures */
	s->last_ns = npmu__now_ns();
	*who = s->who;
	return 0;
}

/* npmu__sessions_find -- the OPEN session with that id, or NULL. */
struct npmu__session *npmu__sessions_find(struct npmu__sessions *ss, uint64_t session)
{
	struct npmu__session *s = find_state(ss, session, SESSION_OPEN);
	if (s)
		s->last_ns = npmu__now_ns();
	return s;
}
