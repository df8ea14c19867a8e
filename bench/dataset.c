/* dataset.c -- PROCS processes checkpointing into one dataset (4+2 on six units) next to the
 * same processes writing single regions: aggregate put (persistent, placed, and staged with an
 * encoder protecting the parts), restore, and each process's memory above its own data. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define PROCS 4
#define PART_LEN (64ull << 20)
#define DS_NAME "bench.ds"
#define WARM_ROUNDS 4

/* self_kib -- a field of /proc/self/status, KiB. */
static double self_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	double v = 0;
	size_t n = strlen(field);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = atof(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

/* A worker's handles: its dataset (one handle per durability) and its single regions, one per
 * durability (as the dataset's persistent and placed versions lie in slots of their own: a
 * region written persistently is rewritten after its flush, one written placed while dirty). */
struct worker {
	struct npmu_conn *conn;
	struct npmu_dataset *ds; /* at the durability of the last "mode" */
	struct npmu_region *r[2]; /* persistent, placed */
	uint32_t rank;
	uint8_t *data, *back;
};

/* worker_mode -- the dataset opened again at durability d (a job uses one durability; a
 * handle keeps the parts it puts, and their leases, until closed); staged: its puts staged
 * (placed, each part's staging where pmmd places it), protected persistently by the encoder. */
static int worker_mode(struct worker *w, enum npmu_durability d, bool staged)
{
	npmu_dataset_close(&w->ds);
	struct npmu_dataset_cfg dc = {.parts = PROCS, .k = 4, .m = 2, .keep = 1, .durability = d};
	int rc = npmu_dataset_open(w->conn, DS_NAME, &dc, &w->ds);
	return rc == 0 && staged ? npmu_dataset_stage(w->ds, NULL) : rc;
}

/* worker_cmd -- one command from the parent; the reply line ("ok" and a figure, or "err"). */
static void worker_cmd(struct worker *w, const char *cmd)
{
	unsigned long long v = 0;
	char kind[16] = "";
	int rc = 0;
	double fig = 0;
	if (sscanf(cmd, "mode %15s", kind) == 1) {
		rc = worker_mode(w, strcmp(kind, "placed") ? NPMU_PERSISTENT : NPMU_PLACED,
				 !strcmp(kind, "staged"));
	} else if (sscanf(cmd, "put %llu", &v) == 1) {
		rc = npmu_dataset_put(w->ds, v, w->rank, w->data, PART_LEN);
	} else if (sscanf(cmd, "get %llu", &v) == 1) {
		rc = npmu_dataset_read(w->ds, v, w->rank, 0, w->back, PART_LEN);
		if (rc == 0 && memcmp(w->back, w->data, PART_LEN) != 0)
			rc = NPMU_E_CORRUPT;
	} else if (sscanf(cmd, "rput %15s", kind) == 1) {
		struct npmu_iov iov = {0, w->data, PART_LEN};
		bool placed = !strcmp(kind, "placed");
		rc = npmu_region_put(w->r[placed], &iov, 1, placed ? NPMU_PLACED : NPMU_PERSISTENT);
	} else if (!strncmp(cmd, "rget", 4)) {
		rc = npmu_region_read(w->r[1], 0, w->back, PART_LEN);
	} else if (!strncmp(cmd, "mem", 3)) {
		fig = self_kib("VmHWM") / 1024.0 - 2.0 * (double)PART_LEN / (1 << 20);
	}
	if (rc == 0)
		printf("ok %.3f\n", fig);
	else
		printf("err %d\n", rc);
	fflush(stdout);
}

/* region_name -- the single region of worker `rank` written at durability `placed` or not. */
static void region_name(int rank, int placed, char out[64])
{
	snprintf(out, 64, DS_NAME ".r%d%s", rank, placed ? "p" : "");
}

/*
 * ds_worker_main -- (child) npmu_bench --ds-worker PMMD RANK: open the dataset
 * (PROCS parts) and regions bench.ds.rRANK and bench.ds.rRANKp, then answer the parent's
 * commands on stdin, one line each.
 */
int ds_worker_main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	struct worker w = {.rank = (uint32_t)atoi(argv[3])};
	w.data = malloc(PART_LEN);
	w.back = malloc(PART_LEN);
	if (!w.data || !w.back)
		return 1;
	for (uint64_t i = 0; i < PART_LEN; i += 8)
		*(uint64_t *)(w.data + i) = (i + w.rank) * 0x9e3779b97f4a7c15ull;
	memset(w.back, 0, PART_LEN); /* touched: restores measure the wire, not page faults */
	struct npmu_conn_cfg cc = {.server = argv[2]};
	int rc = npmu_conn_new(&cc, &w.conn);
	if (rc == 0)
		rc = worker_mode(&w, NPMU_PERSISTENT, false);
	for (int p = 0; p < 2 && rc == 0; p++) {
		char rn[64];
		region_name((int)w.rank, p, rn);
		rc = npmu_region_open(w.conn, rn, NPMU_ACCESS_READ_WRITE, &w.r[p]);
	}
	printf(rc == 0 ? "ready\n" : "err %d\n", rc);
	fflush(stdout);
	char line[128];
	while (rc == 0 && fgets(line, sizeof(line), stdin) && strncmp(line, "quit", 4))
		worker_cmd(&w, line);
	npmu_region_close(&w.r[0]);
	npmu_region_close(&w.r[1]);
	npmu_dataset_close(&w.ds);
	npmu_conn_delete(&w.conn);
	return rc == 0 ? 0 : 1;
}

