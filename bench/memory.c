/* memory.c -- what npmu costs in memory (RSS): per extra connection at a client and at a unit, an
 * idle unit, a client holding a striped set on six units and pmmd over those units through a
 * run; each next to the same processes on libfabric's default pools. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "bench.h"

#define EXTRA_CONNS 8      /* connections opened past the first */
#define REQUESTS 50000     /* round trips on one connection: rxm's completion ring wraps */
#define SET_LEN (8u << 20) /* the striped set's checkpoint */
#define SET_ROUNDS 12      /* its puts and restores by npmu's client (pmmd through a run) */
#define SET_ROUNDS_BASE 2  /* ...by the baseline's client */

/* The baseline's environment: libfabric 1.17's own rxm buffer size and universe size, which
 * npmu sets lower (fabric.c); npmu leaves a value it finds in the environment as it is. */
static char *const defaults_env[] = {"FI_OFI_RXM_BUFFER_SIZE=16384", "FI_UNIVERSE_SIZE=1024",
				     NULL};

/* A child process of this benchmark, talked to line by line. */
struct child {
	pid_t pid;
	FILE *out; /* its stdout */
	int in;    /* its stdin: a line lets it go on */
};

/* status_kib -- a field of /proc/PID/status in KiB (pid 0: this process); -1 if unknown. */
static long status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), pid ? "/proc/%d/status" : "/proc/self/status", (int)pid);
	FILE *f = fopen(path, "r");
	long v = -1;
	size_t n = strlen(field);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

/* rss_mib -- a process's resident set, MiB (pid 0: this one). */
static double rss_mib(pid_t pid)
{
	return status_kib(pid, "VmRSS") / 1024.0;
}

/* tell -- (child) one line of figures to the parent, then wait for its go (a line on stdin). */
static void tell(const char *fmt, double a, double b)
{
	printf(fmt, a, b);
	fflush(stdout);
	char line[8];
	if (!fgets(line, sizeof(line), stdin))
		exit(3);
}

/* greet -- n round trips (HELLO) on c. */
static int greet(struct npmu_conn *c, int n)
{
	int rc = 0;
	pthread_mutex_lock(&c->rpc.lock);
	for (int i = 0; i < n && rc == 0; i++) {
		struct npmu__request req = {0};
		const uint8_t *body;
		size_t blen;
		rc = npmu__rpc_call(&c->rpc, NPMU_MSG_HELLO, &req, &body, &blen, 5000);
	}
	pthread_mutex_unlock(&c->rpc.lock);
	return rc;
}

/*
 * mem_client_main -- (child) npmu_bench --mem-client SERVER: its RSS after one connection to
 * SERVER, after EXTRA_CONNS more, and after REQUESTS round trips on the first; it waits for the
 * parent's go after each (the parent reads the unit's RSS meanwhile).
 */
int mem_client_main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	struct npmu_conn_cfg cfg = {.server = argv[2]};
	struct npmu_conn *c[1 + EXTRA_CONNS];
	for (int i = 0; i < 1 + EXTRA_CONNS; i++) {
		if (npmu_conn_new(&cfg, &c[i]) != 0)
			return 1;
		if (i == 0 || i == EXTRA_CONNS)
			tell("conns %.3f %.0f\n", rss_mib(0), i + 1);
	}
	if (greet(c[0], REQUESTS) != 0)
		return 1;
	tell("requests %.3f %.0f\n", rss_mib(0), REQUESTS);
	for (int i = 0; i < 1 + EXTRA_CONNS; i++)
		npmu_conn_delete(&c[i]);
	return 0;
}

/*
 * mem_set_main -- (child) npmu_bench --mem-set PMMD NAME ROUNDS PMMD_PID: hold a checkpoint of
 * SET_LEN bytes; put it as striped set NAME through pmmd and restore it, ROUNDS times. Tells its
 * RSS above the data it holds, and pmmd's RSS, after the first round and after the last; then
 * its peak above the data, and deletes the set.
 */
