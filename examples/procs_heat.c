/* procs_heat.c -- mpi_heat.c's job without MPI: N forked processes share the grid in shared
 * memory, meet at a process-shared barrier, and checkpoint into an npmu dataset as the MPI
 * ranks do (each process puts its rows as its part; one commits once all succeeded). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <npmu.h>

#include "heat.h"

/*
 * What the processes share (one anonymous shared mapping, made before the fork): a barrier,
 * a slot per process for reductions, what the first process found to restart from, and the
 * grid twice (Jacobi reads one and writes the other). Each grid has a spare row above and
 * below, so global row g is grid row g + 1 and every process's rows have their halos in place.
 */
struct job {
	pthread_barrier_t barrier;
	uint32_t nprocs;
	int rc[NPMU_DATASET_PARTS_MAX];
	struct npmu_dataset_version last;
	double *grid[2];
};

/* worst -- every process's rc in, the worst (lowest) out: an MPI_Allreduce(MIN) of our own. */
static int worst(struct job *job, uint32_t me, int rc)
{
	job->rc[me] = rc;
	pthread_barrier_wait(&job->barrier);
	int w = 0;
	for (uint32_t i = 0; i < job->nprocs; i++)
		w = job->rc[i] < w ? job->rc[i] : w;
	pthread_barrier_wait(&job->barrier); /* nobody writes its slot again before all read */
	return w;
}

/* open_dataset -- process 0 opens the dataset or creates it (as mpi_heat.c), then the others. */
static int open_dataset(struct job *job, uint32_t me, struct npmu_conn *conn,
			const struct heat_options *o, struct npmu_dataset **ds)
{
	struct npmu_dataset_cfg cfg = {.parts = job->nprocs};
	int rc = 0;
	if (me == 0) {
		struct npmu_dataset *existing;
		rc = npmu_dataset_open(conn, o->dataset, NULL, &existing);
		if (rc == 0) {
			npmu_dataset_close(&existing);
		} else if (rc == NPMU_E_NOENT) {
			uint32_t most_rows = heat_first_row(o->rows, 1, o->min_ranks) + 1;
			cfg.k = 4, cfg.m = 2;
			cfg.capacity = (uint64_t)most_rows * o->cols * sizeof(double);
			rc = 0;
		}
		if (rc == 0)
			rc = npmu_dataset_open(conn, o->dataset, &cfg, ds);
		if (rc != 0)
			fprintf(stderr, "procs_heat: opening dataset %s: %s\n", o->dataset,
				npmu_strerror(rc));
	}
	if ((rc = worst(job, me, rc)) != 0)
		return rc;
	if (me != 0 && (rc = npmu_dataset_open(conn, o->dataset, &cfg, ds)) != 0)
		fprintf(stderr, "procs_heat: process %" PRIu32 ": opening dataset %s: %s\n", me,
			o->dataset, npmu_strerror(rc));
	if (rc == 0)
		rc = heat_stage(*ds, o, "procs_heat");
	return worst(job, me, rc);
}

/* restart -- from the newest complete version, if any: our rows into the grid, the iteration
 * and the next version to put. */
static int restart(struct job *job, uint32_t me, struct npmu_dataset *ds,
		   const struct heat_options *o, uint32_t first, uint32_t count, uint64_t *iteration,
		   uint64_t *next_version)
{
	int rc = 0;
	if (me == 0) {
		job->last = (struct npmu_dataset_version){0};
		rc = npmu_dataset_latest(ds, &job->last);
		if (rc == NPMU_E_NOENT)
			rc = 0;
		else if (rc != 0)
			fprintf(stderr, "procs_heat: the newest complete version of %s: %s\n",
				o->dataset, npmu_strerror(rc));
	}
	if ((rc = worst(job, me, rc)) != 0)
		return rc;
	struct npmu_dataset_version last = job->last;
	*iteration = 0;
	*next_version = last.version + 1;
	if (last.version == 0) {
		if (me == 0)
			printf("procs_heat: no complete checkpoint in %s: starting at iteration 0\n",
			       o->dataset);
		return 0;
	}
	char who[64];
	snprintf(who, sizeof(who), "procs_heat: process %" PRIu32, me);
	double *rows = job->grid[0] + (size_t)(first + 1) * o->cols;
	rc = worst(job, me, heat_restore(ds, &last, o->rows, o->cols, first, count, rows, who));
	if (rc == 0 && me == 0)
		printf("procs_heat: resuming from version %" PRIu64 " (iteration %" PRIu64
		       ", written by %" PRIu32 " processes)\n",
		       last.version, last.label, last.parts);
	*iteration = last.label;
	return rc;
}

