/* heat.c -- the heat-diffusion kernel and dataset restore shared by mpi_heat.c and procs_heat.c. */
#include "heat.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char usage[] =
	"2-D heat diffusion on a rows x cols grid, rows split over the processes, checkpointed\n"
	"into an npmu dataset; restarted on any number of processes, it goes on from the newest\n"
	"complete checkpoint. The first process writes the final grid (raw doubles, row-major)\n"
	"and its checksum.\n"
	"  --rows R        grid rows (default 512, at least 3 and the number of processes)\n"
	"  --cols C        grid columns (default 512, at least 3)\n"
	"  --iters I       iterations (default 1000)\n"
	"  --every K       checkpoint every K iterations (default 100; 0: never)\n"
	"  --dataset NAME  the dataset (default heat)\n"
	"  --min-ranks M   when creating the dataset: the fewest processes a restart may use;\n"
	"                  each part gets room for that many processes' rows (default: half of\n"
	"                  this run's)\n"
	"  --out FILE      the final grid (default heat.grid)\n"
	"  --staged        stage each checkpoint (one plain write to a staging region) and let an\n"
	"                  encoder (npmu-encoder) protect it in the background\n"
	"  --stage-unit H:P  the unit that holds the staging regions (default: the manager's choice)\n"
	"  --server H:P    the manager (default $NPMU_SERVER)\n"
	"  --help          this text\n";

/* parse_count -- a decimal number in [min, max] into *v, or 0 after saying what is wrong. */
static int parse_count(const char *prog, int quiet, const char *opt, const char *s, uint64_t min,
		       uint64_t max, uint64_t *v)
{
	char *end;
	unsigned long long n = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || n < min || n > max) {
		if (!quiet)
			fprintf(stderr, "%s: --%s: \"%s\" is not a number in %" PRIu64 "..%" PRIu64
				"\n", prog, opt, s, min, max);
		return 0;
	}
	*v = n;
	return 1;
}

