/* test_pmmd.c -- unit tests of pmmd's logic (src/pmmd: units, placement, mirrors, remote ops)
 * in one process: three units run in-process (pool, TPT, service on loopback libfabric, in
 * threads, as npmud --no-manager --cluster-key runs them), and pmmd's code talks to them as it
 * does in pmmd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "mirrors.h"
#include "pmm.h"
#include "remote_ops.h"
#include "replies.h"
#include "service.h"
#include "sessions.h"
#include "unit_serve.h"
#include "units.h"

#define NUNITS 3

/* One unit running in this process. */
struct test_unit {
	char path[64];
	struct npmu__pool *pool;
	struct npmu__fabric *fab;
	struct npmu__unit *unit;
	struct npmu__sessions sessions;
	struct npmu__unit_service handlers;
	struct npmu__service *svc;
	int stop_fd;
	pthread_t thread;
	char addr[128];
};

static struct test_unit tu[NUNITS];
static uint8_t cluster_key[NPMU_KEY_LEN];
static const char *domains[NUNITS] = {"rackA", "rackA", "rackB"};

/* serve -- a unit's service loop. */
static void *serve(void *arg)
{
	struct test_unit *t = arg;
	npmu__service_run(t->svc, t->stop_fd, 0);
	return NULL;
}

/* unit_start -- pool, fabric, TPT and service of unit i, served from a thread. */
static void unit_start(int i)
{
	struct test_unit *t = &tu[i];
	snprintf(t->path, sizeof(t->path), "/tmp/npmu-test-pmmd-%d-%d.pool", (int)getpid(), i);
	unlink(t->path);
	assert_int_equal(npmu__pool_create(t->path, 16 << 20, &t->pool), 0);
	assert_int_equal(npmu__fabric_open("tcp", "127.0.0.1", "0", true, &t->fab), 0);
	assert_int_equal(npmu__unit_new(t->pool, t->fab, &t->unit), 0);
	assert_int_equal(npmu__sessions_init(&t->sessions, NULL, cluster_key, "npmud", 0), 0);
	struct npmu__service_ops ops;
	npmu__unit_service_init(&t->handlers, t->unit, NULL, &ops);
	assert_int_equal(npmu__service_new(t->fab, &ops, &t->sessions, &t->svc), 0);
	npmu__fabric_addr_str(t->fab, t->fab->name, t->addr, sizeof(t->addr));
	t->stop_fd = eventfd(0, 0);
	assert_true(t->stop_fd >= 0);
	assert_int_equal(pthread_create(&t->thread, NULL, serve, t), 0);
}

/* unit_stop -- stop unit i's service and free it all. */
static void unit_stop(int i)
{
	struct test_unit *t = &tu[i];
	uint64_t one = 1;
	assert_int_equal(write(t->stop_fd, &one, sizeof(one)), sizeof(one));
	pthread_join(t->thread, NULL);
	close(t->stop_fd);
	npmu__service_delete(&t->svc);
	npmu__unit_service_fini(&t->handlers);
	npmu__unit_delete(&t->unit);
	npmu__fabric_close(&t->fab);
	npmu__pool_close(&t->pool);
	npmu__sessions_fini(&t->sessions);
	unlink(t->path);
}

/* setup -- three units, two in rackA and one in rackB. */
static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(cluster_key, sizeof(cluster_key));
	for (int i = 0; i < NUNITS; i++)
		unit_start(i);
	return 0;
}

/* teardown -- stop the units. */
static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NUNITS; i++)
		unit_stop(i);
	return 0;
}

/* units_of -- pmmd's table of the three units, as `pmmd --unit ADDR@DOMAIN` makes it. */
static void units_of(struct npmu__units *us)
{
	memset(us, 0, sizeof(*us));
	us->provider = "tcp";
	us->timeout_ms = 2000;
	memcpy(us->key, cluster_key, sizeof(us->key));
	for (int i = 0; i < NUNITS; i++) {
		char spec[160];
		snprintf(spec, sizeof(spec), "%s@%s", tu[i].addr, domains[i]);
		assert_int_equal(npmu__units_add(us, spec), 0);
	}
}

/* units__add_parses_and_refuses: ADDR@DOMAIN; a duplicate, a bad domain, an empty address. */
static void units__add_parses_and_refuses(void **state)
{
	(void)state;
	struct npmu__units us;
	units_of(&us);
	assert_int_equal(us.n, NUNITS);
	assert_string_equal(us.u[2].domain, "rackB");
	assert_string_equal(us.u[0].addr, tu[0].addr);
	char spec[160];
	snprintf(spec, sizeof(spec), "%s@rackC", tu[0].addr);
	assert_int_equal(npmu__units_add(&us, spec), NPMU_E_EXIST);
	assert_int_equal(npmu__units_add(&us, "127.0.0.1:1@rack/x"), NPMU_E_NAME);
	assert_int_equal(npmu__units_add(&us, "@rackA"), NPMU_E_INVAL);
	assert_int_equal(npmu__units_index(&us, tu[1].addr), 1);
	assert_int_equal(npmu__units_index(&us, "127.0.0.1:1"), -1);
	npmu__units_fini(&us);
}

