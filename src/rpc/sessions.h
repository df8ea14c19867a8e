/* sessions.h -- the responder side of authentication: handshakes, open sessions, failure limits. */
#ifndef NPMU_SESSIONS_H
#define NPMU_SESSIONS_H

#include <rdma/fabric.h>
#include <stdint.h>

#include "credentials.h"
#include "session.h"
#include "slot_index.h"
#include "wire.h"

#define NPMU_SESSIONS_MAX 4096       /* open sessions at once (one per client endpoint), unless
				      * told otherwise (--max-sessions) */
#define NPMU_SESSIONS_LIMIT (NPMU_SLOT_INDEX_MAX - NPMU_PENDING_MAX) /* ...at most (a server
					      * keeps the addresses of these and of handshakes) */
#define NPMU_PENDING_MAX 64          /* unfinished handshakes at once (a table of their own) */
#define NPMU_PENDING_PER_HOST 8      /* unfinished handshakes of one host at once */
#define NPMU_SESSION_PENDING_MS 2000 /* a handshake must finish within this */

/*
 * Session states:
 *   FREE        the slot is unused
 *   CHALLENGED  AUTH1 answered with our nonce and MAC; waiting for the initiator's proof
 *   OPEN        proof checked; sealed requests accepted in sequence, replies sealed
 * A failed proof, an unknown session or a bad sealed message never moves a session forward;
 * a failed proof frees the slot.
 *
 * Handshakes cannot starve sessions: an unfinished one (CHALLENGED) lives in a small table of
 * its own, never in the sessions' table, so unauthenticated peers cannot take what
 * authenticated ones need. In that table a host holds at most NPMU_PENDING_PER_HOST (its own
 * oldest makes room for its next); when the table is full, the oldest handshake of the host
 * holding most makes room (a flooding host pays, not the others); one so evicted counts as a
 * failed authentication of its host, so a host that floods is refused for a growing time
 * (npmu__sessions_fail). One left unfinished for NPMU_SESSION_PENDING_MS is freed uncounted.
 *
 * A peer (a client's endpoint: its address) holds one open session: a client authenticates
 * once per endpoint (again only on a fresh endpoint), so a handshake completed from an address
 * that has a session already closes that one. One endpoint repeating handshakes therefore
 * cannot fill the table; a job of thousands of processes can (each its own endpoint). The
 * table is allocated zeroed and untouched, so the memory of slots never used is never paid;
 * open sessions are found by id through an index (open addressing, linear probing).
 *
 * Open sessions of clients that died are never closed by them. When the sessions' table is
 * full, a session idle for a minute makes room; failing that, one idle for NPMU_SESSION_IDLE_MS
 * whose peer's address refuses connections (its process is gone; a tcp provider's endpoint
 * listens where its requests come from) does. A live client with regions open talks to its
 * manager every second (its holder's renewals), so only the dead are taken this way. Clients
 * that start and die faster than sessions free (a crash loop filling the table) turn newcomers
 * away until the first of theirs has been idle that long: half a second.
 */
#define NPMU_SESSION_IDLE_MS 500 /* (the refused connection is the proof; idleness only spares
				  * the probes a client in the middle of an exchange) */
enum npmu__session_state { SESSION_FREE, SESSION_CHALLENGED, SESSION_OPEN };

struct npmu__session {
	enum npmu__session_state state;
	bool manager;     /* authenticated with the cluster key as NPMU_MANAGER_ID */
	char who[NPMU_ID_MAX + 1];
	fi_addr_t peer;
	uint8_t host[16]; /* the peer's host part, for failure accounting */
	uint8_t addr[32]; /* the peer's socket address (addr_len 0: not one) */
	uint8_t addr_len;
	struct npmu__transcript t;
	struct npmu__channel ch;
	uint8_t key[NPMU_KEY_LEN];
	uint64_t last_ns;
};

/* Failed authentications per peer host, for slowing guessers down. */
struct npmu__auth_failures {
	uint8_t host[16];
	uint32_t count;
	uint64_t until_ns; /* refuse without looking until then */
};

/* The identity a manager authenticates as, with the cluster key, to program a unit. */
#define NPMU_MANAGER_ID "pmm"

struct npmu__sessions {
	const struct npmu__credentials *creds;
	const uint8_t *cluster_key;     /* NULL: no manager may program this unit remotely */
	char id[NPMU_ID_MAX + 1];       /* our identity in handshakes */
	uint8_t decoy[NPMU_KEY_LEN];    /* answers for unknown principals, so they cannot be probed */
	uint32_t max;                   /* slots in s */
	struct npmu__session *s;        /* max: OPEN (or FREE) */
	struct npmu__slot_index index;  /* the open sessions by id */
	uint32_t open;                  /* sessions OPEN */
	struct npmu__session pending[NPMU_PENDING_MAX];   /* CHALLENGED (or FREE) */
	struct npmu__auth_failures f[64];
	bool probe;                     /* peers' addresses take TCP connections (tcp provider) */
	uint64_t failures;              /* counter for logs and tests */
	uint64_t abandoned;             /* handshakes evicted or expired unfinished */
};

/* npmu__sessions_init -- an empty table of `max` sessions (0: NPMU_SESSIONS_MAX) answering as
 * `id` for the principals of creds; NPMU_E_INVAL (max over NPMU_SESSIONS_LIMIT), NPMU_E_NOMEM. */
int npmu__sessions_init(struct npmu__sessions *ss, const struct npmu__credentials *creds,
			const uint8_t *cluster_key, const char *id, uint32_t max);

/* npmu__sessions_fini -- wipe every key and free the table (a no-op on one never made). */
void npmu__sessions_fini(struct npmu__sessions *ss);

/* npmu__host_of -- the host part of a socket address (the port zeroed), for failure accounting. */
void npmu__host_of(const uint8_t *addr, size_t len, uint8_t host[16]);

/*
 * npmu__sessions_auth1 -- answer a handshake's first message from `peer` at `host`: allocate a
 * CHALLENGED handshake and write its id, our id, our nonce and MAC into reply (req->peer is the
 * peer's address). NPMU_E_AUTH while the host is being slowed down.
 */
int npmu__sessions_auth1(struct npmu__sessions *ss, const struct npmu__request *req,
			 fi_addr_t peer, const uint8_t host[16], struct npmu__cursor *reply);

/* npmu__sessions_auth3 -- check the proof of a CHALLENGED handshake: opens a session (in the
 * sessions' table; NPMU_E_LIMIT when it is full of sessions in use) or frees it. */
int npmu__sessions_auth3(struct npmu__sessions *ss, uint64_t session, const uint8_t host[16],
			 const struct npmu__request *req, const char **who);

/* npmu__sessions_find -- the OPEN session with that id, or NULL. */
struct npmu__session *npmu__sessions_find(struct npmu__sessions *ss, uint64_t session);

/* npmu__sessions_fail -- count a failed authentication against host. */
void npmu__sessions_fail(struct npmu__sessions *ss, const uint8_t host[16]);

#endif
