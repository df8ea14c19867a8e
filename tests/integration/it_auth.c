/* it_auth.c -- principals, rights and the sealed control channel against a real npmud: who may do
 * what, and every kind of bad authentication refused without changing anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"
#include "codec.h"
#include "harness.h"

static struct unit_proc unit;
static char dir[] = "/tmp/npmu-it-XXXXXX";
static char cred_path[4][128]; /* alice, bob, carol, mallory (alice's name, wrong key) */
static const char *const names[4] = {"alice", "bob", "carol", "alice"};

/* write_file -- create path with mode 0600 and the given text. */
static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
}

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 || !mkdtemp(dir))
		return -1;
	char hex[4][65], text[1024], path[160];
	for (int i = 0; i < 4; i++) {
		uint8_t key[32];
		randombytes_buf(key, sizeof(key));
		sodium_bin2hex(hex[i], sizeof(hex[i]), key, sizeof(key));
		snprintf(cred_path[i], sizeof(cred_path[i]), "%s/%s%d.cred", dir, names[i], i);
		snprintf(text, sizeof(text), "principal %s\nkey %s\n", names[i], hex[i]);
		write_file(cred_path[i], text);
	}
	snprintf(text, sizeof(text),
		 "# test principals\n"
		 "principal alice %s\nprincipal bob %s\nprincipal carol %s\n"
		 "allow alice create,write ckpt.*\n"
		 "allow bob read ckpt.*\n",
		 hex[0], hex[1], hex[2]);
	snprintf(path, sizeof(path), "%s/npmud.cred", dir);
	write_file(path, text);
	static const char *extra[3];
	extra[0] = "--credentials";
	extra[1] = strdup(path);
	return unit_start_args(&unit, dir, "16M", extra);
}

static int teardown(void **state)
{
	(void)state;
	unit_stop(&unit, false);
	unit_cleanup(&unit);
	return 0;
}

/* as -- connect as principal i (-1: without credentials); returns the status. */
static int as(int i, struct npmu_conn **conn)
{
	struct npmu_conn_cfg cfg = {.server = unit.addr, .timeout_ms = 3000,
				    .credentials = i >= 0 ? cred_path[i] : ""};
	return npmu_conn_new(&cfg, conn);
}

/* rights__owner_reader_stranger: alice creates and writes; bob reads what she wrote and cannot
 * write; carol can neither open nor create; nobody but alice may delete. */
