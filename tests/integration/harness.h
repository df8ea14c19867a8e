/* harness.h -- integration-test helpers: start and stop real npmud and pmmd on loopback. */
#ifndef NPMU_HARNESS_H
#define NPMU_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "npmu.h"

struct unit_proc {
	pid_t pid;
	char dir[64];      /* temporary directory holding the pool, address file and log */
	char pool[128];
	char addr[128];    /* host:port it serves on */
	char log[128];
	const char *const *extra; /* more npmud arguments, NULL-terminated */
	bool pmmd;         /* a manager (pmmd), not a unit: no pool */
};

/* unit_start -- start npmud on a new pool in a new temporary directory; port chosen by the OS. */
int unit_start(struct unit_proc *u, const char *size);

/* unit_start_args -- like unit_start, with extra npmud arguments (NULL-terminated); when dir is
 * not NULL it is used instead of a new temporary directory. */
int unit_start_args(struct unit_proc *u, const char *dir, const char *size,
		    const char *const *extra);

/* pmmd_start -- start pmmd on loopback (port chosen by the OS) with the given arguments
 * (NULL-terminated: --cluster-key, --unit ...) in a new temporary directory; stopped and cleaned
 * up like a unit (unit_stop, unit_cleanup). */
int pmmd_start(struct unit_proc *p, const char *const *args);

/* cluster_start -- two units of `size` each (no manager of their own, fault domains rackA and
 * rackB) and a pmmd managing them, on loopback, sharing a fresh cluster key (its directory
 * removed at exit); unit_timeout_ms: pmmd's --unit-timeout (NULL: its default). */
int cluster_start(struct unit_proc units[2], struct unit_proc *pm, const char *size,
		  const char *unit_timeout_ms);

/* mirror_cluster_start -- cluster_start of 64 MiB units that pmmd gives 500 ms to answer; for
 * mirrored regions. */
int mirror_cluster_start(struct unit_proc units[2], struct unit_proc *pm);

/* unit_restart -- start npmud again on the same pool and port. */
int unit_restart(struct unit_proc *u);

/* unit_stop -- SIGTERM (or SIGKILL when hard) and reap; returns the exit status or -signal. */
int unit_stop(struct unit_proc *u, bool hard);

/* unit_cleanup -- stop the unit if still running; its directory is removed when the test exits. */
void unit_cleanup(struct unit_proc *u);

/* unit_connect -- a connection to the unit (fails the test on error). */
struct npmu_conn *unit_connect(const struct unit_proc *u);

/* unit_log_count -- how many lines of the unit's log contain needle. */
int unit_log_count(const struct unit_proc *u, const char *needle);

/* fill_pattern / check_pattern -- deterministic bytes of a (seed, position) pair. */
/* app_credentials -- in a fresh directory (its path into dir, 64 bytes), a key for principal
 * "app" allowed to create and write every region: the unit's credentials file into srv and the
 * client's into cli (both mode 0600; 96 bytes each). 0 or -1. */
int app_credentials(char *dir, char *srv, char *cli);

/*
 * A peer speaking the protocol by hand, as a hostile client would: requests sent back to back
 * on one endpoint without waiting for their answers (the library sends one at a time).
 */
struct raw_peer;
struct npmu__request;

/* What a burst of requests was answered. */
struct raw_answers {
	int sent, answered;
	int served;  /* answered with the status a served request gets (raw_pipeline's expect) */
	int limited; /* answered NPMU_E_LIMIT */
	int other;   /* anything else */
};

/* raw_peer_open -- a bare endpoint to the server at addr ("host:port", tcp); NULL on error. */
struct raw_peer *raw_peer_open(const char *addr);

/* raw_peer_close -- close it and free it; NULLs *p. */
void raw_peer_close(struct raw_peer **p);

/* raw_peer_claim -- name addr (len bytes: another endpoint's, as a spoofer would) as the return
 * address of p's requests from now on: their answers go there. */
void raw_peer_claim(struct raw_peer *p, const void *addr, size_t len);

/* raw_pipeline -- send n (at most 512) plain requests (type, req) back to back, then collect
 * their answers until quiet_ms pass without one (a server may drop answers to a peer that
 * sends faster than it takes them), counted into *a (added to); 0, or -1 if the endpoint
 * failed. */
int raw_pipeline(struct raw_peer *p, uint16_t type, const struct npmu__request *req, int n,
		 int expect, int quiet_ms, struct raw_answers *a);

void fill_pattern(void *buf, size_t len, uint64_t seed, uint64_t pos);
bool check_pattern(const void *buf, size_t len, uint64_t seed, uint64_t pos);

#endif
