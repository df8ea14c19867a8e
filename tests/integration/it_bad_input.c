/* it_bad_input.c -- malformed and hostile requests get clear errors, are logged, change nothing,
 * and a second client keeps being served throughout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "codec.h"
#include "harness.h"

static struct unit_proc unit;
static struct npmu_conn *good;      /* the well-behaved second client */
static struct npmu_region *good_r;
static struct npmu__fabric *raw;    /* the hostile client's own endpoint */
static fi_addr_t raw_server;
static uint64_t good_seed = 1000;

/* raw_open -- a fresh endpoint for the hostile client (the provider may drop its connection
 * after a message it cannot take). */
static int raw_open(void)
{
	npmu__fabric_close(&raw);
	char host[64], port[16];
	npmu__split_hostport(unit.addr, host, sizeof(host), port, sizeof(port), 0);
	if (npmu__fabric_open("tcp", host, port, false, &raw) != 0 ||
	    fi_av_insert(raw->av, raw->info->dest_addr, 1, &raw_server, 0, NULL) != 1)
		return -1;
	return 0;
}

static int setup(void **state)
{
	(void)state;
	if (unit_start(&unit, "4M") != 0 || !(good = unit_connect(&unit)))
		return -1;
	if (npmu_region_create(good, "good", 65536, NULL) != 0 ||
	    npmu_region_open(good, "good", NPMU_ACCESS_READ_WRITE, &good_r) != 0)
		return -1;
	return raw_open();
}

static int teardown(void **state)
{
	(void)state;
	npmu__fabric_close(&raw);
	npmu_region_close(&good_r);
	npmu_conn_delete(&good);
	unit_stop(&unit, false);
	unit_cleanup(&unit);
	return 0;
}

/* good_client_works -- the second client writes, persists and reads back a fresh pattern. */
static void good_client_works(void)
{
	uint8_t w[4096], r[4096];
	fill_pattern(w, sizeof(w), ++good_seed, 0);
	assert_int_equal(npmu_region_write(good_r, 100, w, sizeof(w)), 0);
	assert_int_equal(npmu_region_persist(good_r, 100, sizeof(w), NPMU_PERSISTENT), 0);
	assert_int_equal(npmu_region_read(good_r, 100, r, sizeof(r)), 0);
	assert_memory_equal(w, r, sizeof(w));
	assert_int_equal(kill(unit.pid, 0), 0);
}

/* raw_send -- send len bytes as one message from the hostile endpoint. */
static void raw_send(const void *msg, size_t len)
{
	static int ctx;
	ssize_t rc;
	while ((rc = fi_send(raw->ep, msg, len, NULL, raw_server, &ctx)) == -FI_EAGAIN) {
		struct fi_cq_msg_entry e;
		fi_cq_read(raw->cq, &e, 0);
	}
	assert_int_equal(rc, 0);
	for (int i = 0; i < 2000000; i++) {
		struct fi_cq_msg_entry e;
		ssize_t n = fi_cq_read(raw->cq, &e, 1);
		if (n == 1 && e.op_context == &ctx)
			return;
		if (n == -FI_EAVAIL) {
			struct fi_cq_err_entry err = {0};
			fi_cq_readerr(raw->cq, &err, 0);
			return;
		}
	}
	fail_msg("send did not complete");
}