static void rights__owner_reader_stranger(void **state)
{
	(void)state;
	struct npmu_conn *alice, *bob, *carol;
	assert_int_equal(as(0, &alice), 0);
	assert_int_equal(as(1, &bob), 0);
	assert_int_equal(as(2, &carol), 0);
	struct npmu_region_info info;
	assert_int_equal(npmu_region_create(alice, "ckpt.a", 65536, &info), 0);
	assert_string_equal(info.owner, "alice");
	assert_int_equal(npmu_region_create(alice, "other", 4096, NULL), NPMU_E_ACCESS);
	struct npmu_region *ra, *rb, *tmp;
	assert_int_equal(npmu_region_open(alice, "ckpt.a", NPMU_ACCESS_READ_WRITE, &ra), 0);
	assert_int_equal(npmu_region_write(ra, 100, "primary state", 14), 0);
	assert_int_equal(npmu_region_persist(ra, 100, 14, NPMU_PERSISTENT), 0);

	assert_int_equal(npmu_region_open(bob, "ckpt.a", NPMU_ACCESS_READ, &rb), 0);
	char buf[14];
	assert_int_equal(npmu_region_read(rb, 100, buf, 14), 0);
	assert_string_equal(buf, "primary state");
	assert_int_equal(npmu_region_open(bob, "ckpt.a", NPMU_ACCESS_READ_WRITE, &tmp), NPMU_E_ACCESS);
	/* bob naming alice's holder id, to charge rights to her share (16 per region): refused
	 * (before, granted, and after 15 of them alice could open ckpt.a no more) */
	uint64_t bobs = bob->holder;
	bob->holder = alice->holder;
	assert_int_equal(npmu_region_open(bob, "ckpt.a", NPMU_ACCESS_READ, &tmp), NPMU_E_ACCESS);
	bob->holder = bobs;
	rb->ai.access = NPMU_ACCESS_READ_WRITE; /* forged: the unit's registration refuses it */
	assert_int_equal(npmu_region_write(rb, 100, "backup scribble", 14), NPMU_E_ACCESS);
	assert_int_equal(npmu_region_delete(bob, "ckpt.a"), NPMU_E_ACCESS);
	assert_int_equal(npmu_region_resize(bob, "ckpt.a", 1 << 20, NULL), NPMU_E_ACCESS);
	assert_int_equal(npmu_region_create(bob, "ckpt.b", 4096, NULL), NPMU_E_ACCESS);

	assert_int_equal(npmu_region_open(carol, "ckpt.a", NPMU_ACCESS_READ, &tmp), NPMU_E_ACCESS);
	assert_int_equal(npmu_region_stat(carol, "ckpt.a", &info), NPMU_E_ACCESS);
	assert_int_equal(npmu_region_create(carol, "ckpt.c", 4096, NULL), NPMU_E_ACCESS);
	struct npmu_region_info *list;
	size_t n;
	assert_int_equal(npmu_region_list(carol, &list, &n), 0);
	assert_int_equal(n, 0); /* carol sees nothing */
	free(list);
	assert_int_equal(npmu_region_list(bob, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, "ckpt.a");
	free(list);

	assert_int_equal(npmu_region_read(ra, 100, buf, 14), 0);
	assert_string_equal(buf, "primary state"); /* nothing the others tried changed it */
	npmu_region_close(&rb);
	npmu_region_close(&ra);
	npmu_conn_delete(&alice);
	npmu_conn_delete(&bob);
	npmu_conn_delete(&carol);
}

/* auth__refused: no credentials, a wrong key, a loose credentials file: refused clearly. */
static void auth__refused(void **state)
{
	(void)state;
	struct npmu_conn *anon, *mallory;
	sleep(1); /* (the last test's refusals filled this second's log lines: at most 10) */
	assert_int_equal(as(-1, &anon), 0); /* greeting and persist need no session */
	assert_int_equal(npmu_region_create(anon, "ckpt.x", 4096, NULL), NPMU_E_AUTH);
	struct npmu_region_info info;
	assert_int_equal(npmu_region_stat(anon, "ckpt.a", &info), NPMU_E_AUTH);
	npmu_conn_delete(&anon);
	/* alice's name with another key: the unit's challenge does not verify, so the client stops */
	assert_int_equal(as(3, &mallory), NPMU_E_AUTH);
	chmod(cred_path[1], 0644);
	assert_int_equal(as(1, &mallory), NPMU_E_CONFIG); /* a credentials file others can read */
	chmod(cred_path[1], 0600);
	assert_true(unit_log_count(&unit, "rejected CREATE ckpt.x from 127.0.0.1") >= 1);
}

/* raw -- a bare endpoint to speak the protocol by hand. */
struct raw {
	struct npmu__fabric *fab;
	fi_addr_t server;
	uint8_t rx[NPMU_WIRE_MAX];
};

static void raw_open(struct raw *r)
{
	char host[64], port[16];
	npmu__split_hostport(unit.addr, host, sizeof(host), port, sizeof(port), 0);
	assert_int_equal(npmu__fabric_open("tcp", host, port, false, &r->fab), 0);
	assert_int_equal(fi_av_insert(r->fab->av, r->fab->info->dest_addr, 1, &r->server, 0, NULL), 1);
}

/* raw_xchg -- send msg, wait for the reply with req_id; returns its status and header. */
static int raw_xchg(struct raw *r, const uint8_t *msg, size_t len, uint64_t req_id,
		    struct npmu__msg_hdr *out)
{
	static int sctx, rctx;
	assert_int_equal(fi_recv(r->fab->ep, r->rx, sizeof(r->rx), NULL, FI_ADDR_UNSPEC, &rctx), 0);
	ssize_t rc;
	while ((rc = fi_send(r->fab->ep, msg, len, NULL, r->server, &sctx)) == -FI_EAGAIN) {
		struct fi_cq_msg_entry e;
		fi_cq_read(r->fab->cq, &e, 0);
	}
	assert_int_equal(rc, 0);
	uint64_t deadline = npmu__now_ms() + 3000;
	while (npmu__now_ms() < deadline) {
		struct fi_cq_msg_entry e;
		if (fi_cq_read(r->fab->cq, &e, 1) == 1 && e.op_context == &rctx) {
			assert_int_equal(npmu__msg_decode_hdr(r->rx, e.len, out), 0);
			assert_int_equal(out->req_id, req_id);
			return out->status;
		}
	}
	fail_msg("no reply");
	return 0;
}

/* raw_send_only -- send msg and wait for the send to complete, expecting no answer. */
static void raw_send_only(struct raw *r, const uint8_t *msg, size_t len)
{
	static int sctx;
	ssize_t rc;
	while ((rc = fi_send(r->fab->ep, msg, len, NULL, r->server, &sctx)) == -FI_EAGAIN) {
		struct fi_cq_msg_entry e;
		fi_cq_read(r->fab->cq, &e, 0);
	}
	assert_int_equal(rc, 0);
	for (uint64_t deadline = npmu__now_ms() + 3000; npmu__now_ms() < deadline;) {
		struct fi_cq_msg_entry e;
		if (fi_cq_read(r->fab->cq, &e, 1) == 1 && e.op_context == &sctx)
			return;
	}
	fail_msg("send did not complete");
}

/* raw_msg -- build a message: header with session and req_id, our address, body. */
static size_t raw_msg(struct raw *r, uint8_t *buf, uint16_t type, uint64_t session, uint64_t req_id,
		      const void *body, size_t blen)
{
	struct npmu__msg_hdr h = {.type = type, .req_id = req_id, .session = session,
				  .body_len = (uint32_t)blen, .addr_len = (uint16_t)r->fab->name_len,
				  .addr = r->fab->name};
	int hl = npmu__msg_encode_hdr(buf, NPMU_WIRE_MAX, &h);
	memcpy(buf + hl, body, blen);
	return (size_t)hl + blen;
}

/* raw_auth1 -- start a handshake as `id`; returns the session and the responder's MAC. */
static uint64_t raw_auth1(struct raw *r, const char *id, uint64_t req_id, uint8_t mac_r[32])
{
	uint8_t msg[NPMU_WIRE_MAX], body[128], nonce[32];
	struct npmu__msg_hdr h;
	struct npmu__cursor c;
	randombytes_buf(nonce, sizeof(nonce));
	npmu__cursor_init(&c, body, sizeof(body));
	npmu__put_u8(&c, (uint8_t)strlen(id));
	npmu__put_bytes(&c, id, strlen(id));
	npmu__put_bytes(&c, nonce, 32);
	size_t len = raw_msg(r, msg, NPMU_MSG_AUTH1, 0, req_id, body, c.pos);
	if (raw_xchg(r, msg, len, req_id, &h) != 0)
		return 0;
	struct npmu__cursor rc;
	npmu__cursor_init(&rc, (void *)h.body, h.body_len);
	uint64_t session = npmu__get_u64(&rc);
	uint8_t idl = npmu__get_u8(&rc);
	npmu__cursor_take(&rc, idl);
	npmu__cursor_take(&rc, 32);
	npmu__get_bytes(&rc, mac_r, 32);
	assert_true(rc.ok);
	return session;
}

/* raw_bad_proof -- a whole handshake with a guessed proof; returns the AUTH3 status. */
static int raw_bad_proof(struct raw *r, uint64_t req_id)
{
	uint8_t mac[32], msg[NPMU_WIRE_MAX];
	struct npmu__msg_hdr h;
	uint64_t session = raw_auth1(r, "alice", req_id, mac);
	if (session == 0)
		return NPMU_E_AUTH; /* refused at the first step */
	randombytes_buf(mac, sizeof(mac));
	size_t len = raw_msg(r, msg, NPMU_MSG_AUTH3, session, req_id + 1, mac, 32);
	return raw_xchg(r, msg, len, req_id + 1, &h);
}

/* handshake__attacks: truncated AUTH1, a reflected challenge, a proof for another session, a
 * replayed, reordered or altered sealed message, and a sealed message on someone else's session. */
static void handshake__attacks(void **state)
{
	(void)state;
	struct raw r;
	raw_open(&r);
	uint8_t msg[NPMU_WIRE_MAX], body[256];
	struct npmu__msg_hdr h;
	struct npmu__cursor c;

	/* truncated handshake */
	npmu__cursor_init(&c, body, sizeof(body));
	npmu__put_u8(&c, 5);
	npmu__put_bytes(&c, "alice", 5);
	npmu__put_bytes(&c, "short", 5);
	size_t len = raw_msg(&r, msg, NPMU_MSG_AUTH1, 0, 1, body, c.pos);
	assert_int_equal(raw_xchg(&r, msg, len, 1, &h), NPMU_E_PROTO);

	/* a real AUTH1, then the responder's own MAC reflected back as our proof */
	usleep(1100 * 1000); /* a fresh second of the unit's log rate limit: these lines get logged */
	uint8_t mac_r[32];
	uint64_t session = raw_auth1(&r, "alice", 2, mac_r);
	assert_int_not_equal(session, 0);
	len = raw_msg(&r, msg, NPMU_MSG_AUTH3, session, 3, mac_r, 32);
	assert_int_equal(raw_xchg(&r, msg, len, 3, &h), NPMU_E_AUTH);
	/* the failed proof closed that session: even a retry on it is refused */
	len = raw_msg(&r, msg, NPMU_MSG_AUTH3, session, 4, mac_r, 32);
	assert_int_equal(raw_xchg(&r, msg, len, 4, &h), NPMU_E_AUTH);
	assert_true(unit_log_count(&unit, "rejected AUTH3 from 127.0.0.1") >= 2);
	usleep(200 * 1000);

	/* alice's real session: capture one sealed request, then replay it from another peer */
	struct npmu_conn *alice;
	assert_int_equal(as(0, &alice), 0);
	assert_int_equal(npmu_region_create(alice, "ckpt.replay", 4096, NULL), 0);
	struct npmu__cursor hc; /* alice->rpc.tx still holds that sealed CREATE */
	npmu__cursor_init(&hc, alice->rpc.tx + 8, 4);
	size_t cap_len = NPMU_WIRE_HDR_LEN + alice->rpc.fab->name_len + npmu__get_u32(&hc);
	uint64_t cap_seq = alice->rpc.ch.tx_seq;
	uint8_t captured[NPMU_WIRE_MAX];
	memcpy(captured, alice->rpc.tx, cap_len);
	/* replayed exactly (its answer would go to alice): refused, logged, nothing created */
	assert_int_equal(npmu_region_delete(alice, "ckpt.replay"), 0);
	int before = unit_log_count(&unit, "rejected CREATE (sealed)");
	raw_send_only(&r, captured, cap_len);
	for (int i = 0; i < 100 && unit_log_count(&unit, "rejected CREATE (sealed)") == before; i++)
		usleep(10 * 1000);
	assert_int_equal(unit_log_count(&unit, "rejected CREATE (sealed)"), before + 1);
	assert_int_equal(npmu_region_create(alice, "ckpt.replay", 4096, NULL), 0);
	assert_int_equal(r.fab->name_len, alice->rpc.fab->name_len);
	memcpy(captured + NPMU_WIRE_HDR_LEN, r.fab->name, r.fab->name_len); /* answer us, not alice */
	assert_int_equal(npmu_region_delete(alice, "ckpt.replay"), 0);
	assert_int_equal(raw_xchg(&r, captured, cap_len, cap_seq, &h), NPMU_E_AUTH); /* replayed */
	struct npmu_region_info info;
	assert_int_equal(npmu_region_stat(alice, "ckpt.replay", &info), NPMU_E_NOENT);
	/* reordered: given the next sequence number (the header is authenticated too) */
	uint64_t next = alice->rpc.ch.tx_seq + 1;
	for (int i = 0; i < 8; i++)
		captured[16 + i] = (uint8_t)(next >> (8 * i));
	assert_int_equal(raw_xchg(&r, captured, cap_len, next, &h), NPMU_E_AUTH);
	/* altered: one ciphertext bit */
	captured[cap_len - 1] ^= 1;
	assert_int_equal(raw_xchg(&r, captured, cap_len, next, &h), NPMU_E_AUTH);
	assert_int_equal(npmu_region_stat(alice, "ckpt.replay", &info), NPMU_E_NOENT);
	/* alice's session still works, in sequence */
	assert_int_equal(npmu_region_stat(alice, "ckpt.a", &info), 0);
	assert_int_equal(unit_log_count(&unit, "(sealed)") >= 2, 1);
	npmu_conn_delete(&alice);
	npmu__fabric_close(&r.fab);
	usleep(200 * 1000);
}

/* throttle__slows_guessers: after repeated failures a host is refused even with the right key for
 * a while, and served again afterwards. */
static void throttle__slows_guessers(void **state)
{
	(void)state;
	struct raw r;
	raw_open(&r);
	for (int i = 0; i < 3; i++)
		assert_int_equal(raw_bad_proof(&r, 100 + 2 * (uint64_t)i), NPMU_E_AUTH);
	struct npmu_conn *c;
	assert_int_equal(as(0, &c), NPMU_E_AUTH); /* throttled: not even looked at */
	sleep(1);
	assert_int_equal(as(0, &c), 0);
	npmu_conn_delete(&c);
	npmu__fabric_close(&r.fab);
}

#define MANY_CLIENTS 300 /* more than the table held before (256) */

/* sessions__hundreds_of_clients: 300 client processes' worth of connections authenticated at
 * once (a job of many ranks) are all served, and all still are after each made a request: no
 * session is refused or pushed out (before, the table held 256: the rest got NPMU_E_LIMIT). */
static void sessions__hundreds_of_clients(void **state)
{
	(void)state;
	static struct npmu_conn *c[MANY_CLIENTS];
	struct npmu_region_info info;
	assert_int_equal(as(0, &c[0]), 0);
	assert_int_equal(npmu_region_create(c[0], "ckpt.many", 4096, NULL), 0);
	for (int i = 1; i < MANY_CLIENTS; i++) {
		int rc = as(0, &c[i]);
		if (rc != 0)
			fail_msg("client %d of %d could not connect: %s", i, MANY_CLIENTS,
				 npmu_strerror(rc));
	}
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < MANY_CLIENTS; i++)
			assert_int_equal(npmu_region_stat(c[i], "ckpt.many", &info), 0);
	assert_int_equal(unit_log_count(&unit, "closed to make room"), 0);
	assert_int_equal(npmu_region_delete(c[0], "ckpt.many"), 0);
	for (int i = 0; i < MANY_CLIENTS; i++)
		npmu_conn_delete(&c[i]);
}

