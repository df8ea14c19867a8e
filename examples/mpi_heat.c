/* mpi_heat.c -- 2-D heat diffusion (Jacobi) on MPI ranks, checkpointed every K iterations into
 * an npmu dataset; a restarted job, on any number of ranks, goes on from the newest complete
 * checkpoint and ends with the same grid, bit for bit, as a job that never failed. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>
#include <npmu.h>

#include "heat.h"

/* all_ok -- the worst (lowest) of every rank's return code: 0 when every rank succeeded. */
static int all_ok(int rc)
{
	int worst;
	MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
	return worst;
}

/* open_dataset -- rank 0 opens the dataset, creating it when it does not exist (4 + 2
 * Reed-Solomon over six units; room in each part for the rows of o->min_ranks ranks); then the
 * other ranks open it. Each will put part `rank` of versions of nranks parts. */
static int open_dataset(struct npmu_conn *conn, const struct heat_options *o, int rank, int nranks,
			struct npmu_dataset **ds)
{
	/* an existing dataset keeps its shape: only the number of parts this job puts */
	struct npmu_dataset_cfg cfg = {.parts = (uint32_t)nranks};
	int rc = 0;
	if (rank == 0) {
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
			fprintf(stderr, "mpi_heat: opening dataset %s: %s\n", o->dataset,
				npmu_strerror(rc));
	}
	MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
	if (rc != 0)
		return rc;
	if (rank != 0 && (rc = npmu_dataset_open(conn, o->dataset, &cfg, ds)) != 0)
		fprintf(stderr, "mpi_heat: rank %d: opening dataset %s: %s\n", rank, o->dataset,
			npmu_strerror(rc));
	if (rc == 0)
		rc = heat_stage(*ds, o, "mpi_heat");
	return all_ok(rc);
}

/* restart -- from the newest complete version, if any: this rank's rows into rows, and the
 * iteration and the next version to put. */
static int restart(struct npmu_dataset *ds, const struct heat_options *o, int rank, uint32_t first,
		   uint32_t count, double *rows, uint64_t *iteration, uint64_t *next_version)
{
	struct npmu_dataset_version last = {0};
	int rc = 0;
	if (rank == 0) { /* one rank asks; all use its answer */
		rc = npmu_dataset_latest(ds, &last);
		if (rc == NPMU_E_NOENT)
			rc = 0, last.version = 0;
		else if (rc != 0)
			fprintf(stderr, "mpi_heat: the newest complete version of %s: %s\n",
				o->dataset, npmu_strerror(rc));
	}
	MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
	MPI_Bcast(&last, sizeof(last), MPI_BYTE, 0, MPI_COMM_WORLD);
	if (rc != 0)
		return rc;
	*iteration = 0;
	*next_version = last.version + 1;
	if (last.version == 0) {
		if (rank == 0)
			printf("mpi_heat: no complete checkpoint in %s: starting at iteration 0\n",
			       o->dataset);
		return 0;
	}
	char who[64];
	snprintf(who, sizeof(who), "mpi_heat: rank %d", rank);
	rc = all_ok(heat_restore(ds, &last, o->rows, o->cols, first, count, rows, who));
	if (rc == 0 && rank == 0)
		printf("mpi_heat: resuming from version %" PRIu64 " (iteration %" PRIu64
		       ", written by %" PRIu32 " ranks)\n",
		       last.version, last.label, last.parts);
	*iteration = last.label;
	return rc;
}

/* exchange_halos -- send our first and last rows to the ranks above and below, receive theirs
 * into our halo rows (g: count rows with a halo row on each side). */