/* units__refresh_finds_regions: the directory is rebuilt from the units' own tables. */
static void units__refresh_finds_regions(void **state)
{
	(void)state;
	struct npmu__units us;
	units_of(&us);
	struct npmu__request req = {.size = 8192, .copies = 1};
	snprintf(req.name, sizeof(req.name), "plain.1");
	snprintf(req.unit, sizeof(req.unit), "%s", tu[2].addr);
	struct npmu_region_info info;
	assert_int_equal(npmu__remote_unit_ops.create(&us, &req, "", &info), 0);
	npmu__units_fini(&us);

	units_of(&us); /* a pmmd started afresh knows nothing but finds it */
	npmu__units_refresh(&us);
	for (int i = 0; i < NUNITS; i++)
		assert_true(us.u[i].up);
	int at[2];
	assert_int_equal(npmu__units_find_all(&us, "plain.1", at, 2), 1);
	assert_int_equal(at[0], 2);
	assert_int_equal(npmu__remote_unit_ops.stat(&us, "plain.1", &info), 0);
	assert_int_equal(info.size, 8192);
	assert_int_equal(npmu__remote_unit_ops.remove(&us, "plain.1"), 0);
	assert_int_equal(npmu__units_find_all(&us, "plain.1", at, 2), 0);
	npmu__units_fini(&us);
}

/* mirror__placed_on_two_domains: the two copies never share a fault domain, both carry the same
 * record naming both units, and asking for two units of one domain is refused. */
static void mirror__placed_on_two_domains(void **state)
{
	(void)state;
	struct npmu__units us;
	units_of(&us);
	npmu__units_refresh(&us);
	for (int round = 0; round < 3; round++) {
		struct npmu__request req = {.size = 4096, .copies = 2};
		snprintf(req.name, sizeof(req.name), "mirrored.%d", round);
		struct npmu_region_info info;
		assert_int_equal(npmu__mirror_create(&us, &req, "", &info), 0);
		int at[2];
		assert_int_equal(npmu__units_find_all(&us, req.name, at, 2), 2);
		assert_string_not_equal(us.u[at[0]].domain, us.u[at[1]].domain);
		/* the record, as each copy's unit keeps it */
		uint8_t recs[2][NPMU_MIRROR_REC_MAX];
		size_t lens[2];
		for (int k = 0; k < 2; k++) {
			struct npmu__request q = {.op = NPMU__REC_GET};
			snprintf(q.name, sizeof(q.name), "%s", req.name);
			const uint8_t *body;
			size_t blen;
			assert_int_equal(npmu__units_call(&us, (uint32_t)at[k], NPMU_MSG_MIRROR_REC, &q,
							  &body, &blen), 0);
			assert_int_equal(npmu__reply_mirror_rec(body, blen, recs[k], &lens[k]), 0);
		}
		assert_int_equal(lens[0], lens[1]);
		assert_memory_equal(recs[0], recs[1], lens[0]);
		struct npmu__mirror m;
		assert_int_equal(npmu__mirror_decode(recs[0], lens[0], &m), 0);
		assert_int_equal(m.generation, 1);
		assert_int_equal(npmu__mirror_in_sync(&m), 2);
		assert_true(npmu__units_index(&us, m.copy[0].unit) >= 0);
		assert_true(npmu__units_index(&us, m.copy[1].unit) >= 0);
		assert_string_not_equal(m.copy[0].unit, m.copy[1].unit);
	}
	struct npmu__request same = {.size = 4096, .copies = 2};
	snprintf(same.name, sizeof(same.name), "mirrored.bad");
	snprintf(same.unit, sizeof(same.unit), "%s", tu[0].addr);
	snprintf(same.unit2, sizeof(same.unit2), "%s", tu[1].addr); /* both in rackA */
	struct npmu_region_info info;
	assert_int_equal(npmu__mirror_create(&us, &same, "", &info), NPMU_E_INVAL);
	for (int round = 0; round < 3; round++) { /* a mirrored delete takes both copies */
		struct npmu__request del = {0};
		snprintf(del.name, sizeof(del.name), "mirrored.%d", round);
		uint8_t body[NPMU_WIRE_MAX];
		struct npmu__cursor reply;
		npmu__cursor_init(&reply, body, sizeof(body));
		assert_int_equal(npmu__mirror_handle(&us, NPMU_MSG_DELETE, &del, &reply), 0);
		int at[2];
		assert_int_equal(npmu__units_find_all(&us, del.name, at, 2), 0);
	}
	npmu__units_fini(&us);
}