#define CROWD_SESSIONS "32"  /* that unit's --max-sessions: it keeps 96 return addresses */
#define CROWD_ADDRESSES 200 /* more return addresses than it keeps */

/* sessions__outlast_a_crowd_of_addresses: an authenticated client's session still answers at
 * once after 200 other endpoints greeted its unit (one keeping 96 return addresses), one after
 * another, pushing its address out of the unit's table of them: its replies go to its address
 * as the table has it now (before, to the entry its session was made with, which the provider
 * may have given to one of the crowd since: its next request sometimes timed out). */
static void sessions__outlast_a_crowd_of_addresses(void **state)
{
	(void)state;
	static char path[160];
	snprintf(path, sizeof(path), "%s/npmud.cred", dir);
	static const char *extra[] = {"--credentials", path, "--max-sessions", CROWD_SESSIONS, NULL};
	struct unit_proc u;
	assert_int_equal(unit_start_args(&u, NULL, "16M", extra), 0);
	struct npmu_conn_cfg cfg = {.server = u.addr, .timeout_ms = 3000, .credentials = cred_path[0]};
	struct npmu_conn *c;
	struct npmu_region_info info;
	assert_int_equal(npmu_conn_new(&cfg, &c), 0);
	assert_int_equal(npmu_region_create(c, "ckpt.crowd", 4096, NULL), 0);
	struct npmu__request hello = {0};
	struct raw_answers a = {0};
	for (int i = 0; i < CROWD_ADDRESSES; i++) {
		struct raw_peer *p = raw_peer_open(u.addr);
		assert_non_null(p);
		assert_int_equal(raw_pipeline(p, NPMU_MSG_HELLO, &hello, 1, 0, 2000, &a), 0);
		raw_peer_close(&p);
	}
	assert_int_equal(a.served, CROWD_ADDRESSES); /* every greeting answered */
	uint64_t t = npmu__now_ms();
	assert_int_equal(npmu_region_stat(c, "ckpt.crowd", &info), 0);
	assert_true(npmu__now_ms() - t < 1000); /* answered, not after a timeout and a reconnect */
	npmu_conn_delete(&c);
	unit_stop(&u, false);
	unit_cleanup(&u);
}