static void exchange_halos(double *g, uint32_t count, uint32_t cols, int rank, int nranks)
{
	int up = rank > 0 ? rank - 1 : MPI_PROC_NULL;
	int down = rank < nranks - 1 ? rank + 1 : MPI_PROC_NULL;
	MPI_Sendrecv(g + cols, (int)cols, MPI_DOUBLE, up, 0, g + (size_t)(count + 1) * cols,
		     (int)cols, MPI_DOUBLE, down, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	MPI_Sendrecv(g + (size_t)count * cols, (int)cols, MPI_DOUBLE, down, 1, g, (int)cols,
		     MPI_DOUBLE, up, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}

/* checkpoint -- every rank puts its rows as part `rank` of `version`; once all succeeded,
 * rank 0 commits the version with the iteration as its label. A failed checkpoint is said and
 * the job goes on (the newest complete version stays the previous one). */
static void checkpoint(struct npmu_dataset *ds, uint64_t version, uint64_t iteration,
		       const double *rows, uint64_t bytes, int rank, int nranks)
{
	heat_test_hook(HEAT_BEFORE_PUT, iteration, version, rank, nranks, 0);
	int rc = npmu_dataset_put(ds, version, (uint32_t)rank, rows, bytes);
	heat_test_hook(HEAT_AFTER_PUT, iteration, version, rank, nranks, rc);
	if (rc != 0)
		fprintf(stderr, "mpi_heat: rank %d: putting part %d of version %" PRIu64 ": %s\n",
			rank, rank, version, npmu_strerror(rc));
	if (all_ok(rc) != 0) {
		if (rank == 0)
			fprintf(stderr, "mpi_heat: checkpoint of iteration %" PRIu64 " not committed "
				"(a put failed); going on\n", iteration);
		return;
	}
	if (rank != 0)
		return;
	if ((rc = npmu_dataset_commit(ds, version, iteration)) != 0)
		fprintf(stderr, "mpi_heat: committing version %" PRIu64 " (iteration %" PRIu64
			"): %s; going on\n", version, iteration, npmu_strerror(rc));
	else
		printf("mpi_heat: checkpoint version %" PRIu64 ": iteration %" PRIu64 "\n", version,
		       iteration);
	fflush(stdout);
}

/* write_grid -- gather every rank's rows on rank 0 and write them to o->out. */
static int write_grid(const struct heat_options *o, const double *rows, int rank, int nranks)
{
	uint32_t first = heat_first_row(o->rows, rank, nranks);
	uint32_t count = heat_first_row(o->rows, rank + 1, nranks) - first;
	int *counts = NULL, *displs = NULL, rc = 0;
	double *grid = NULL;
	size_t cells = (size_t)o->rows * o->cols;
	if (rank == 0) {
		counts = malloc(nranks * sizeof(int));
		displs = malloc(nranks * sizeof(int));
		grid = malloc(cells * sizeof(double));
		if (!counts || !displs || !grid) {
			fprintf(stderr, "mpi_heat: no memory for the whole grid\n");
			MPI_Abort(MPI_COMM_WORLD, 1);
		}
		for (int r = 0; r < nranks; r++) {
			displs[r] = (int)(heat_first_row(o->rows, r, nranks) * o->cols);
			counts[r] = (int)(heat_first_row(o->rows, r + 1, nranks) * o->cols) - displs[r];
		}
	}
	MPI_Gatherv(rows, (int)(count * o->cols), MPI_DOUBLE, grid, counts, displs, MPI_DOUBLE, 0,
		    MPI_COMM_WORLD);
	if (rank == 0) {
		FILE *f = fopen(o->out, "wb");
		if (f == NULL || fwrite(grid, sizeof(double), cells, f) != cells || fclose(f) != 0) {
			perror(o->out);
			rc = -1;
		} else {
			printf("mpi_heat: final grid in %s (%" PRIu32 " x %" PRIu32
			       " doubles), checksum %016" PRIx64 "\n",
			       o->out, o->rows, o->cols, heat_checksum(grid, cells));
		}
	}
	free(grid), free(counts), free(displs);
	return rc;
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	int rank, nranks;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	struct heat_options o;
	int rc = heat_parse_options(argc, argv, "mpi_heat", "mpirun -np N mpi_heat [options]",
				    (uint32_t)nranks, rank != 0, &o);
	if (rc != 0) {
		MPI_Finalize();
		return rc > 0 ? 0 : 2;
	}

	/* this rank's rows, with a halo row above and below, twice (Jacobi reads one, writes one) */
	uint32_t first = heat_first_row(o.rows, rank, nranks);
	uint32_t count = heat_first_row(o.rows, rank + 1, nranks) - first;
	double *cur = calloc((size_t)(count + 2) * o.cols, sizeof(double));
	double *next = calloc((size_t)(count + 2) * o.cols, sizeof(double));
	const uint64_t bytes = (uint64_t)count * o.cols * sizeof(double);
	if (all_ok(cur && next ? 0 : NPMU_E_NOMEM) != 0) {
		if (rank == 0)
			fprintf(stderr, "mpi_heat: no memory for %" PRIu32 " rows\n", count);
		MPI_Finalize();
		return 1;
	}
	heat_init(cur + o.cols, first, count, o.rows, o.cols);
	memcpy(next, cur, (size_t)(count + 2) * o.cols * sizeof(double));

	struct npmu_conn *conn = NULL;
	struct npmu_dataset *ds = NULL;
	uint64_t it = 0, version = 1;
	if ((rc = npmu_conn_new(&(struct npmu_conn_cfg){.server = o.server}, &conn)) != 0)
		fprintf(stderr, "mpi_heat: rank %d: connecting to %s: %s\n", rank,
			o.server ? o.server : getenv("NPMU_SERVER") ? getenv("NPMU_SERVER")
								     : "the default server",
			npmu_strerror(rc));
	if ((rc = all_ok(rc)) == 0 && (rc = open_dataset(conn, &o, rank, nranks, &ds)) == 0)
		rc = restart(ds, &o, rank, first, count, cur + o.cols, &it, &version);
	if (rc == 0 && rank == 0)
		printf("mpi_heat: %d ranks, %" PRIu32 " x %" PRIu32 " grid, iterations %" PRIu64
		       "..%" PRIu64 ", a checkpoint every %" PRIu64 "\n",
		       nranks, o.rows, o.cols, it, o.iters, o.every);
	fflush(stdout);

	while (rc == 0 && it < o.iters) {
		exchange_halos(cur, count, o.cols, rank, nranks);
		heat_step(cur, next, first, count, o.rows, o.cols);
		double *t = cur;
		cur = next, next = t;
		it++;
		if (o.every != 0 && it % o.every == 0)
			checkpoint(ds, version++, it, cur + o.cols, bytes, rank, nranks);
	}
	if (rc == 0)
		rc = write_grid(&o, cur + o.cols, rank, nranks);

	npmu_dataset_close(&ds);
	npmu_conn_delete(&conn);
	free(cur), free(next);
	MPI_Finalize();
	return rc == 0 ? 0 : 1;
}