int mem_set_main(int argc, char **argv)
{
	if (argc != 6)
		return 2;
	int rounds = atoi(argv[4]);
	pid_t pmmd = (pid_t)atoi(argv[5]);
	uint8_t *data = malloc(SET_LEN);
	if (!data)
		return 1;
	for (uint64_t i = 0; i < SET_LEN; i += 8)
		*(uint64_t *)(data + i) = i * 0x9e3779b97f4a7c15ull;
	double own = rss_mib(0);
	struct npmu_conn_cfg cfg = {.server = argv[2]};
	struct npmu_conn *conn;
	struct npmu_stripe_cfg sc = {.k = 4, .m = 2};
	if (npmu_conn_new(&cfg, &conn) != 0)
		return 1;
	for (int r = 1; r <= rounds; r++) {
		void *got;
		uint64_t glen;
		if (npmu_stripe_put(conn, argv[3], data, SET_LEN, &sc, NULL, NULL, NULL) != 0 ||
		    npmu_stripe_get(conn, argv[3], 0, &got, &glen, NULL, NULL, NULL) != 0 ||
		    glen != SET_LEN || memcmp(got, data, SET_LEN) != 0)
			return 1;
		free(got);
		if (r == 1 || r == rounds)
			tell("set %.3f %.3f\n", rss_mib(0) - own, pmmd > 0 ? rss_mib(pmmd) : 0);
	}
	tell("peak %.3f %.0f\n", status_kib(0, "VmHWM") / 1024.0 - own, 0);
	for (int i = 0; i < 6; i++) {
		char rn[64];
		snprintf(rn, sizeof(rn), "%s.s%d", argv[3], i);
		npmu_region_delete(conn, rn);
	}
	npmu_conn_delete(&conn);
	free(data);
	return 0;
}

/* spawn -- start this benchmark as `args` (NULL-terminated, after the program), talked to
 * through pipes; with libfabric's default pools when base. */
