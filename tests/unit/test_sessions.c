/* test_sessions.c -- unit tests of the responder's session table (src/rpc/sessions.c): the
 * index finds every open session by id as sessions open and close, the table takes
 * NPMU_SESSIONS_MAX clients at once, and one endpoint holds one session however often it
 * authenticates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "codec.h"
#include "npmu.h"
#include "replies.h"
#include "sessions.h"

static const uint8_t alice_key[NPMU_KEY_LEN] = {7, 7, 7, 7, 1, 2, 3, 4};
static struct npmu__principal alice;
static struct npmu__credentials creds = {.nprincipals = 1, .principals = &alice};

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(alice.name, sizeof(alice.name), "alice");
	memcpy(alice.key, alice_key, NPMU_KEY_LEN);
	return 0;
}

/* handshake -- alice authenticates from the endpoint at socket address `port` (an IPv4
 * address on loopback, that port): AUTH1, then AUTH3 with the right proof. Returns AUTH3's
 * status; the session's id into *id. */
static int handshake(struct npmu__sessions *ss, uint16_t port, uint64_t *id)
{
	struct npmu__request req = {.peer_len = 16};
	snprintf(req.id, sizeof(req.id), "alice");
	randombytes_buf(req.nonce, NPMU_NONCE_LEN);
	req.peer[0] = 2; /* AF_INET, as fabric addresses carry it */
	req.peer[2] = (uint8_t)(port >> 8);
	req.peer[3] = (uint8_t)port;
	req.peer[4] = 127;
	req.peer[7] = 1;
	uint8_t host[16] = {127, 0, 0, 1}, out[NPMU_WIRE_MAX];
	struct npmu__cursor reply;
	npmu__cursor_init(&reply, out, sizeof(out));
	assert_int_equal(npmu__sessions_auth1(ss, &req, port, host, &reply), 0);
	struct npmu__auth1_reply a;
	assert_int_equal(npmu__reply_auth1(out, reply.pos, &a), 0);
	struct npmu__transcript t = {.session = a.session};
	snprintf(t.id_i, sizeof(t.id_i), "alice");
	snprintf(t.id_r, sizeof(t.id_r), "%s", a.id_r);
	memcpy(t.nonce_i, req.nonce, NPMU_NONCE_LEN);
	memcpy(t.nonce_r, a.nonce_r, NPMU_NONCE_LEN);
	assert_true(npmu__auth_check(alice_key, false, &t, a.mac));
	struct npmu__request r3 = {0};
	npmu__auth_mac(alice_key, true, &t, r3.mac);
	const char *who;
	*id = a.session;
	return npmu__sessions_auth3(ss, a.session, host, &r3, &who);
}

/* table__full_of_clients_and_found: NPMU_SESSIONS_MAX endpoints each open a session, and every
 * one is found by its id; one more is refused (none idle, none gone); then a thousand endpoints
 * authenticate again, in a shuffled order: each old session is gone, each new one and every
 * untouched one still found (the index's deletions keep every other entry reachable). */
static void table__full_of_clients_and_found(void **state)
{
	(void)state;
	static struct npmu__sessions ss;
	static uint64_t ids[NPMU_SESSIONS_MAX];
	assert_int_equal(npmu__sessions_init(&ss, &creds, NULL, "unit", 0), 0);
	for (int i = 0; i < NPMU_SESSIONS_MAX; i++)
		assert_int_equal(handshake(&ss, (uint16_t)(1000 + i), &ids[i]), 0);
	assert_int_equal(ss.open, NPMU_SESSIONS_MAX);
	for (int i = 0; i < NPMU_SESSIONS_MAX; i++) {
		struct npmu__session *s = npmu__sessions_find(&ss, ids[i]);
		assert_non_null(s);
		assert_int_equal(s->t.session, ids[i]);
	}
	assert_null(npmu__sessions_find(&ss, ids[0] ^ 1));
	uint64_t extra;
	assert_int_equal(handshake(&ss, 999, &extra), NPMU_E_LIMIT);
	for (int n = 0; n < 1000; n++) {
		int i = (int)((uint32_t)n * 2654435761u % NPMU_SESSIONS_MAX);
		uint64_t old = ids[i];
		assert_int_equal(handshake(&ss, (uint16_t)(1000 + i), &ids[i]), 0);
		assert_null(npmu__sessions_find(&ss, old));
	}
	assert_int_equal(ss.open, NPMU_SESSIONS_MAX);
	for (int i = 0; i < NPMU_SESSIONS_MAX; i++)
		assert_non_null(npmu__sessions_find(&ss, ids[i]));
	npmu__sessions_fini(&ss);
}

/* peer__one_endpoint_one_session: one endpoint authenticating again and again (a hostile
 * client, or one that forgot its session) holds one session, the last; others are kept. */
static void peer__one_endpoint_one_session(void **state)
{
	(void)state;
	static struct npmu__sessions ss;
	assert_int_equal(npmu__sessions_init(&ss, &creds, NULL, "unit", 0), 0);
	uint64_t other, first, id = 0;
	assert_int_equal(handshake(&ss, 7, &other), 0);
	assert_int_equal(handshake(&ss, 8, &first), 0);
	for (int i = 0; i < 2 * NPMU_SESSIONS_MAX; i++)
		assert_int_equal(handshake(&ss, 8, &id), 0);
	assert_int_equal(ss.open, 2);
	assert_null(npmu__sessions_find(&ss, first));
	assert_non_null(npmu__sessions_find(&ss, id));
	assert_non_null(npmu__sessions_find(&ss, other));
	npmu__sessions_fini(&ss);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table__full_of_clients_and_found),
		cmocka_unit_test(peer__one_endpoint_one_session),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
