/* main.c -- the npmu command: global options, then the verb (region, put, get, unit, stripe, ckpt,
 * keygen) that does the work. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "output.h"
#include "verbs.h"

static const char usage_main[] =
	"Usage: npmu [--server HOST:PORT] [--provider NAME] [--json] COMMAND ...\n"
	"\n"
	"Commands:\n"
	"  region create NAME SIZE [--unit HOST:PORT] [--mirror [--mirror-unit HOST:PORT]]\n"
	"                            create a region (SIZE: bytes or 64K, 16M, 4G), on the given\n"
	"                            unit when a manager has several; --mirror keeps a second\n"
	"                            copy on another unit, in another fault domain\n"
	"  region grow NAME SIZE     grow a region to SIZE, keeping its data\n"
	"  region ls                 list regions, with the units holding them\n"
	"  region stat NAME          describe a region (and each copy of a mirrored one)\n"
	"  region resync NAME        bring a mirrored region's stale copy up to date now\n"
	"  region rm NAME            delete a region (revokes every open right)\n"
	"  region revoke NAME        revoke every open right to a region (its keys die at once)\n"
	"  put REGION FILE           write FILE into REGION and make it persistent\n"
	"  get REGION FILE           read REGION into FILE ('-' for standard output)\n"
	"  unit ls                   the manager's units, their state and capacity\n"
	"  unit stat METRICS         a daemon's counters, from its --metrics endpoint HOST:PORT\n"
	"  top [--interval S] [--count N] [--metrics HOST:PORT]\n"
	"                            a live view of units, regions (and their units) and, from\n"
	"                            the manager's metrics, leases and requests a second\n"
	"  ckpt stat STREAM          a checkpoint stream: mode, epoch, sequence, latest update, unread\n"
	"  ckpt dump STREAM FILE     the stream's latest state into FILE ('-' for standard output)\n"
	"  stripe put NAME FILE [--k 4] [--m 2] [--n N] [--seg 1M] [--keep 2] [--capacity SIZE]\n"
	"                [--placed]  FILE as the next version of striped set NAME: k data and m\n"
	"                            parity sub-segments per group over n units (--mirror: copies);\n"
	"                            --placed: in the units' memory, not flushed. With units down\n"
	"                            it goes on (degraded) while each group keeps k+1 of its k+m.\n"
	"  stripe get NAME FILE [--version V]\n"
	"                            restore a version (default: the newest) from any k of each group\n"
	"  stripe stat NAME          layout, versions (degraded ones marked), each member's health\n"
	"  stripe rebuild NAME       regenerate lost or corrupt sub-segments, placing lost members on\n"
	"                            other units (two on one unit when there is no spare)\n"
	"  stripe rm NAME            delete a set: every member (not while a put or rebuild runs)\n"
	"  dataset ls                datasets (checkpoints of jobs of many processes): newest\n"
	"                            complete version, its label, parts and bytes\n"
	"  dataset stat NAME         kept versions and the health of each part's units\n"
	"  dataset get NAME PART FILE [--version V] [--offset B] [--length B]\n"
	"                            a part (or a byte range of it) of a complete version\n"
	"  dataset rm NAME | pin NAME VERSION [--unpin]\n"
	"                            delete a dataset; keep a version whatever comes after it\n"
	"  keygen FILE               write a new random key to FILE (mode 0600)\n"
	"\n"
	"Options:\n"
	"  -s, --server HOST:PORT    the unit's manager (default $NPMU_SERVER or 127.0.0.1:%d)\n"
	"  -P, --provider NAME       libfabric provider (default $NPMU_PROVIDER or \"tcp\")\n"
	"  -j, --json                machine-readable output\n"
	"Credentials come from the file named by $NPMU_CREDENTIALS (never from arguments):\n"
	"  principal NAME\n  key HEX | key-file PATH\n"
	"  -h, --help                this text; 'npmu COMMAND --help' for one command\n";

enum { G_SERVER, G_PROVIDER, G_JSON };
static const struct opt_spec global_opts[] = {
	[G_SERVER] = {"server", 's', OPT_STRING},
	[G_PROVIDER] = {"provider", 'P', OPT_STRING},
	[G_JSON] = {"json", 'j', OPT_FLAG},
	{NULL},
};

/* verb -- a verb's name and what runs it. */
struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct verb verbs[] = {
	{"region", cmd_region}, {"put", cmd_put},	  {"get", cmd_get},
	{"keygen", cmd_keygen}, {"unit", cmd_unit},	  {"ckpt", cmd_ckpt},
	{"stripe", cmd_stripe}, {"dataset", cmd_dataset}, {"top", cmd_top},
	{NULL, NULL},
};

/* main -- the global options (up to the verb), then the verb with the words after it. */
int main(int argc, char **argv)
{
	char usage[4096];
	snprintf(usage, sizeof(usage), usage_main, NPMU_DEFAULT_PORT);
	const struct opt_cmd global = {"npmu", usage, global_opts, NULL, true};
	struct opt_result r;
	int status = opt_command(&global, argc - 1, argv + 1, &r);
	if (status >= 0)
		return status;
	if (r.opt[G_SERVER].seen) /* "": the default */
		cli_cfg.server = r.opt[G_SERVER].text[0] ? r.opt[G_SERVER].text : NULL;
	if (r.opt[G_PROVIDER].seen)
		cli_cfg.provider = r.opt[G_PROVIDER].text;
	out_set_json(r.opt[G_JSON].seen);
	char **av = argv + 1 + r.next;
	int ac = argc - 1 - r.next;
	if (ac <= 0) {
		fputs(usage, stderr);
		return 2;
	}
	for (const struct verb *v = verbs; v->name; v++)
		if (!strcmp(av[0], v->name))
			return v->run(ac, av);
	out_warn("unknown command '%s'", av[0]);
	fputs(usage, stderr);
	return 2;
}
