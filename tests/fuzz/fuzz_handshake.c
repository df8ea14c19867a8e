/* fuzz_handshake.c -- the responder's handshake state machine and sealed channel driven by a
 * script of messages: AUTH1 and AUTH3 with arbitrary bodies and sessions, AUTH3 with the right
 * proof (so sessions open), and sealed requests on open sessions, arbitrary or properly sealed
 * under arbitrary sequence numbers. Checks: a session opens only with the right proof, and a
 * sealed message is accepted only once, in sequence, and unaltered. */
#include <string.h>

#include <sodium.h>

#include "codec.h"
#include "errors.h"
#include "fuzz.h"
#include "sessions.h"

static const uint8_t alice_key[NPMU_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
#define FUZZ_SESSIONS 8 /* a small table, so that scripts fill it (16 peers) */

/* take -- the next n bytes of the script, or NULL at its end. */
static const uint8_t *take(const uint8_t **p, size_t *left, size_t n)
{
	if (*left < n)
		return NULL;
	const uint8_t *r = *p;
	*p += n;
	*left -= n;
	return r;
}

/* slot_in -- a session in state st (the k-th found, wrapping; handshakes are in their own
 * table), or NULL. */
static struct npmu__session *slot_in(struct npmu__sessions *ss, enum npmu__session_state st,
				     unsigned k)
{
	static int found[NPMU_SESSIONS_MAX];
	struct npmu__session *t = st == SESSION_CHALLENGED ? ss->pending : ss->s;
	int n = 0, max = st == SESSION_CHALLENGED ? NPMU_PENDING_MAX : (int)ss->max;
	for (int i = 0; i < max; i++)
		if (t[i].state == st)
			found[n++] = i;
	return n ? &t[found[k % (unsigned)n]] : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct npmu__principal alice;
	static struct npmu__credentials creds = {.nprincipals = 1, .principals = &alice};
	static bool once;
	if (!once) {
		if (sodium_init() < 0)
			return 0;
		strcpy(alice.name, "alice");
		memcpy(alice.key, alice_key, NPMU_KEY_LEN);
		once = true;
	}
	static struct npmu__sessions ss;
	if (npmu__sessions_init(&ss, &creds, NULL, "unit", FUZZ_SESSIONS) != 0)
		return 0;
	const uint8_t *p = data;
	size_t left = size;
	const uint8_t *op;
	uint8_t host[16] = {127, 0, 0, 1};
	while ((op = take(&p, &left, 2)) != NULL) {
		size_t n = op[1];
		const uint8_t *body = take(&p, &left, n);
		if (!body)
			break;
		struct npmu__request req;
		memset(&req, 0, sizeof(req));
		uint8_t out[NPMU_WIRE_MAX];
		struct npmu__cursor reply;
		npmu__cursor_init(&reply, out, sizeof(out));
		host[15] = op[0] >> 4; /* a few hosts, for the failure accounting */
		switch (op[0] % 5) {
		case 0: /* AUTH1 with whatever body */
			if (npmu__req_decode(NPMU_MSG_AUTH1, body, n, &req) == 0)
				(void)npmu__sessions_auth1(&ss, &req, op[0] >> 4, host, &reply);
			break;
		case 1: { /* AUTH3 with whatever proof, on some session */
			struct npmu__session *c = slot_in(&ss, SESSION_CHALLENGED, n);
			uint64_t sid = c ? c->t.session : n;
			const char *who;
			if (npmu__req_decode(NPMU_MSG_AUTH3, body, n, &req) == 0 &&
			    npmu__sessions_auth3(&ss, sid, host, &req, &who) == 0) {
				/* opened: only the right proof does that */
				uint8_t mac[NPMU_MAC_LEN];
				const struct npmu__session *s = npmu__sessions_find(&ss, sid);
				if (!s)
					__builtin_trap();
				npmu__auth_mac(alice_key, true, &s->t, mac);
				if (memcmp(mac, req.mac, NPMU_MAC_LEN) != 0)
					__builtin_trap();
			}
			break;
		}
		case 2: { /* a proper AUTH1 from alice, then (if n is odd) the right proof */
			host[15] = 200; /* a host that never failed: never slowed down */
			struct npmu__cursor c;
			uint8_t b[256];
			npmu__cursor_init(&c, b, sizeof(b));
			npmu__str_put(&c, "alice");
			uint8_t nonce[NPMU_NONCE_LEN] = {0};
			memcpy(nonce, body, n < sizeof(nonce) ? n : sizeof(nonce));
			npmu__put_bytes(&c, nonce, sizeof(nonce));
			if (npmu__req_decode(NPMU_MSG_AUTH1, b, c.pos, &req) != 0 ||
			    npmu__sessions_auth1(&ss, &req, op[0] >> 4, host, &reply) != 0 || !(n & 1))
				break;
			struct npmu__session *hs = NULL;
			for (int k = 0; k < NPMU_PENDING_MAX; k++) { /* the one just challenged */
				struct npmu__session *q = &ss.pending[k];
				if (q->state == SESSION_CHALLENGED && q->host[15] == host[15] &&
				    !memcmp(q->t.nonce_i, nonce, sizeof(nonce)) &&
				    (!hs || q->last_ns >= hs->last_ns))
					hs = q;
			}
			if (!hs)
				__builtin_trap(); /* an answered AUTH1 leaves its handshake */
			struct npmu__request r3;
			memset(&r3, 0, sizeof(r3));
			npmu__auth_mac(alice_key, true, &hs->t, r3.mac);
			const char *who;
			uint64_t sid = hs->t.session;
			int rc = npmu__sessions_auth3(&ss, sid, host, &r3, &who);
			if (rc == NPMU_E_LIMIT && ss.open == ss.max)
				break; /* (full of other peers' sessions, none idle) */
			if (rc != 0 || !npmu__sessions_find(&ss, sid))
				__builtin_trap(); /* the right proof opens the session */
			break;
		}
		case 3: { /* an arbitrary sealed body on an open session: never accepted */
			struct npmu__session *o = slot_in(&ss, SESSION_OPEN, n);
			if (!o || n < 9)
				break;
			uint8_t msg[256], ad[8];
			memcpy(msg, body, n);
			memcpy(ad, body, 8);
			uint64_t seq = o->ch.rx_seq + 1;
			int rc = npmu__unseal(&o->ch, true, seq, ad, sizeof(ad), msg + 8, n - 8);
			if (rc >= 0)
				__builtin_trap(); /* forging a Poly1305 tag by chance: not in this life */
			break;
		}
		case 4: { /* a properly sealed request, under a sequence number from the script */
			struct npmu__session *o = slot_in(&ss, SESSION_OPEN, n);
			if (!o || n < 1)
				break;
			struct npmu__channel ich;
			npmu__channel_init(&ich, alice_key, true, &o->t);
			uint8_t msg[256 + NPMU_TAG_LEN], ad[8] = {0};
			uint64_t seq = o->ch.rx_seq + (body[0] % 3); /* old, next or skipped */
			memcpy(msg, body + 1, n - 1);
			npmu__seal(&ich, true, seq, ad, sizeof(ad), msg, n - 1);
			int rc = npmu__unseal(&o->ch, true, o->ch.rx_seq + 1, ad, sizeof(ad), msg,
					      n - 1 + NPMU_TAG_LEN);
			bool next = seq == o->ch.rx_seq + 1;
			if ((rc >= 0) != next || (rc >= 0 && (size_t)rc != n - 1) ||
			    (rc >= 0 && memcmp(msg, body + 1, n - 1) != 0))
				__builtin_trap(); /* accepted exactly when in sequence, and unaltered */
			if (rc >= 0) {
				o->ch.rx_seq++;
				(void)npmu__req_decode(body[0], msg, (size_t)rc, &req);
			}
			npmu__channel_wipe(&ich);
			break;
		}
		}
	}
	npmu__sessions_fini(&ss);
	return 0;
}