static void spawn(const struct bench_env *env, const char *const *args, bool base,
		  struct child *ch)
{
	int in[2], out[2];
	if (pipe(in) != 0 || pipe(out) != 0)
		bail("pipe", NPMU_E_INTERNAL);
	fflush(stdout);
	ch->pid = fork();
	if (ch->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		for (int i = 0; base && defaults_env[i]; i++)
			putenv(defaults_env[i]);
		char *argv[8] = {(char *)env->self};
		for (int i = 0; args[i] && i < 6; i++)
			argv[i + 1] = (char *)args[i];
		execv(env->self, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	ch->in = in[1];
	ch->out = fdopen(out[0], "r");
	if (ch->pid < 0 || !ch->out)
		bail("fork", NPMU_E_INTERNAL);
}

/* hear -- the child's next line, "WHAT a b", as a and b; bails if it stopped. */
static void hear(struct child *ch, const char *what, double *a, double *b)
{
	char line[256], word[32];
	if (!fgets(line, sizeof(line), ch->out) || sscanf(line, "%31s %lf %lf", word, a, b) != 3 ||
	    strcmp(word, what) != 0)
		bail("memory: a child process failed", NPMU_E_INTERNAL);
}

/* go -- let the child go on. */
static void go(struct child *ch)
{
	if (write(ch->in, "\n", 1) != 1)
		bail("memory: a child process is gone", NPMU_E_INTERNAL);
}

/* reap -- wait for the child's end; bails unless it succeeded. */
static void reap(struct child *ch)
{
	int st = 0;
	close(ch->in);
	fclose(ch->out);
	if (waitpid(ch->pid, &st, 0) != ch->pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bail("memory: a child process failed", NPMU_E_INTERNAL);
}

/* start_unit -- a fresh npmud of its own (beside this benchmark's npmu_bench), on libfabric's
 * default pools when base; its address in addr. */
static pid_t start_unit(const struct bench_env *env, bool base, char *addr, size_t len)
{
	char npmud[4096], pool[512], addr_file[512], log[512];
	snprintf(npmud, sizeof(npmud), "%s", env->self);
	for (int up = 0; up < 2; up++) /* BUILD/bench/npmu_bench -> BUILD/npmud */
		*strrchr(npmud, '/') = '\0';
	strncat(npmud, "/npmud", sizeof(npmud) - strlen(npmud) - 1);
	const char *tag = base ? "base" : "npmu";
	snprintf(pool, sizeof(pool), "%s/mem-%s.pool", env->dir, tag);
	snprintf(addr_file, sizeof(addr_file), "%s/mem-%s.addr", env->dir, tag);
	snprintf(log, sizeof(log), "%s/mem-%s.log", env->dir, tag);
	unlink(pool);
	unlink(addr_file);
	pid_t pid = fork();
	if (pid == 0) {
		freopen(log, "w", stderr);
		for (int i = 0; base && defaults_env[i]; i++)
			putenv(defaults_env[i]);
		execl(npmud, npmud, "--pool", pool, "--size", "64M", "--listen", "127.0.0.1:0",
		      "--addr-file", addr_file, "--spin-us", "0", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(addr_file, "r");
		bool got = f && fgets(addr, (int)len, f);
		if (f)
			fclose(f);
		if (got) {
			addr[strcspn(addr, "\n")] = '\0';
			usleep(300000); /* settled */
			return pid;
		}
		usleep(10000);
	}
	bail("memory: npmud did not start", NPMU_E_INTERNAL);
	return -1;
}

/* What connections cost, from one fresh unit and one client of it. */
struct conn_cost {
	struct samples idle_unit, per_conn_client, per_conn_unit, growth_client, growth_unit;
};

/* connections -- a fresh unit idle; a client's connections to it, one and then EXTRA_CONNS
 * more, both ends' RSS after each; then both ends' growth over REQUESTS round trips. */
static void connections(const struct bench_env *env, bool base, struct conn_cost *c)
{
	char addr[128];
	pid_t unit = start_unit(env, base, addr, sizeof(addr));
	samples_add(&c->idle_unit, rss_mib(unit));
	const char *args[] = {"--mem-client", addr, NULL};
	struct child ch;
	spawn(env, args, base, &ch);
	double c1, cn, cr, n;
	hear(&ch, "conns", &c1, &n);
	double u1 = rss_mib(unit);
	go(&ch);
	hear(&ch, "conns", &cn, &n);
	double un = rss_mib(unit);
	go(&ch);
	hear(&ch, "requests", &cr, &n);
	double ur = rss_mib(unit);
	go(&ch);
	reap(&ch);
	samples_add(&c->per_conn_client, (cn - c1) / EXTRA_CONNS);
	samples_add(&c->per_conn_unit, (un - u1) / EXTRA_CONNS);
	samples_add(&c->growth_client, cr - cn);
	samples_add(&c->growth_unit, ur - un);
	kill(unit, SIGTERM);
	waitpid(unit, NULL, 0);
}

/* What a client of a striped set costs, and pmmd serving it. */
struct set_cost {
	double client, peak, pmmd_first, pmmd_last;
};

/* striped_set -- a client process putting and restoring a striped set through pmmd. */
static void striped_set(const struct bench_env *env, bool base, struct set_cost *s)
{
	char rounds[16], pid[16];
	snprintf(rounds, sizeof(rounds), "%d", base ? SET_ROUNDS_BASE : SET_ROUNDS);
	snprintf(pid, sizeof(pid), "%d", (int)env->pmmd_pid);
	const char *args[] = {"--mem-set", env->pmmd, base ? "bench.mem.base" : "bench.mem.set",
			      rounds, pid, NULL};
	struct child ch;
	spawn(env, args, base, &ch);
	double x;
	hear(&ch, "set", &x, &s->pmmd_first);
	go(&ch);
	hear(&ch, "set", &s->client, &s->pmmd_last);
	go(&ch);
	hear(&ch, "peak", &s->peak, &x);
	go(&ch);
	reap(&ch);
}

/* figure -- a figure in MiB next to the same on libfabric's default pools, and its target (MiB,
 * at most; 0: none). */
static void figure(const char *name, struct samples *npmu, struct samples *base, double target)
{
	report_figure(name, "MiB", stat_of(npmu));
	report_baseline("libfabric's pools", stat_of(base), GOAL_NONE, 0);
	if (target > 0) {
		struct stat3 t = {.med = target, .lo = target, .hi = target, .n = 1};
		report_baseline("target", t, GOAL_AT_MOST, 1.0);
	}
}

/* one -- a single value as samples. */
static struct samples one(double v)
{
	struct samples s = {0};
	samples_add(&s, v);
	return s;
}

/* report_sets -- the striped set's client and pmmd's RSS over the client's run. */
static void report_sets(const struct bench_env *env, struct set_cost *s, struct set_cost *b)
{
	struct samples sc = one(s->client), bc = one(b->client), sp = one(s->peak), bp = one(b->peak);
	figure("a striped set's client, above its data", &sc, &bc, 64);
	figure("...its peak above its data", &sp, &bp, 0);
	samples_free(&sc);
	samples_free(&bc);
	samples_free(&sp);
	samples_free(&bp);
	if (env->pmmd_pid <= 0)
		return;
	char name[64];
	snprintf(name, sizeof(name), "pmmd with 6 units, after %d set rounds", SET_ROUNDS);
	struct stat3 last = {.med = s->pmmd_last, .lo = s->pmmd_last, .hi = s->pmmd_last, .n = 1};
	struct stat3 first = {.med = s->pmmd_first, .lo = s->pmmd_first, .hi = s->pmmd_first, .n = 1};
	struct stat3 target = {.med = 64, .lo = 64, .hi = 64, .n = 1};
	report_figure(name, "MiB", last);
	report_baseline("after the first", first, GOAL_AT_MOST, 1.10);
	report_baseline("target", target, GOAL_AT_MOST, 1.0);
}

/* bench_memory -- RSS: connections at both ends, an idle unit, a striped set's client and pmmd;
 * each next to the same on libfabric's default pools (npmu's settings in fabric.c). */
void bench_memory(const struct bench_env *env)
{
	int reps = env->quick ? 1 : 2;
	struct conn_cost c[2] = {0}; /* npmu's settings, libfabric's defaults */
	struct set_cost s[2] = {0};
	for (int rep = 0; rep < reps; rep++)
		for (int base = 0; base < 2; base++)
			connections(env, base, &c[base]);
	for (int base = 0; base < 2; base++)
		striped_set(env, base, &s[base]);
	report_section("memory (RSS)", NULL);
	figure("per extra connection, at a client", &c[0].per_conn_client, &c[1].per_conn_client, 8);
	figure("per extra connection, at a unit", &c[0].per_conn_unit, &c[1].per_conn_unit, 8);
	figure("idle unit", &c[0].idle_unit, &c[1].idle_unit, 0);
	char name[64];
	snprintf(name, sizeof(name), "client's growth over %d requests", REQUESTS);
	figure(name, &c[0].growth_client, &c[1].growth_client, 0);
	figure("unit's growth over them", &c[0].growth_unit, &c[1].growth_unit, 0);
	report_sets(env, &s[0], &s[1]);
	report_note("VmRSS from /proc; per extra connection: %d connections (npmu_conn_new) opened "
		    "after a first one, by a client process of a fresh npmud, %d times; requests: "
		    "greetings on one connection; the set: %u MiB put (4+2) through pmmd and restored "
		    "%d times by a client process (baseline: %d), above what it held before "
		    "connecting; libfabric's pools: the same processes with FI_OFI_RXM_BUFFER_SIZE=16384 "
		    "and FI_UNIVERSE_SIZE=1024 (libfabric 1.17's defaults) in their environment; pmmd "
		    "runs with npmu's settings only", EXTRA_CONNS, reps, SET_LEN >> 20, SET_ROUNDS,
		    SET_ROUNDS_BASE);
	for (int k = 0; k < 2; k++) {
		samples_free(&c[k].idle_unit);
		samples_free(&c[k].per_conn_client);
		samples_free(&c[k].per_conn_unit);
		samples_free(&c[k].growth_client);
		samples_free(&c[k].growth_unit);
	}
}
