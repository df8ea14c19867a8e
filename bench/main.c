/* main.c -- npmu_bench: every figure of `make bench` in one run, each next to its baseline;
 * a table on the terminal, and the JSON and plot data in the output directory. */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static const char usage[] =
	"usage: npmu_bench --raw HOST:PORT --raw-pid PID --unit HOST:PORT --unit-pid PID\n"
	"                  --pmmd HOST:PORT [--pmmd-pid PID] [--redis HOST:PORT] --dir DIR\n"
	"                  --out DIR [--shm-unit NAME:N] [--quick] [--sections LIST]\n"
	"  (started by bench/run.sh, which starts what it names on loopback)\n"
	"  --raw, --raw-pid    a raw libfabric target (npmu_bench --raw-target FILE) and its pid\n"
	"  --unit, --unit-pid  an npmud with its embedded manager, and its pid (CPU use)\n"
	"  --pmmd              a pmmd over six units (mirrored regions, striped sets)\n"
	"  --pmmd-pid          its pid (its memory)\n"
	"  --redis             a redis-server with appendonly yes (the Redis baselines)\n"
	"  --dir               scratch directory on the disk to measure (file baselines)\n"
	"  --out               where bench.json, report.md and the plot data go\n"
	"  --quick             fewer repetitions: a smoke run, not figures to report\n"
	"  --sections LIST     only these sections, comma-separated, of: memcpy, transport,\n"
	"                      commit, group, catchup, takeover, scale, mirrored, create,\n"
	"                      striped, staged, dataset, memory, shm, scrape, python\n"
	"  --stage-unit HOST:PORT\n"
	"                      the unit of --pmmd with room for staging (the staged section;\n"
	"                      bench/run.sh also starts an npmu-encoder)\n"
	"  --shm-unit NAME:N   an npmud on the shm provider (same host), measured next to --unit\n"
	"  --unit-metrics HOST:PORT\n"
	"                      --unit's metrics endpoint (npmud --metrics): the scrape section\n"
	"                      (NPMU_BENCH_SCRAPE_N: writes per block, for a smoke run;\n"
	"                      NPMU_BENCH_SCRAPE_MS: between scrapes, default 10, 0: none)\n";

/* wanted -- whether section `name` is in the comma-separated list (NULL: every section). */
static bool wanted(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, name, n) && (p[n] == ',' || p[n] == '\0'))
			return true;
	return !list;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--raw-target"))
		return raw_target_main(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "--primary"))
		return takeover_primary_main(argv[2], argv[3], strtoull(argv[4], NULL, 10));
	if (argc > 1 && !strcmp(argv[1], "--client"))
		return scale_client_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--mem-client"))
		return mem_client_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--mem-set"))
		return mem_set_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--ds-worker"))
		return ds_worker_main(argc, argv);
	const char *sections = NULL;
	struct bench_env env = {0};
	static const struct option opts[] = {
		{"raw", required_argument, NULL, 'r'},   {"raw-pid", required_argument, NULL, 'R'},
		{"unit", required_argument, NULL, 'u'},  {"unit-pid", required_argument, NULL, 'U'},
		{"pmmd", required_argument, NULL, 'p'},  {"redis", required_argument, NULL, 'e'},
		{"dir", required_argument, NULL, 'd'},   {"out", required_argument, NULL, 'o'},
		{"quick", no_argument, NULL, 'q'},       {"help", no_argument, NULL, 'h'},
		{"pmmd-pid", required_argument, NULL, 'P'},
		{"sections", required_argument, NULL, 's'},
		{"shm-unit", required_argument, NULL, 'm'},
		{"unit-metrics", required_argument, NULL, 'M'},
		{"stage-unit", required_argument, NULL, 'g'},
		{NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': env.raw = optarg; break;
		case 'R': env.raw_pid = atoi(optarg); break;
		case 'u': env.unit = optarg; break;
		case 'U': env.unit_pid = atoi(optarg); break;
		case 'p': env.pmmd = optarg; break;
		case 'e': env.redis = optarg; break;
		case 'd': env.dir = optarg; break;
		case 'o': env.out = optarg; break;
		case 'q': env.quick = true; break;
		case 'P': env.pmmd_pid = atoi(optarg); break;
		case 's': sections = optarg; break;
		case 'm': env.shm_unit = optarg; break;
		case 'M': env.unit_metrics = optarg; break;
		case 'g': env.stage_unit = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc || !env.raw || env.raw_pid <= 0 || !env.unit || env.unit_pid <= 0 ||
	    !env.pmmd || !env.dir || !env.out) {
		fputs(usage, stderr);
		return 2;
	}
	static char self[4096];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl <= 0)
		bail("/proc/self/exe", NPMU_E_INTERNAL);
	self[sl] = '\0';
	env.self = self;
	if (!env.redis)
		fprintf(stderr, "npmu_bench: no --redis: the Redis baselines are left out\n");

	kill(env.raw_pid, SIGSTOP); /* it busy-polls: it runs only while measured (transport.c) */
	if (wanted(sections, "memcpy"))
		bench_memcpy(&env);
	if (wanted(sections, "transport"))
		bench_transport(&env);
	if (wanted(sections, "commit"))
		bench_commit(&env);
	if (wanted(sections, "group"))
		bench_group_commit(&env);
	if (wanted(sections, "catchup"))
		bench_catchup(&env);
	if (wanted(sections, "takeover"))
		bench_takeover(&env);
	if (wanted(sections, "scale"))
		bench_scale(&env);
	if (wanted(sections, "mirrored"))
		bench_mirrored(&env);
	if (wanted(sections, "create"))
		bench_create(&env);
	if (wanted(sections, "striped"))
		bench_striped(&env, env.quick ? 64u << 20 : 256u << 20);
	if (wanted(sections, "staged")) {
		bench_staged(&env, 256u << 20);
		if (!env.quick)
			bench_staged(&env, 1u << 30);
	}
	if (wanted(sections, "dataset"))
		bench_dataset(&env);
	if (wanted(sections, "memory"))
		bench_memory(&env);
	if (wanted(sections, "shm") && env.shm_unit)
		bench_shm(&env);
	if (wanted(sections, "scrape") && env.unit_metrics)
		bench_scrape(&env);
#ifdef NPMU_BENCH_PYTHON
	if (wanted(sections, "python"))
		bench_python(&env);
#else
	if (sections && wanted(sections, "python"))
		fprintf(stderr, "npmu_bench: built without the Python package: no python section\n");
#endif
	kill(env.raw_pid, SIGCONT);
	report_targets();

	char path[512];
	snprintf(path, sizeof(path), "%s/bench.json", env.out);
	if (report_json(path, &env) != 0)
		bail(path, NPMU_E_IO);
	snprintf(path, sizeof(path), "%s/report.md", env.out);
	if (report_markdown(path) != 0)
		bail(path, NPMU_E_IO);
	return 0;
}