int heat_parse_options(int argc, char **argv, const char *prog, const char *synopsis,
		       uint32_t nprocs, int quiet, struct heat_options *o)
{
	static const struct option longopts[] = {
		{"rows", required_argument, NULL, 'r'},    {"cols", required_argument, NULL, 'c'},
		{"iters", required_argument, NULL, 'i'},   {"every", required_argument, NULL, 'k'},
		{"dataset", required_argument, NULL, 'd'}, {"min-ranks", required_argument, NULL, 'm'},
		{"out", required_argument, NULL, 'o'},     {"server", required_argument, NULL, 's'},
		{"staged", no_argument, NULL, 'S'},        {"stage-unit", required_argument, NULL, 'U'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	*o = (struct heat_options){.rows = 512, .cols = 512, .iters = 1000, .every = 100,
				   .min_ranks = (nprocs + 1) / 2, .dataset = "heat",
				   .out = "heat.grid"};
	opterr = !quiet;
	int c, li = 0, ok = 1;
	uint64_t v = 0;
	while (ok && (c = getopt_long(argc, argv, "", longopts, &li)) != -1) {
		const char *name = longopts[li].name;
		switch (c) {
		case 'r':
			ok = parse_count(prog, quiet, name, optarg, 3, INT_MAX, &v);
			o->rows = (uint32_t)v;
			break;
		case 'c':
			ok = parse_count(prog, quiet, name, optarg, 3, INT_MAX, &v);
			o->cols = (uint32_t)v;
			break;
		case 'i': ok = parse_count(prog, quiet, name, optarg, 0, UINT64_MAX, &o->iters); break;
		case 'k': ok = parse_count(prog, quiet, name, optarg, 0, UINT64_MAX, &o->every); break;
		case 'm':
			ok = parse_count(prog, quiet, name, optarg, 1, NPMU_DATASET_PARTS_MAX, &v);
			o->min_ranks = (uint32_t)v;
			break;
		case 'd': o->dataset = optarg; break;
		case 'o': o->out = optarg; break;
		case 's': o->server = optarg; break;
		case 'S': o->staged = 1; break;
		case 'U': o->stage_unit = optarg, o->staged = 1; break;
		case 'h':
			if (!quiet)
				printf("usage: %s\n%s", synopsis, usage);
			return 1;
		default: ok = 0; break; /* getopt said why */
		}
	}
	if (ok && optind < argc) {
		if (!quiet)
			fprintf(stderr, "%s: unexpected argument \"%s\"\n", prog, argv[optind]);
		ok = 0;
	} else if (ok && (o->rows < nprocs || (uint64_t)o->rows * o->cols > INT_MAX)) {
		if (!quiet)
			fprintf(stderr, "%s: a %" PRIu32 " x %" PRIu32 " grid on %" PRIu32
				" processes: each needs a row, and the grid at most %d cells\n",
				prog, o->rows, o->cols, nprocs, INT_MAX);
		ok = 0;
	}
	if (!ok && !quiet)
		fprintf(stderr, "%s: see --help\n", prog);
	return ok ? 0 : -1;
}

int heat_stage(struct npmu_dataset *ds, const struct heat_options *o, const char *who)
{
	if (!o->staged)
		return 0;
	struct npmu_stage_cfg cfg = {.unit = o->stage_unit};
	int rc = npmu_dataset_stage(ds, &cfg);
	if (rc != 0)
		fprintf(stderr, "%s: staging the checkpoints of %s: %s\n", who, o->dataset,
			npmu_strerror(rc));
	return rc;
}

/* the fixed edges */
#define HEAT_TOP 100.0
#define HEAT_LEFT 50.0

static double start_value(uint32_t row, uint32_t col, uint32_t nrows, uint32_t cols)
{
	if (row == 0)
		return HEAT_TOP;
	if (col == 0 && row < nrows - 1)
		return HEAT_LEFT;
	(void)cols;
	return 0.0; /* the right and bottom edges, and the inside */
}

void heat_init(double *rows, uint32_t first, uint32_t count, uint32_t nrows, uint32_t cols)
{
	for (uint32_t i = 0; i < count; i++)
		for (uint32_t j = 0; j < cols; j++)
			rows[(size_t)i * cols + j] = start_value(first + i, j, nrows, cols);
}

void heat_step(const double *cur, double *next, uint32_t first, uint32_t count, uint32_t nrows,
	       uint32_t cols)
{
	for (uint32_t i = 1; i <= count; i++) {
		uint32_t row = first + i - 1;
		const double *up = cur + (size_t)(i - 1) * cols, *here = cur + (size_t)i * cols,
			     *down = cur + (size_t)(i + 1) * cols;
		double *out = next + (size_t)i * cols;
		if (row == 0 || row == nrows - 1) { /* a fixed edge */
			for (uint32_t j = 0; j < cols; j++)
				out[j] = here[j];
			continue;
		}
		out[0] = here[0];
		for (uint32_t j = 1; j < cols - 1; j++)
			out[j] = 0.25 * ((up[j] + down[j]) + (here[j - 1] + here[j + 1]));
		out[cols - 1] = here[cols - 1];
	}
}

uint64_t heat_checksum(const double *cells, size_t n)
{
	const unsigned char *b = (const unsigned char *)cells;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n * sizeof(double); i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

int heat_restore(struct npmu_dataset *ds, const struct npmu_dataset_version *v, uint32_t nrows,
		 uint32_t cols, uint32_t first, uint32_t count, double *rows, const char *who)
{
	const uint64_t row_bytes = (uint64_t)cols * sizeof(double);
	if (v->parts == 0 || v->parts > nrows || v->bytes != nrows * row_bytes) {
		fprintf(stderr,
			"%s: version %" PRIu64 " holds %" PRIu64 " bytes in %" PRIu32
			" parts, not a %" PRIu32 " x %" PRIu32 " grid: was it written with other "
			"--rows/--cols?\n",
			who, v->version, v->bytes, v->parts, nrows, cols);
		return NPMU_E_INVAL;
	}
	for (uint32_t p = 0; p < v->parts; p++) {
		uint32_t pfirst = heat_first_row(nrows, p, v->parts);
		uint32_t pend = heat_first_row(nrows, p + 1, v->parts);
		uint32_t lo = first > pfirst ? first : pfirst;
		uint32_t hi = first + count < pend ? first + count : pend;
		if (lo >= hi)
			continue; /* none of our rows in old part p */
		uint64_t len;
		int rc = npmu_dataset_part_size(ds, v->version, p, &len);
		if (rc == 0 && len != (pend - pfirst) * row_bytes) {
			fprintf(stderr,
				"%s: part %" PRIu32 " of version %" PRIu64 " holds %" PRIu64
				" bytes, not its %" PRIu32 " rows: not this program's row split\n",
				who, p, v->version, len, pend - pfirst);
			return NPMU_E_INVAL;
		}
		if (rc == 0)
			rc = npmu_dataset_read(ds, v->version, p, (lo - pfirst) * row_bytes,
					       rows + (size_t)(lo - first) * cols, (hi - lo) * row_bytes);
		if (rc != 0) {
			fprintf(stderr,
				"%s: reading rows %" PRIu32 "..%" PRIu32 " from part %" PRIu32
				" of version %" PRIu64 ": %s\n",
				who, lo, hi - 1, p, v->version, npmu_strerror(rc));
			return rc;
		}
	}
	return 0;
}

#ifdef HEAT_TEST_HOOKS
void heat_test_hook(enum heat_hook_point at, uint64_t iteration, uint64_t version, uint32_t rank,
		    uint32_t nprocs, int put_rc)
{
	const char *spec = getenv("HEAT_TEST_STALL");
	char *end;
	if (spec == NULL || strtoull(spec, &end, 10) != iteration)
		return;
	uint32_t putters = *end == ':' ? (uint32_t)strtoul(end + 1, NULL, 10) : (nprocs + 1) / 2;
	if (at == HEAT_BEFORE_PUT && rank < putters)
		return; /* this one puts first */
	if (at == HEAT_AFTER_PUT)
		fprintf(stderr,
			"heat test hook: rank %" PRIu32 " (pid %d) stalls at iteration %" PRIu64
			" after putting part %" PRIu32 " of version %" PRIu64 ": %s\n",
			rank, (int)getpid(), iteration, rank, version,
			put_rc == 0 ? "ok" : npmu_strerror(put_rc));
	else
		fprintf(stderr,
			"heat test hook: rank %" PRIu32 " (pid %d) stalls at iteration %" PRIu64
			" before putting part %" PRIu32 " of version %" PRIu64 "\n",
			rank, (int)getpid(), iteration, rank, version);
	fflush(stderr);
	for (;;)
		pause();
}
#endif
