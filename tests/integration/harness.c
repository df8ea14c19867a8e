/* harness.c -- start, stop and inspect real npmud and pmmd processes for the integration tests. */
#define _GNU_SOURCE
#include "harness.h"
#include "clock.h"
#include "fabric.h"
#include "session.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 10000
#define REGISTRY_MAX 16

/*
 * Every unit started is also recorded here, so that a test that fails half-way (cmocka jumps
 * out of it) still has its processes stopped and directories removed when it exits.
 */
static struct {
	pid_t pid;
	char dir[64];
} registry[REGISTRY_MAX];

/* sanitizer_reports -- lines of a unit's log in which AddressSanitizer, LeakSanitizer or
 * UndefinedBehaviorSanitizer reported something (printed to stderr). */
static int sanitizer_reports(const char *dir)
{
	char path[128], line[2048];
	snprintf(path, sizeof(path), "%s/npmud.log", dir);
	FILE *f = fopen(path, "r");
	int n = 0;
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "Sanitizer") || strstr(line, "runtime error:")) {
			fprintf(stderr, "harness: npmud: %s", line);
			n++;
		}
	if (f)
		fclose(f);
	return n;
}

/* registry_cleanup -- at exit: SIGKILL units still running, fail the run if a sanitizer reported
 * anything in a unit's log, remove the directories. */
static void registry_cleanup(void)
{
	int reports = 0;
	for (int i = 0; i < REGISTRY_MAX; i++) {
		if (registry[i].pid > 0) {
			kill(registry[i].pid, SIGKILL);
			waitpid(registry[i].pid, NULL, 0);
		}
		if (registry[i].dir[0])
			reports += sanitizer_reports(registry[i].dir);
		if (registry[i].dir[0] && !getenv("NPMU_KEEP_TEST_DIRS")) {
			char cmd[128];
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", registry[i].dir);
			if (system(cmd) != 0)
				fprintf(stderr, "harness: cannot remove %s\n", registry[i].dir);
		}
	}
	if (reports)
		_exit(1);
}