/* A worker as the parent holds it. */
struct child {
	pid_t pid;
	FILE *to, *from;
};

/* start -- worker `rank` as a child process talked to through pipes; its "ready" awaited. */
static void start(const struct bench_env *env, int rank, struct child *ch)
{
	int in[2], out[2];
	if (pipe(in) != 0 || pipe(out) != 0)
		bail("pipe", NPMU_E_INTERNAL);
	fflush(stdout);
	if ((ch->pid = fork()) == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		char r[16];
		snprintf(r, sizeof(r), "%d", rank);
		execl(env->self, env->self, "--ds-worker", env->pmmd, r, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	ch->to = fdopen(in[1], "w");
	ch->from = fdopen(out[0], "r");
	char line[64];
	if (!ch->to || !ch->from || !fgets(line, sizeof(line), ch->from) || strncmp(line, "ready", 5))
		bail("dataset worker", NPMU_E_INTERNAL);
}

/* all -- send cmd to every worker at once, wait for every answer: seconds from the send to the
 * last answer; each worker's figure into figs (may be NULL). */
static double all(struct child *ch, const char *cmd, double *figs)
{
	uint64_t t = now_ns();
	for (int i = 0; i < PROCS; i++) {
		fprintf(ch[i].to, "%s\n", cmd);
		fflush(ch[i].to);
	}
	for (int i = 0; i < PROCS; i++) {
		char line[64];
		if (!fgets(line, sizeof(line), ch[i].from) || strncmp(line, "ok", 2)) {
			fprintf(stderr, "bench: dataset worker %d, \"%s\": %s", i, cmd, line);
			bail("dataset worker", NPMU_E_INTERNAL);
		}
		if (figs)
			figs[i] = atof(line + 3);
	}
	return (double)(now_ns() - t) / 1e9;
}

/* Figures of the section, in MiB/s (aggregate over the processes) and MiB; put[2]: staged
 * (until committed), protected: until the encoder protected every part. */
struct ds_runs {
	struct samples put[3], rput[2], get, rget, mem, protected;
};

/* one_round -- a version put in mode `mode` (0 persistent, 1 placed, 2 staged) and committed
 * (and the single regions written the same way); after a placed one, the newest restored (and
 * the regions read); after a staged one, the time until the encoder protected it. */
static void one_round(struct npmu_dataset *coord, struct child *ch, uint64_t *version, int mode,
		      struct ds_runs *r)
{
	double mib = (double)PROCS * PART_LEN / (1 << 20);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "put %llu", (unsigned long long)++*version);
	uint64_t t = now_ns();
	all(ch, cmd, NULL);
	int rc = npmu_dataset_commit(coord, *version, *version);
	if (rc != 0)
		bail("dataset commit", rc);
	samples_add(&r->put[mode], mib / ((double)(now_ns() - t) / 1e9));
	if (mode == 2) {
		if ((rc = npmu_dataset_wait(coord, *version, 120000)) != 0)
			bail("waiting for the encoder (npmu-encoder --set bench.ds.pP)", rc);
		samples_add(&r->protected, mib / ((double)(now_ns() - t) / 1e9));
		return;
	}
	int placed = mode;
	samples_add(&r->rput[placed], mib / all(ch, placed ? "rput placed" : "rput persistent", NULL));
	if (!placed)
		return;
	snprintf(cmd, sizeof(cmd), "get %llu", (unsigned long long)*version);
	samples_add(&r->get, mib / all(ch, cmd, NULL));
	samples_add(&r->rget, mib / all(ch, "rget", NULL));
}

/* ds_runs_free -- free the samples. */
static void ds_runs_free(struct ds_runs *r)
{
	for (int p = 0; p < 2; p++)
		samples_free(&r->rput[p]);
	for (int p = 0; p < 3; p++)
		samples_free(&r->put[p]);
	samples_free(&r->protected);
	samples_free(&r->get);
	samples_free(&r->rget);
	samples_free(&r->mem);
}

/* report -- the section. */
static void report(struct ds_runs *r, int rounds)
{
	report_section("4 processes checkpointing 64 MiB each: a 4+2 dataset on six units next to "
		       "single regions", NULL);
	for (int p = 0; p < 2; p++) {
		report_figure(p ? "put and commit, placed" : "put and commit, persistent", "MiB/s",
			      stat_of(&r->put[p]));
		report_baseline(p ? "single regions, placed" : "single regions, persistent",
				stat_of(&r->rput[p]), GOAL_AT_LEAST, 0.70);
	}
	if (r->put[2].n) {
		report_figure("put and commit, staged (placed staging)", "MiB/s", stat_of(&r->put[2]));
		report_baseline("single regions, placed", stat_of(&r->rput[1]), GOAL_NONE, 0);
		report_figure("...until protected by npmu-encoder", "MiB/s", stat_of(&r->protected));
		report_baseline("put and commit, persistent", stat_of(&r->put[0]), GOAL_NONE, 0);
	}
	report_figure("restore of the newest complete version", "MiB/s", stat_of(&r->get));
	report_baseline("single regions", stat_of(&r->rget), GOAL_AT_LEAST, 0.70);
	report_figure("a process's peak memory above its data", "MiB", stat_of(&r->mem));
	report_baseline("64 MiB", (struct stat3){64, 64, 64, 1}, GOAL_AT_MOST, 1.0);
	report_note("%d rounds of each durability, persistent first, each after %d rounds of "
		    "warm-up (every slot of a part written once) by processes that keep their "
		    "handles open; aggregate over the %d processes, from telling them all to start "
		    "to the last one done (a dataset's puts: until the version is committed, by "
		    "this process, after every put returned); each part 64 MiB, k=4 m=2 over six "
		    "units (1.5x the bytes on the wire); each process's single regions (one written "
		    "persistently, one placed, as the dataset's versions of each kind have slots of "
		    "their own) placed by pmmd; restores (after the placed rounds) read into memory "
		    "already touched; memory: peak RSS minus the two 64 MiB buffers each process "
		    "holds; staged (last): each part written once to its staging region, placed "
		    "by pmmd (npmu_dataset_stage), the version committed at once, then protected "
		    "(persistent, 4+2) by one npmu-encoder; all on this machine's two cores",
		    rounds, WARM_ROUNDS, PROCS);
}

/* bench_dataset -- the section: PROCS worker processes, this one committing. */
void bench_dataset(const struct bench_env *env)
{
	struct npmu_conn_cfg cc = {.server = env->pmmd};
	struct npmu_conn *conn;
	int rc = npmu_conn_new(&cc, &conn);
	if (rc != 0)
		bail("connect to pmmd", rc);
	struct npmu_dataset_cfg dc = {.parts = PROCS, .k = 4, .m = 2, .keep = 1};
	struct npmu_dataset *coord;
	if ((rc = npmu_dataset_open(conn, DS_NAME, &dc, &coord)) != 0)
		bail("dataset open", rc);
	for (int i = 0; i < 2 * PROCS; i++) {
		char rn[64];
		region_name(i / 2, i % 2, rn);
		if ((rc = npmu_region_create(conn, rn, PART_LEN, NULL)) != 0)
			bail("create a single region", rc);
	}
	struct child ch[PROCS];
	for (int i = 0; i < PROCS; i++)
		start(env, i, &ch[i]);
	struct ds_runs r = {0};
	uint64_t version = 0;
	int rounds = env->quick ? 1 : 3;
	/* persistent puts, then placed ones, each by a job that keeps its handles open; warm-up:
	 * the first rounds of each write every slot of the parts once (a part cycles through
	 * keep + pins + 2 = 4 slots), as the single regions' pages are written once by theirs */
	static const char *const modes[] = {"mode persistent", "mode placed", "mode staged"};
	for (int mode = 0; mode < (env->stage_unit ? 3 : 2); mode++) { /* (staged: an encoder runs) */
		all(ch, modes[mode], NULL);
		for (int i = 0; i < rounds + WARM_ROUNDS; i++) {
			struct ds_runs warm = {0};
			one_round(coord, ch, &version, mode, i >= WARM_ROUNDS ? &r : &warm);
			ds_runs_free(&warm);
		}
	}
	double mem[PROCS];
	all(ch, "mem", mem);
	for (int i = 0; i < PROCS; i++)
		samples_add(&r.mem, mem[i]);
	for (int i = 0; i < PROCS; i++) {
		fprintf(ch[i].to, "quit\n");
		fclose(ch[i].to);
		fclose(ch[i].from);
		waitpid(ch[i].pid, NULL, 0);
	}
	report(&r, rounds);
	ds_runs_free(&r);
	npmu_dataset_close(&coord);
	if ((rc = npmu_dataset_delete(conn, DS_NAME)) != 0)
		fprintf(stderr, "bench: deleting the dataset: %s\n", npmu_strerror(rc));
	for (int i = 0; i < 2 * PROCS; i++) {
		char rn[64];
		region_name(i / 2, i % 2, rn);
		npmu_region_delete(conn, rn);
	}
	npmu_conn_delete(&conn);
}
