/* flood.c -- a hostile peer for the tests: opens handshakes with a manager and never finishes
 * them, as fast as it can, for a while, from fresh endpoints; prints what it was answered.
 *
 *   flood HOST:PORT SECONDS
 *
 * Each AUTH1 names a principal the manager does not know (an attacker probing, or a client with
 * a stolen name but no key); the reply, a challenge, is never answered. Printed at the end:
 *   flood: N handshakes opened, T refused (throttled), L refused (limit), O other, S silent
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "codec.h"
#include "fabric.h"
#include "wire.h"

static int ctx_send, ctx_recv;

/* now_ms -- monotonic milliseconds. */
static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* auth1 -- one unfinished handshake on fab: the reply's status, or 1 when none came in 500 ms. */
static int auth1(struct npmu__fabric *fab, fi_addr_t server, uint64_t req_id)
{
	uint8_t tx[NPMU_WIRE_MAX], rx[NPMU_WIRE_MAX];
	struct npmu__request req = {0};
	snprintf(req.id, sizeof(req.id), "intruder%llu", (unsigned long long)(req_id % 1000));
	randombytes_buf(req.nonce, sizeof(req.nonce));
	struct npmu__msg_hdr hdr = {.type = NPMU_MSG_AUTH1, .req_id = req_id,
				    .addr_len = (uint16_t)fab->name_len, .addr = fab->name};
	int hlen = npmu__msg_encode_hdr(tx, sizeof(tx), &hdr);
	int blen = npmu__req_encode(NPMU_MSG_AUTH1, &req, tx + hlen, sizeof(tx) - (size_t)hlen);
	hdr.body_len = (uint32_t)blen;
	npmu__msg_encode_hdr(tx, sizeof(tx), &hdr);
	if (fi_recv(fab->ep, rx, sizeof(rx), NULL, FI_ADDR_UNSPEC, &ctx_recv) != 0)
		return 2;
	uint64_t deadline = now_ms() + 500;
	ssize_t rc;
	while ((rc = fi_send(fab->ep, tx, (size_t)(hlen + blen), NULL, server, &ctx_send)) ==
	       -FI_EAGAIN) {
		struct fi_cq_msg_entry e;
		(void)fi_cq_read(fab->cq, &e, 0);
		if (now_ms() > deadline)
			return 1;
	}
	if (rc != 0)
		return 2;
	while (now_ms() < deadline) {
		struct fi_cq_msg_entry e;
		ssize_t n = fi_cq_read(fab->cq, &e, 1);
		if (n == -FI_EAVAIL) {
			struct fi_cq_err_entry err = {0};
			fi_cq_readerr(fab->cq, &err, 0);
			return 2;
		}
		if (n == 1 && e.op_context == &ctx_recv) {
			struct npmu__msg_hdr h;
			if (npmu__msg_decode_hdr(rx, e.len, &h) != 0)
				return 2;
			return h.status;
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: flood HOST:PORT SECONDS\n");
		return 2;
	}
	char host[256], port[16];
	if (sodium_init() < 0 ||
	    npmu__split_hostport(argv[1], host, sizeof(host), port, sizeof(port), 7410) != 0)
		return 2;
	uint64_t end = now_ms() + (uint64_t)atoi(argv[2]) * 1000, req_id = 1;
	unsigned long opened = 0, throttled = 0, limit = 0, other = 0, silent = 0;
	while (now_ms() < end) {
		/* a fresh endpoint now and then: new source ports, as a scripted attacker has */
		struct npmu__fabric *fab = NULL;
		fi_addr_t server;
		if (npmu__fabric_open("tcp", host, port, false, &fab) != 0 ||
		    fi_av_insert(fab->av, fab->info->dest_addr, 1, &server, 0, NULL) != 1) {
			npmu__fabric_close(&fab);
			silent++;
			continue;
		}
		for (int i = 0; i < 16 && now_ms() < end; i++) {
			int st = auth1(fab, server, req_id++);
			if (st == 0)
				opened++;
			else if (st == NPMU_E_AUTH)
				throttled++;
			else if (st == NPMU_E_LIMIT)
				limit++;
			else if (st == 1)
				silent++;
			else
				other++;
			if (st == 1 || st == 2)
				break;
		}
		npmu__fabric_close(&fab);
	}
	printf("flood: %lu handshakes opened, %lu refused (throttled), %lu refused (limit), %lu "
	       "other, %lu silent\n", opened, throttled, limit, other, silent);
	return 0;
}