/* raw_call -- send a request with our return address and wait for the reply's status. */
static int raw_call(uint16_t type, const void *body, size_t blen, uint16_t version_override)
{
	static uint8_t rx[NPMU_WIRE_MAX];
	static int rctx;
	uint8_t msg[NPMU_WIRE_MAX];
	struct npmu__msg_hdr h = {.type = type, .req_id = 77, .body_len = (uint32_t)blen,
				  .addr_len = (uint16_t)raw->name_len, .addr = raw->name};
	int hl = npmu__msg_encode_hdr(msg, sizeof(msg), &h);
	memcpy(msg + hl, body, blen);
	if (version_override)
		msg[4] = (uint8_t)version_override;
	assert_int_equal(fi_recv(raw->ep, rx, sizeof(rx), NULL, FI_ADDR_UNSPEC, &rctx), 0);
	raw_send(msg, (size_t)hl + blen);
	uint64_t deadline = npmu__now_ms() + 5000;
	while (npmu__now_ms() < deadline) {
		struct fi_cq_msg_entry e;
		if (fi_cq_read(raw->cq, &e, 1) == 1 && e.op_context == &rctx) {
			struct npmu__msg_hdr rh;
			assert_int_equal(npmu__msg_decode_hdr(rx, e.len, &rh), 0);
			assert_int_equal(rh.req_id, 77);
			return rh.status;
		}
	}
	fail_msg("no reply");
	return 0;
}

/* garbage__dropped_and_logged: junk, a bad magic and an oversized message are dropped and logged. */
static void garbage__dropped_and_logged(void **state)
{
	(void)state;
	int before = unit_log_count(&unit, "rejected");
	raw_send("0123456789", 10);
	uint8_t msg[NPMU_WIRE_MAX];
	struct npmu__msg_hdr h = {.type = NPMU_MSG_STAT, .addr_len = (uint16_t)raw->name_len,
				  .addr = raw->name};
	int hl = npmu__msg_encode_hdr(msg, sizeof(msg), &h);
	msg[0] = 'X';
	raw_send(msg, (size_t)hl);
	static uint8_t big[3 * NPMU_WIRE_MAX];
	memset(big, 0xab, sizeof(big));
	raw_send(big, sizeof(big));
	good_client_works(); /* also lets the unit work through what it received */
	assert_true(unit_log_count(&unit, "rejected") >= before + 3);
	assert_int_equal(raw_open(), 0);
}

/* requests__clear_errors: each bad request gets its own error code back. */
static void requests__clear_errors(void **state)
{
	(void)state;
	uint8_t body[256];
	struct npmu__cursor c;
	assert_int_equal(raw_call(NPMU_MSG_HELLO, "", 0, 7), NPMU_E_VERSION);
	good_client_works();
	body[0] = 64;
	memset(body + 1, 'n', 64);
	memset(body + 65, 0, 17); /* size, empty owner and unit, copies, empty unit2, no record */
	body[75] = 1;             /* copies */
	assert_int_equal(raw_call(NPMU_MSG_CREATE, body, 82, 0), NPMU_E_NAME);
	body[0] = 3;
	memcpy(body + 1, "a b", 3);
	assert_int_equal(raw_call(NPMU_MSG_STAT, body, 4, 0), NPMU_E_NAME);
	assert_int_equal(raw_call(NPMU_MSG_STAT, body, 2, 0), NPMU_E_PROTO); /* truncated */
	npmu__cursor_init(&c, body, sizeof(body));
	npmu__put_u8(&c, 4);
	npmu__put_bytes(&c, "good", 4);
	npmu__put_u32(&c, 2); /* not an access right */
	assert_int_equal(raw_call(NPMU_MSG_OPEN, body, c.pos, 0), NPMU_E_PROTO);
	good_client_works();
	/* persist with a made-up key, with the real key out of range (first or a later range),
	 * with more ranges than a request may name, without the range count */
	npmu__cursor_init(&c, body, sizeof(body));
	npmu__put_u64(&c, good_r->info.id);
	npmu__put_u64(&c, good_r->ai.key ^ 1);
	npmu__put_u64(&c, 0);
	npmu__put_u64(&c, 10);
	npmu__put_u32(&c, 0);
	assert_int_equal(raw_call(NPMU_MSG_PERSIST, body, c.pos, 0), NPMU_E_KEY);
	npmu__cursor_init(&c, body, sizeof(body));
	npmu__put_u64(&c, good_r->info.id);
	npmu__put_u64(&c, good_r->ai.key);
	npmu__put_u64(&c, 65530);
	npmu__put_u64(&c, 10);
	npmu__put_u32(&c, 0);
	assert_int_equal(raw_call(NPMU_MSG_PERSIST, body, c.pos, 0), NPMU_E_RANGE);
	assert_int_equal(raw_call(NPMU_MSG_PERSIST, body, c.pos - 4, 0), NPMU_E_PROTO);
	npmu__cursor_init(&c, body, sizeof(body));
	npmu__put_u64(&c, good_r->info.id);
	npmu__put_u64(&c, good_r->ai.key);
	npmu__put_u64(&c, 0);
	npmu__put_u64(&c, 10);
	npmu__put_u32(&c, 2);
	npmu__put_u64(&c, 100);
	npmu__put_u64(&c, 10);
	npmu__put_u64(&c, UINT64_MAX - 4); /* offset + len wraps */
	npmu__put_u64(&c, 10);
	assert_int_equal(raw_call(NPMU_MSG_PERSIST, body, c.pos, 0), NPMU_E_RANGE);
	npmu__cursor_init(&c, body, sizeof(body));
	npmu__put_u64(&c, good_r->info.id);
	npmu__put_u64(&c, good_r->ai.key);
	npmu__put_u64(&c, 0);
	npmu__put_u64(&c, 10);
	npmu__put_u32(&c, NPMU_PERSIST_RANGES);
	for (int i = 0; i < NPMU_PERSIST_RANGES; i++) {
		npmu__put_u64(&c, 0);
		npmu__put_u64(&c, 1);
	}
	assert_int_equal(raw_call(NPMU_MSG_PERSIST, body, c.pos, 0), NPMU_E_PROTO);
	npmu__cursor_init(&c, body, sizeof(body));
	npmu__put_u64(&c, good_r->info.id);
	npmu__put_u64(&c, 12345);
	assert_int_equal(raw_call(NPMU_MSG_CLOSE, body, c.pos, 0), NPMU_E_KEY);
	good_client_works();
}

