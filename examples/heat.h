/* heat.h -- the 2-D heat-diffusion code shared by mpi_heat.c and procs_heat.c: the grid, its row
 * split over processes, one Jacobi sweep, and restoring a process's rows from a dataset. */
#ifndef HEAT_H
#define HEAT_H

#include <stddef.h>
#include <stdint.h>

#include <npmu.h>

/*
 * The grid is rows x cols doubles, row-major. Its edges are fixed (the top edge at 100, the
 * left edge at 50, the others at 0) and the inside starts at 0. Process r of n owns the global
 * rows [heat_first_row(rows, r, n), heat_first_row(rows, r + 1, n)); it keeps them with one
 * halo row above and one below: local row i is global row first - 1 + i.
 *
 * Every cell is computed by the same expression from the same operands whatever n is, so a
 * run's grid is bit for bit the same on any number of processes, restarted or not.
 */

/* What a run is asked to do (the command line of mpi_heat and procs_heat). */
struct heat_options {
	uint32_t rows, cols;   /* the global grid */
	uint64_t iters, every; /* iterations in all; a checkpoint every `every` (0: none) */
	uint32_t min_ranks;    /* the fewest processes a restart may use (sizes a new dataset) */
	const char *dataset;   /* the dataset's name */
	const char *out;       /* the final grid's file */
	const char *server;    /* the manager, NULL: $NPMU_SERVER */
	int staged;            /* checkpoints staged, protected by an encoder in the background */
	const char *stage_unit; /* where the staging regions go, NULL: the manager's choice */
};

/*
 * heat_parse_options -- the options of a run of nprocs processes, after argv[0] (`prog`,
 * whose usage line is `synopsis`): 0 to run, 1 when --help was printed, -1 after an error was
 * said. quiet: say nothing (the processes other than the first).
 */
int heat_parse_options(int argc, char **argv, const char *prog, const char *synopsis,
		       uint32_t nprocs, int quiet, struct heat_options *o);

/* heat_stage -- when o->staged, ds's puts are staged (npmu_dataset_stage) from now on; says on
 * stderr what failed, prefixed by `who`. */
int heat_stage(struct npmu_dataset *ds, const struct heat_options *o, const char *who);

/* heat_first_row -- the first global row of process `rank` of `nprocs` (rank = nprocs: rows). */
static inline uint32_t heat_first_row(uint32_t rows, uint32_t rank, uint32_t nprocs)
{
	return (uint32_t)((uint64_t)rank * rows / nprocs);
}

/* heat_init -- the starting values of global rows [first, first + count) into rows. */
void heat_init(double *rows, uint32_t first, uint32_t count, uint32_t nrows, uint32_t cols);

/* heat_step -- one Jacobi sweep of global rows [first, first + count): reads cur (those rows
 * with their two halo rows), writes the same rows of next (its halo rows are not touched). */
void heat_step(const double *cur, double *next, uint32_t first, uint32_t count, uint32_t nrows,
	       uint32_t cols);

/* heat_checksum -- FNV-1a over the bytes of n doubles (the grid file's checksum). */
uint64_t heat_checksum(const double *cells, size_t n);

/*
 * heat_restore -- read global rows [first, first + count) of complete version v into rows
 * (count x cols). The version was put by v->parts processes, each its own rows under the same
 * split, so the rows come from one old part or span several; each is read as a byte range
 * (npmu_dataset_read). Says on stderr what failed, prefixed by `who`; returns an NPMU_E_* code
 * (NPMU_E_INVAL: the version holds a grid of another shape).
 */
int heat_restore(struct npmu_dataset *ds, const struct npmu_dataset_version *v, uint32_t nrows,
		 uint32_t cols, uint32_t first, uint32_t count, double *rows, const char *who);

/*
 * Test hook (tests/integration/dataset_mpi.sh, dataset_procs.sh), compiled in only with
 * HEAT_TEST_HOOKS: HEAT_TEST_STALL=ITER[:P] stops the job for good in the checkpoint of
 * iteration ITER, after processes 0..P-1 (default: half, at least one) put their parts and
 * before the others do, so before any commit. Each process says on stderr that it stalls, with
 * its pid, and waits to be killed.
 */
enum heat_hook_point { HEAT_BEFORE_PUT, HEAT_AFTER_PUT };
#ifdef HEAT_TEST_HOOKS
void heat_test_hook(enum heat_hook_point at, uint64_t iteration, uint64_t version, uint32_t rank,
		    uint32_t nprocs, int put_rc);
#else
static inline void heat_test_hook(enum heat_hook_point at, uint64_t iteration, uint64_t version,
				  uint32_t rank, uint32_t nprocs, int put_rc)
{
	(void)at, (void)iteration, (void)version, (void)rank, (void)nprocs, (void)put_rc;
}
#endif

#endif