/* registry_set -- record (or with pid 0, forget the process of) the unit in dir. */
static void registry_set(const char *dir, pid_t pid)
{
	static int registered;
	if (!registered) {
		atexit(registry_cleanup);
		registered = 1;
	}
	int free_slot = -1;
	for (int i = 0; i < REGISTRY_MAX; i++) {
		if (strcmp(registry[i].dir, dir) == 0) {
			registry[i].pid = pid;
			return;
		}
		if (!registry[i].dir[0] && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0) {
		snprintf(registry[free_slot].dir, sizeof(registry[free_slot].dir), "%s", dir);
		registry[free_slot].pid = pid;
	}
}
#define STOP_TIMEOUT_MS 10000

/* sleep_ms -- nap. */
static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* spawn -- fork and exec npmud on u->pool, listening on listen, logging to u->log. */
static int spawn(struct unit_proc *u, const char *size, const char *listen)
{
	const char *const *extra = u->extra;
	char addr_file[160];
	snprintf(addr_file, sizeof(addr_file), "%s/addr", u->dir);
	unlink(addr_file);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test, however it ends */
		int fd = open(u->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		const char *argv[32] = {NPMUD_PATH, "--pool", u->pool, "--listen", listen,
					"--addr-file", addr_file, "-v"};
		int n = 8;
		if (u->pmmd) { /* pmmd has no pool */
			argv[0] = PMMD_PATH;
			argv[1] = "-v";
			n = 2;
			argv[n++] = "--listen";
			argv[n++] = listen;
			argv[n++] = "--addr-file";
			argv[n++] = addr_file;
		}
		if (size) {
			argv[n++] = "--size";
			argv[n++] = size;
		}
		for (int i = 0; extra && extra[i] && n < 31; i++)
			argv[n++] = extra[i];
		argv[n] = NULL;
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	u->pid = pid;
	registry_set(u->dir, pid);
	for (int waited = 0; waited < START_TIMEOUT_MS; waited += 10) {
		FILE *f = fopen(addr_file, "r");
		if (f) {
			int ok = fscanf(f, "%127s", u->addr) == 1;
			fclose(f);
			if (ok)
				return 0;
		}
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			u->pid = 0;
			registry_set(u->dir, 0);
			fprintf(stderr, "harness: %s exited at start (see %s)\n",
				u->pmmd ? "pmmd" : "npmud", u->log);
			return -1;
		}
		sleep_ms(10);
	}
	unit_stop(u, true);
	return -1;
}

/* unit_start -- start npmud on a new pool in a new temporary directory. */
int unit_start(struct unit_proc *u, const char *size)
{
	return unit_start_args(u, NULL, size, NULL);
}

/* unit_start_args -- start npmud with extra arguments, in dir or a new temporary directory. */
int unit_start_args(struct unit_proc *u, const char *dir, const char *size,
		    const char *const *extra)
{
	memset(u, 0, sizeof(*u));
	u->extra = extra;
	snprintf(u->dir, sizeof(u->dir), "%s", dir ? dir : "/tmp/npmu-it-XXXXXX");
	if (!dir && !mkdtemp(u->dir))
		return -1;
	snprintf(u->pool, sizeof(u->pool), "%s/unit.pool", u->dir);
	snprintf(u->log, sizeof(u->log), "%s/npmud.log", u->dir);
	return spawn(u, size, "127.0.0.1:0");
}

/* pmmd_start -- start pmmd with args in a new temporary directory. */
int pmmd_start(struct unit_proc *p, const char *const *args)
{
	memset(p, 0, sizeof(*p));
	p->extra = args;
	p->pmmd = true;
	snprintf(p->dir, sizeof(p->dir), "/tmp/npmu-it-XXXXXX");
	if (!mkdtemp(p->dir))
		return -1;
	snprintf(p->log, sizeof(p->log), "%s/npmud.log", p->dir); /* (scanned for sanitizers) */
	return spawn(p, NULL, "127.0.0.1:0");
}

/* cluster_start -- two units and their pmmd sharing a new cluster key. */
int cluster_start(struct unit_proc units[2], struct unit_proc *pm, const char *size,
		  const char *unit_timeout_ms)
{
	/* kept for the life of the test: a unit restarted later is given them again */
	static char dir[64], key[96], unit_arg[2][160];
	static const char *unit_args[] = {"--no-manager", "--cluster-key", key, NULL};
	static const char *pmmd_args[] = {"--cluster-key", key, "--unit", unit_arg[0], "--unit",
					  unit_arg[1], "--unit-timeout", NULL, NULL};
	pmmd_args[6] = unit_timeout_ms ? "--unit-timeout" : NULL;
	pmmd_args[7] = unit_timeout_ms;
	snprintf(dir, sizeof(dir), "/tmp/npmu-it-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	registry_set(dir, 0); /* removed at exit */
	snprintf(key, sizeof(key), "%s/cluster.key", dir);
	if (npmu__key_write(key) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (unit_start_args(&units[i], NULL, size, unit_args) != 0)
			return -1;
		snprintf(unit_arg[i], sizeof(unit_arg[i]), "%s@rack%c", units[i].addr, 'A' + i);
	}
	return pmmd_start(pm, pmmd_args);
}

/* mirror_cluster_start -- cluster_start of 64 MiB units, pmmd's unit timeout 500 ms. */
int mirror_cluster_start(struct unit_proc units[2], struct unit_proc *pm)
{
	return cluster_start(units, pm, "64M", "500");
}

/* unit_restart -- start npmud again on the same pool and port. */
int unit_restart(struct unit_proc *u)
{
	char listen[128];
	snprintf(listen, sizeof(listen), "%s", u->addr);
	for (int tries = 0; tries < 50; tries++) {
		if (spawn(u, NULL, listen) == 0)
			return 0;
		sleep_ms(100); /* the port may still be held for a moment */
	}
	return -1;
}

/* unit_stop -- SIGTERM (or SIGKILL when hard) and reap within a bounded time. */
int unit_stop(struct unit_proc *u, bool hard)
{
	if (u->pid <= 0)
		return -1;
	kill(u->pid, hard ? SIGKILL : SIGTERM);
	int status = 0;
	for (int waited = 0;; waited += 10) {
		pid_t r = waitpid(u->pid, &status, WNOHANG);
		if (r == u->pid)
			break;
		if (waited > STOP_TIMEOUT_MS) {
			kill(u->pid, SIGKILL);
			waitpid(u->pid, &status, 0);
			break;
		}
		sleep_ms(10);
	}
	u->pid = 0;
	registry_set(u->dir, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

/* unit_cleanup -- stop the unit if running (its directory is removed at exit). */
void unit_cleanup(struct unit_proc *u)
{
	if (u->pid > 0)
		unit_stop(u, true);
	/* the directory goes at exit, once its log has been checked for sanitizer reports */
}

/* unit_connect -- a connection to the unit, or NULL. */
struct npmu_conn *unit_connect(const struct unit_proc *u)
{
	struct npmu_conn_cfg cfg = {.server = u->addr, .timeout_ms = 5000};
	struct npmu_conn *conn = NULL;
	int rc = npmu_conn_new(&cfg, &conn);
	if (rc != 0)
		fprintf(stderr, "harness: connect %s: %s\n", u->addr, npmu_strerror(rc));
	return conn;
}

/* unit_log_count -- how many lines of the unit's log contain needle. */
int unit_log_count(const struct unit_proc *u, const char *needle)
{
	FILE *f = fopen(u->log, "r");
	if (!f)
		return -1;
	char line[2048];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* pattern_byte -- the byte at absolute position pos of pattern seed. */
static uint8_t pattern_byte(uint64_t seed, uint64_t pos)
{
	uint64_t x = (pos / 8) * 0x9e3779b97f4a7c15ull + seed * 0xbf58476d1ce4e5b9ull;
	x ^= x >> 31;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 29;
	return (uint8_t)(x >> (8 * (pos % 8)));
}

/* fill_pattern -- deterministic bytes for [pos, pos+len) of pattern seed. */
void fill_pattern(void *buf, size_t len, uint64_t seed, uint64_t pos)
{
	uint8_t *b = buf;
	for (size_t i = 0; i < len; i++)
		b[i] = pattern_byte(seed, pos + i);
}

/* check_pattern -- whether buf holds [pos, pos+len) of pattern seed. */
bool check_pattern(const void *buf, size_t len, uint64_t seed, uint64_t pos)
{
	const uint8_t *b = buf;
	for (size_t i = 0; i < len; i++)
		if (b[i] != pattern_byte(seed, pos + i))
			return false;
	return true;
}

/* app_credentials -- a key and the two credentials files of principal "app". */
int app_credentials(char *dir, char *srv, char *cli)
{
	char key[96];
	snprintf(dir, 64, "/tmp/npmu-it-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(key, sizeof(key), "%s/app.key", dir);
	snprintf(srv, 96, "%s/npmud.cred", dir);
	snprintf(cli, 96, "%s/app.cred", dir);
	if (npmu__key_write(key) != 0)
		return -1;
	FILE *s = fopen(srv, "w"), *c = fopen(cli, "w");
	if (s)
		fprintf(s, "principal app file %s\nallow app create,write *\n", key);
	if (c)
		fprintf(c, "principal app\nkey-file %s\n", key);
	int rc = s && c ? 0 : -1;
	if (s)
		fclose(s);
	if (c)
		fclose(c);
	return rc == 0 && chmod(srv, 0600) == 0 && chmod(cli, 0600) == 0 ? 0 : -1;
}

#define RAW_BURST_MAX 512

struct raw_peer {
	struct npmu__fabric *fab;
	fi_addr_t server;
	uint64_t req_id;
	uint8_t rx[NPMU_WIRE_MAX]; /* the answer being received */
	int rctx;                  /* its context */
	uint8_t msg[RAW_BURST_MAX][NPMU_WIRE_MAX];
	uint8_t claim[NPMU_WIRE_ADDR_MAX]; /* the return address its requests name (claim_len 0:
					    * its own) */
	size_t claim_len;
};

/* raw_peer_open -- a bare endpoint to addr. */
struct raw_peer *raw_peer_open(const char *addr)
{
	char host[64], port[16];
	struct raw_peer *p = calloc(1, sizeof(*p));
	if (!p || npmu__split_hostport(addr, host, sizeof(host), port, sizeof(port), 0) != 0 ||
	    npmu__fabric_open("tcp", host, port, false, &p->fab) != 0) {
		free(p);
		return NULL;
	}
	if (fi_av_insert(p->fab->av, p->fab->info->dest_addr, 1, &p->server, 0, NULL) != 1 ||
	    fi_recv(p->fab->ep, p->rx, sizeof(p->rx), NULL, FI_ADDR_UNSPEC, &p->rctx) != 0) {
		npmu__fabric_close(&p->fab);
		free(p);
		return NULL;
	}
	return p;
}

/* raw_peer_close -- close the endpoint. */
void raw_peer_close(struct raw_peer **pp)
{
	if (!*pp)
		return;
	npmu__fabric_close(&(*pp)->fab);
	free(*pp);
	*pp = NULL;
}

/* raw_encode -- request i of a burst into p->msg[i]; its length, or -1. */
static int raw_encode(struct raw_peer *p, int i, uint16_t type, const struct npmu__request *req)
{
	struct npmu__msg_hdr h = {.type = type, .req_id = ++p->req_id,
				  .addr_len = (uint16_t)p->fab->name_len, .addr = p->fab->name};
	if (p->claim_len) {
		h.addr_len = (uint16_t)p->claim_len;
		h.addr = p->claim;
	}
	int hl = npmu__msg_encode_hdr(p->msg[i], NPMU_WIRE_MAX, &h);
	if (hl < 0)
		return -1;
	int bl = npmu__req_encode(type, req, p->msg[i] + hl, NPMU_WIRE_MAX - (size_t)hl);
	if (bl < 0)
		return -1;
	h.body_len = (uint32_t)bl;
	npmu__msg_encode_hdr(p->msg[i], NPMU_WIRE_MAX, &h);
	return hl + bl;
}

/* raw_peer_claim -- name addr (len bytes) as the return address of p's requests from now on. */
void raw_peer_claim(struct raw_peer *p, const void *addr, size_t len)
{
	p->claim_len = len <= sizeof(p->claim) ? len : 0;
	memcpy(p->claim, addr, p->claim_len);
}

/* raw_answer -- (a completion e on p) count an answer into *a and post the next receive (one
 * is always posted: an answer to an earlier burst counts when it comes); 1 if e was an answer,
 * 0 if not, -1 on error. */
static int raw_answer(struct raw_peer *p, const struct fi_cq_msg_entry *e, int expect,
		      int *answers, struct raw_answers *a)
{
	struct npmu__msg_hdr h;
	if (e->op_context != &p->rctx)
		return 0; /* (a send done) */
	if (npmu__msg_decode_hdr(p->rx, e->len, &h) != 0)
		return -1;
	++*answers;
	a->answered++;
	a->served += h.status == expect;
	a->limited += h.status == NPMU_E_LIMIT;
	a->other += h.status != expect && h.status != NPMU_E_LIMIT;
	if (fi_recv(p->fab->ep, p->rx, sizeof(p->rx), NULL, FI_ADDR_UNSPEC, &p->rctx) != 0)
		return -1;
	return 1;
}

/* raw_pipeline -- a burst of n requests, then their answers. */
int raw_pipeline(struct raw_peer *p, uint16_t type, const struct npmu__request *req, int n,
		 int expect, int quiet_ms, struct raw_answers *a)
{
	static int sctx;
	int answers = 0;
	struct fi_cq_msg_entry e;
	n = n < RAW_BURST_MAX ? n : RAW_BURST_MAX;
	for (int i = 0; i < n; i++) {
		int len = raw_encode(p, i, type, req);
		if (len < 0)
			return -1;
		ssize_t rc;
		while ((rc = fi_send(p->fab->ep, p->msg[i], (size_t)len, NULL, p->server, &sctx)) ==
		       -FI_EAGAIN)
			if (fi_cq_read(p->fab->cq, &e, 1) == 1 &&
			    raw_answer(p, &e, expect, &answers, a) < 0)
				return -1;
		if (rc != 0)
			return -1;
		a->sent++;
	}
	for (uint64_t until = npmu__now_ms() + (uint64_t)quiet_ms;
	     answers < n && npmu__now_ms() < until;) {
		int rc = fi_cq_read(p->fab->cq, &e, 1) == 1 ? raw_answer(p, &e, expect, &answers, a)
							     : 0;
		if (rc < 0)
			return -1;
		if (rc == 1)
			until = npmu__now_ms() + (uint64_t)quiet_ms;
	}
	return 0;
}