/* A spoofer: plain requests back to back, naming another endpoint's address as theirs. */
struct spoofer {
	const char *addr;
	const struct npmu_conn *victim;
	atomic_bool stop;
	atomic_int bursts;
	struct raw_answers a;
	int rc;
};

/* spoofer_main -- bursts of 60 stats naming the victim's address, one every 5 ms. */
static void *spoofer_main(void *arg)
{
	struct spoofer *s = arg;
	struct raw_peer *peer = raw_peer_open(s->addr);
	s->rc = peer ? 0 : -1;
	if (peer)
		raw_peer_claim(peer, s->victim->rpc.fab->name, s->victim->rpc.fab->name_len);
	struct npmu__request req = {0};
	snprintf(req.name, sizeof(req.name), "ckpt.named");
	while (s->rc == 0 && !atomic_load(&s->stop)) {
		s->rc = raw_pipeline(peer, NPMU_MSG_STAT, &req, 60, 0, 5, &s->a);
		atomic_fetch_add(&s->bursts, 1);
	}
	raw_peer_close(&peer);
	return NULL;
}

/* turns__naming_a_clients_address_takes_nothing_of_it: an endpoint without credentials sending
 * plain requests back to back that name an authenticated client's address as their own (each
 * refused NPMU_E_AUTH, the answer sent to that client) uses up neither that client's turn among
 * the requests read at once nor its share of replies in flight: every one of the client's
 * sealed requests is served meanwhile. */