/* library__bad_requests: duplicate names, a full pool, shrinking, bad names and sizes. */
static void library__bad_requests(void **state)
{
	(void)state;
	struct npmu_region_info info;
	assert_int_equal(npmu_region_create(good, "good", 4096, NULL), NPMU_E_EXIST);
	assert_int_equal(npmu_region_create(good, "huge", 64 << 20, NULL), NPMU_E_NOSPC);
	assert_int_equal(npmu_region_create(good, "big", 3 << 20, NULL), 0);
	assert_int_equal(npmu_region_create(good, "more", 1 << 20, NULL), NPMU_E_NOSPC);
	assert_int_equal(npmu_region_resize(good, "big", 4096, NULL), NPMU_E_SHRINK);
	assert_int_equal(npmu_region_resize(good, "big", 8 << 20, NULL), NPMU_E_NOSPC);
	assert_int_equal(npmu_region_stat(good, "big", &info), 0);
	assert_int_equal(info.size, 3 << 20); /* the failed grow changed nothing */
	assert_int_equal(npmu_region_create(good, "x/y", 4096, NULL), NPMU_E_NAME);
	assert_int_equal(npmu_region_create(good, "zero", 0, NULL), NPMU_E_INVAL);
	char longname[80];
	memset(longname, 'a', 79);
	longname[79] = 0;
	assert_int_equal(npmu_region_create(good, longname, 4096, NULL), NPMU_E_NAME);
	assert_int_equal(npmu_region_delete(good, "missing"), NPMU_E_NOENT);
	assert_int_equal(npmu_region_delete(good, "big"), 0);
	assert_int_equal(npmu_region_create(good, "more", 1 << 20, NULL), 0);
	good_client_works();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(garbage__dropped_and_logged),
		cmocka_unit_test(requests__clear_errors),
		cmocka_unit_test(library__bad_requests),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
