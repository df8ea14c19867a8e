/* test_holders.c -- the manager's record of live clients: probing a full region's holders rests
 * after a pass that had to wait (a client's host dropping connections to it), so a client
 * opening that region again and again cannot hold a unit's service loop up; a gone holder is
 * still found by the next pass after the rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "holders.h"

#define SILENT_HOLDERS 8

/* listener -- a TCP socket listening on 127.0.0.1 with backlog 0; its address into *sin. */
static int listener(struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	*sin = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(*sin);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	assert_int_equal(listen(fd, 0), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sin, &len), 0);
	return fd;
}

/* fill -- connections to sin, never accepted, until the next is not answered at once: from then
 * on the kernel drops connection requests to it, as a firewall does. Their descriptors into
 * fds (up to n); returns how many. */
static int fill(const struct sockaddr_in *sin, int *fds, int n)
{
	int k = 0;
	while (k < n) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(fd >= 0);
		fds[k++] = fd;
		if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == 0)
			continue;
		usleep(20 * 1000);
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		if (getpeername(fd, (struct sockaddr *)&peer, &plen) != 0)
			break; /* not connected after 20 ms: requests are dropped now */
	}
	return k;
}

/* probe__rests_after_a_pass_that_waited: holders whose address drops connections cost a pass
 * its whole budget once; the next passes probe nothing until NPMU_RECLAIM_QUIET_MS have passed
 * (before, each pass waited for the budget again); after that, a holder that is gone is found. */
static void probe__rests_after_a_pass_that_waited(void **state)
{
	(void)state;
	struct npmu__holders hs;
	npmu__holders_init(&hs, 3000);
	hs.probe = true;
	struct sockaddr_in silent, gone;
	int lfd = listener(&silent), fds[64];
	int nfds = fill(&silent, fds, 64);
	int gfd = listener(&gone);
	close(gfd); /* nothing listens there: refused at once */
	for (uint64_t id = 1; id <= SILENT_HOLDERS; id++)
		assert_int_equal(npmu__holders_renew(&hs, id, NULL, (const uint8_t *)&silent,
						     sizeof(silent)), 0);
	assert_int_equal(npmu__holders_renew(&hs, 99, NULL, (const uint8_t *)&gone, sizeof(gone)), 0);

	struct npmu__reclaim rec;
	npmu__reclaim_init(&rec, &hs);
	uint64_t t0 = npmu__now_ms();
	for (uint64_t id = 1; id <= SILENT_HOLDERS; id++)
		assert_true(npmu__holders_keep_present(&rec, id)); /* silent: kept */
	uint64_t first = hs.probes, took = npmu__now_ms() - t0;
	print_message("first pass: %llu probes in %llu ms\n", (unsigned long long)first,
		      (unsigned long long)took);
	assert_true(first >= 2 && first < SILENT_HOLDERS); /* each waited: the budget ran out */
	assert_true(took >= NPMU_RECLAIM_PROBE_MS);

	for (int pass = 0; pass < 3; pass++) { /* resting: nothing probed, nothing waited for */
		npmu__reclaim_init(&rec, &hs);
		t0 = npmu__now_ms();
		for (uint64_t id = 1; id <= SILENT_HOLDERS; id++)
			assert_true(npmu__holders_keep_present(&rec, id));
		assert_true(npmu__holders_keep_present(&rec, 99)); /* (not even the gone one) */
		assert_int_equal(hs.probes, first);
		assert_true(npmu__now_ms() - t0 < 50);
	}

	hs.probe_quiet_until_ms = npmu__now_ms(); /* the rest is over */
	npmu__reclaim_init(&rec, &hs);
	assert_false(npmu__holders_keep_present(&rec, 99)); /* gone: its right goes */
	assert_true(npmu__holders_keep_present(&rec, 1));   /* one per pass */
	assert_int_equal(hs.probes, first + 1);

	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(lfd);
	npmu__holders_fini(&hs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(probe__rests_after_a_pass_that_waited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