/* checkpoint -- as mpi_heat.c: every process puts its rows, process 0 commits once all did. */
static void checkpoint(struct job *job, uint32_t me, struct npmu_dataset *ds, uint64_t version,
		       uint64_t iteration, const double *rows, uint64_t bytes)
{
	heat_test_hook(HEAT_BEFORE_PUT, iteration, version, me, job->nprocs, 0);
	int rc = npmu_dataset_put(ds, version, me, rows, bytes);
	heat_test_hook(HEAT_AFTER_PUT, iteration, version, me, job->nprocs, rc);
	if (rc != 0)
		fprintf(stderr, "procs_heat: process %" PRIu32 ": putting part %" PRIu32
			" of version %" PRIu64 ": %s\n", me, me, version, npmu_strerror(rc));
	if (worst(job, me, rc) != 0) {
		if (me == 0)
			fprintf(stderr, "procs_heat: checkpoint of iteration %" PRIu64 " not "
				"committed (a put failed); going on\n", iteration);
		return;
	}
	if (me != 0)
		return;
	if ((rc = npmu_dataset_commit(ds, version, iteration)) != 0)
		fprintf(stderr, "procs_heat: committing version %" PRIu64 " (iteration %" PRIu64
			"): %s; going on\n", version, iteration, npmu_strerror(rc));
	else
		printf("procs_heat: checkpoint version %" PRIu64 ": iteration %" PRIu64 "\n",
		       version, iteration);
	fflush(stdout);
}

/* write_grid -- (process 0) the whole grid to o->out, and its checksum. */
static int write_grid(const struct heat_options *o, const double *grid)
{
	size_t cells = (size_t)o->rows * o->cols;
	FILE *f = fopen(o->out, "wb");
	if (f == NULL || fwrite(grid, sizeof(double), cells, f) != cells || fclose(f) != 0) {
		perror(o->out);
		return -1;
	}
	printf("procs_heat: final grid in %s (%" PRIu32 " x %" PRIu32 " doubles), checksum %016"
	       PRIx64 "\n", o->out, o->rows, o->cols, heat_checksum(grid, cells));
	return 0;
}

/* worker -- process `me` of the job, from connecting to the final grid; its exit status. */
static int worker(struct job *job, uint32_t me, const struct heat_options *o)
{
	uint32_t first = heat_first_row(o->rows, me, job->nprocs);
	uint32_t count = heat_first_row(o->rows, me + 1, job->nprocs) - first;
	const uint64_t bytes = (uint64_t)count * o->cols * sizeof(double);
	struct npmu_conn *conn = NULL; /* after the fork: each process has its own connection */
	struct npmu_dataset *ds = NULL;
	uint64_t it = 0, version = 1;
	int rc = npmu_conn_new(&(struct npmu_conn_cfg){.server = o->server}, &conn);
	if (rc != 0)
		fprintf(stderr, "procs_heat: process %" PRIu32 ": connecting to %s: %s\n", me,
			o->server ? o->server : getenv("NPMU_SERVER") ? getenv("NPMU_SERVER")
								       : "the default server",
			npmu_strerror(rc));
	heat_init(job->grid[0] + (size_t)(first + 1) * o->cols, first, count, o->rows, o->cols);
	heat_init(job->grid[1] + (size_t)(first + 1) * o->cols, first, count, o->rows, o->cols);
	if ((rc = worst(job, me, rc)) == 0 && (rc = open_dataset(job, me, conn, o, &ds)) == 0)
		rc = restart(job, me, ds, o, first, count, &it, &version);
	if (rc == 0 && me == 0)
		printf("procs_heat: %" PRIu32 " processes, %" PRIu32 " x %" PRIu32
		       " grid, iterations %" PRIu64 "..%" PRIu64 ", a checkpoint every %" PRIu64 "\n",
		       job->nprocs, o->rows, o->cols, it, o->iters, o->every);
	fflush(stdout);

	int cur = 0;
	while (rc == 0 && it < o->iters) {
		pthread_barrier_wait(&job->barrier); /* every process's rows of grid[cur] are done */
		heat_step(job->grid[cur] + (size_t)first * o->cols,
			  job->grid[!cur] + (size_t)first * o->cols, first, count, o->rows, o->cols);
		cur = !cur;
		it++;
		if (o->every != 0 && it % o->every == 0)
			checkpoint(job, me, ds, version++, it,
				   job->grid[cur] + (size_t)(first + 1) * o->cols, bytes);
	}
	if (rc == 0)
		pthread_barrier_wait(&job->barrier);
	if (rc == 0 && me == 0)
		rc = write_grid(o, job->grid[cur] + o->cols);
	npmu_dataset_close(&ds);
	npmu_conn_delete(&conn);
	return rc == 0 ? 0 : 1;
}