/* fence__closes_writers: FENCE closes a region's read-write rights at its unit; a stream's fence
 * on a region that is no stream is refused, and a region nobody has is NPMU_E_NOENT. */
static void fence__closes_writers(void **state)
{
	(void)state;
	struct npmu__units us;
	units_of(&us);
	npmu__units_refresh(&us);
	struct npmu__request req = {.size = 4096, .copies = 1};
	snprintf(req.name, sizeof(req.name), "fenced.f");
	struct npmu_region_info info;
	assert_int_equal(npmu__remote_unit_ops.create(&us, &req, "", &info), 0);
	struct npmu__access_info w, r;
	assert_int_equal(npmu__remote_unit_ops.grant(&us, "fenced.f", NPMU_ACCESS_READ_WRITE, 7, NULL,
						     &info, &w), 0);
	assert_int_equal(npmu__remote_unit_ops.grant(&us, "fenced.f", NPMU_ACCESS_READ, 7, NULL,
						     &info, &r), 0);
	assert_true(npmu__remote_unit_ops.key_live(&us, "fenced.f", w.key));
	assert_int_equal(npmu__remote_unit_ops.writers(&us, "fenced.f"), 1);
	uint64_t epoch = 0;
	assert_int_equal(npmu__remote_unit_ops.fence(&us, "fenced.f", false, &epoch), 0);
	assert_int_equal(epoch, 0);
	assert_false(npmu__remote_unit_ops.key_live(&us, "fenced.f", w.key));
	assert_int_equal(npmu__remote_unit_ops.writers(&us, "fenced.f"), 0);
	assert_int_equal(npmu__remote_unit_ops.stat(&us, "fenced.f", &info), 0);
	assert_int_equal(info.rights, 1); /* the reader's right stays */
	/* a lease on a plain region (a set's staging) fences it as a stream without an epoch */
	assert_int_equal(npmu__remote_unit_ops.fence(&us, "fenced.f", true, &epoch), 0);
	assert_int_equal(epoch, 0);
	assert_int_equal(npmu__remote_unit_ops.fence(&us, "nothing.here", false, &epoch),
			 NPMU_E_NOENT);
	assert_int_equal(npmu__remote_unit_ops.remove(&us, "fenced.f"), 0);
	npmu__units_fini(&us);
}

/* members__found_in_one_listing: MEMBERS answers which of NAME.s0 .. NAME.s63 exist, on any
 * unit, and nothing else (not NAME.s01, NAME.s64, NAMEx.s1, NAME.s1x). */
static void members__found_in_one_listing(void **state)
{
	(void)state;
	struct npmu__units us;
	units_of(&us);
	npmu__units_refresh(&us);
	struct npmu__pmm pmm;
	npmu__pmm_init(&pmm, &npmu__remote_unit_ops, &us, NULL, 0);
	const char *names[] = {"m.s0", "m.s2", "m.s10", "m.s63", "m.s01", "m.s64", "mx.s1",
			       "m.s1x", "m.s", "m.t3"};
	const int count = (int)(sizeof(names) / sizeof(names[0]));
	for (int i = 0; i < count; i++) {
		struct npmu__request req = {.size = 4096, .copies = 1};
		snprintf(req.name, sizeof(req.name), "%s", names[i]);
		snprintf(req.unit, sizeof(req.unit), "%s", tu[i % NUNITS].addr);
		struct npmu_region_info info;
		assert_int_equal(npmu__remote_unit_ops.create(&us, &req, "", &info), 0);
	}
	const char *sets[] = {"m", "mx", "none"};
	const uint64_t want[] = {1ull << 0 | 1ull << 2 | 1ull << 10 | 1ull << 63, 1ull << 1, 0};
	for (int k = 0; k < 3; k++) {
		struct npmu__request req = {0};
		snprintf(req.name, sizeof(req.name), "%s", sets[k]);
		uint8_t body[NPMU_WIRE_MAX];
		struct npmu__cursor reply;
		npmu__cursor_init(&reply, body, sizeof(body));
		assert_int_equal(npmu__pmm_handle(&pmm, NULL, NPMU_MSG_MEMBERS, &req, &reply), 0);
		uint64_t present;
		assert_int_equal(npmu__reply_u64(body, reply.pos, &present), 0);
		assert_int_equal(present, want[k]);
	}
	for (int i = 0; i < count; i++)
		assert_int_equal(npmu__remote_unit_ops.remove(&us, names[i]), 0);
	npmu__pmm_fini(&pmm);
	npmu__units_fini(&us);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(units__add_parses_and_refuses),
		cmocka_unit_test(units__refresh_finds_regions),
		cmocka_unit_test(mirror__placed_on_two_domains),
		cmocka_unit_test(fence__closes_writers),
		cmocka_unit_test(members__found_in_one_listing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