static void turns__naming_a_clients_address_takes_nothing_of_it(void **state)
{
	(void)state;
	struct npmu_conn *c;
	assert_int_equal(as(0, &c), 0);
	assert_int_equal(npmu_region_create(c, "ckpt.named", 4096, NULL), 0);
	struct spoofer s = {.addr = unit.addr, .victim = c};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, spoofer_main, &s), 0);
	int rounds = 0, failed = 0;
	for (uint64_t until = npmu__now_ms() + 3000; npmu__now_ms() < until; rounds++) {
		struct npmu_region_info info;
		struct npmu_region *r = NULL;
		int rc = npmu_region_stat(c, "ckpt.named", &info);
		rc = rc ? rc : npmu_region_open(c, "ckpt.named", NPMU_ACCESS_READ, &r);
		npmu_region_close(&r);
		if (rc != 0 && failed++ < 5)
			printf("auth: the client's request failed: %s\n", npmu_strerror(rc));
	}
	atomic_store(&s.stop, true);
	pthread_join(th, NULL);
	printf("auth: %d rounds of the client (%d failed) beside %d bursts of 60 plain stats naming "
	       "its address (%d sent)\n", rounds, failed, atomic_load(&s.bursts), s.a.sent);
	assert_int_equal(s.rc, 0);
	if (atomic_load(&s.bursts) < 20)
		fail_msg("only %d bursts: this round proved nothing", atomic_load(&s.bursts));
	assert_int_equal(failed, 0);
	assert_true(rounds >= 100);
	assert_int_equal(npmu_region_delete(c, "ckpt.named"), 0);
	npmu_conn_delete(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rights__owner_reader_stranger),
		cmocka_unit_test(auth__refused),
		cmocka_unit_test(handshake__attacks),
		cmocka_unit_test(throttle__slows_guessers),
		cmocka_unit_test(sessions__hundreds_of_clients),
		cmocka_unit_test(sessions__outlast_a_crowd_of_addresses),
		cmocka_unit_test(turns__naming_a_clients_address_takes_nothing_of_it),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