/* share -- the job's shared memory, its barrier set for processes. */
static struct job *share(uint32_t nprocs, const struct heat_options *o)
{
	size_t grid_bytes = (size_t)(o->rows + 2) * o->cols * sizeof(double);
	struct job *job = mmap(NULL, sizeof(*job) + 2 * grid_bytes, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (job == MAP_FAILED)
		return NULL;
	pthread_barrierattr_t attr;
	pthread_barrierattr_init(&attr);
	pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&job->barrier, &attr, nprocs);
	pthread_barrierattr_destroy(&attr);
	job->nprocs = nprocs;
	job->grid[0] = (double *)(job + 1);
	job->grid[1] = (double *)((char *)job->grid[0] + grid_bytes);
	return job;
}

int main(int argc, char **argv)
{
	static const char synopsis[] = "procs_heat NPROCS [options]";
	char *end;
	unsigned long n = argc > 1 ? strtoul(argv[1], &end, 10) : 0;
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		struct heat_options o;
		return heat_parse_options(argc, argv, "procs_heat", synopsis, 1, 0, &o) == 1 ? 0 : 2;
	}
	if (argc < 2 || *end != '\0' || n < 1 || n > NPMU_DATASET_PARTS_MAX) {
		fprintf(stderr, "procs_heat: the first argument is the number of processes, 1..%d "
			"(usage: %s; --help)\n", NPMU_DATASET_PARTS_MAX, synopsis);
		return 2;
	}
	struct heat_options o;
	int rc = heat_parse_options(argc - 1, argv + 1, "procs_heat", synopsis, (uint32_t)n, 0, &o);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	struct job *job = share((uint32_t)n, &o);
	if (job == NULL) {
		perror("procs_heat: shared memory for the grid");
		return 1;
	}

	pid_t *pids = calloc(n, sizeof(pid_t));
	if (pids == NULL) {
		perror("procs_heat");
		return 1;
	}
	for (uint32_t i = 0; i < n; i++) {
		if ((pids[i] = fork()) == 0) {
			int code = worker(job, i, &o);
			fflush(stdout);
			_exit(code);
		}
		if (pids[i] < 0) {
			perror("procs_heat: fork");
			n = i;
			rc = 1;
			break;
		}
	}
	/* like mpirun: once a process fails, the others, waiting for it at the barrier, are ended */
	for (uint32_t left = (uint32_t)n; left > 0; left--) {
		int status;
		pid_t p = wait(&status);
		if (p < 0 && errno == EINTR) {
			left++;
			continue;
		}
		if (p < 0)
			break;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		if (rc == 0)
			fprintf(stderr, "procs_heat: a process %s %d: ending the others\n",
				WIFEXITED(status) ? "exited with" : "was killed by signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		rc = 1;
		for (uint32_t i = 0; i < n; i++)
			if (pids[i] != p)
				kill(pids[i], SIGKILL);
	}
	free(pids);
	return rc == 0 ? 0 : 1;
}
