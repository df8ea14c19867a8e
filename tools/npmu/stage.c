/* stage.c -- npmu stripe put --staged, wait, protect, versions: checkpoint once, protect in the
 * background. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"
#include "output.h"
#include "size.h"
#include "stage.h"

static const char usage_stage[] =
	"Usage: npmu stripe wait NAME VERSION [--timeout MS]\n"
	"       npmu stripe protect NAME\n"
	"       npmu stripe versions NAME\n"
	"A staged put (npmu stripe put --staged) writes a version once, plain, to the set's staging\n"
	"region and returns; an encoder (npmu-encoder, or npmu stripe protect once) then encodes it\n"
	"into the set's members. wait returns (exit 0) once VERSION or a newer one is protected,\n"
	"else exits 1 after --timeout (default 60000; 0: look once) saying whether it is still\n"
	"staged or lost. protect does an encoder's work once for NAME. versions lists every\n"
	"version with its state: protected, partial (being protected), staged, superseded, lost.\n";

enum { WAIT_TIMEOUT };
static const struct opt_spec wait_opts[] = {
	[WAIT_TIMEOUT] = {"timeout", 't', OPT_UINT, 0, INT32_MAX}, {NULL}};
static const struct opt_spec name_version_args[] = {
	{"NAME", 0, OPT_STRING}, {"VERSION", 0, OPT_UINT, 1, 0}, {NULL}};
static const struct opt_spec name_args[] = {{"NAME", 0, OPT_STRING}, {NULL}};

const struct opt_cmd stage_wait_cmd = {"npmu stripe wait", usage_stage, wait_opts,
				       name_version_args};
const struct opt_cmd stage_protect_cmd = {"npmu stripe protect", usage_stage, NULL, name_args};
const struct opt_cmd stage_versions_cmd = {"npmu stripe versions", usage_stage, NULL, name_args};

/* stage_state_name -- a version's state in one word. */
const char *stage_state_name(enum npmu_version_state s)
{
	switch (s) {
	case NPMU_VERSION_PROTECTED: return "protected";
	case NPMU_VERSION_STAGED: return "staged";
	case NPMU_VERSION_LOST: return "lost";
	case NPMU_VERSION_SUPERSEDED: return "superseded";
	case NPMU_VERSION_PARTIAL: return "partial";
	}
	return "?";
}

/* stage_put -- stage a file's bytes as the set's next version (see stage.h). */
int stage_put(struct npmu_conn *conn, const char *name, const char *path, const void *buf,
	      uint64_t len, const struct npmu_stripe_cfg *sc, const struct npmu_stage_cfg *stc)
{
	struct npmu_stage *st;
	double t0 = cli_now();
	uint64_t v = 0;
	int rc = npmu_stage_open(conn, name, sc, stc, &st);
	if (rc != 0)
		cli_die(name, rc);
	rc = npmu_stage_put(st, buf, len, &v);
	npmu_stage_close(&st);
	if (rc < 0)
		cli_die(name, rc);
	const char *state = rc == 1 ? "protected (staging full: put synchronously)" : "staged";
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		out_json_str(&j, "set", name);
		out_json_u64(&j, "version", v);
		out_json_u64(&j, "bytes", len);
		out_json_str(&j, "state", rc == 1 ? "protected" : "staged");
		out_json_fixed(&j, "seconds", cli_now() - t0, 3);
		out_json_end(&j);
		return 0;
	}
	char a[32];
	out_line("put %s into %s: version %llu, %s, %s, %.3f s", path, name, (unsigned long long)v,
		 npmu__size_format(len, a, sizeof(a)), state, cli_now() - t0);
	if (rc == 0)
		out_note("%s: an encoder protects it (npmu-encoder; or npmu stripe protect %s); "
			 "npmu stripe wait %s %llu returns once it is", name, name, name,
			 (unsigned long long)v);
	return 0;
}

/* when -- a wall-clock time in ms as "HH:MM:SS" (local time). */
static const char *when(uint64_t ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!ms || !localtime_r(&t, &tm) || !strftime(out, cap, "%H:%M:%S", &tm))
		snprintf(out, cap, "-");
	return out;
}

/* stage_print_versions -- every version and its state (see stage.h). */
void stage_print_versions(const struct npmu_version_info *v, size_t n, struct out_json *j,
			  const char *key)
{
	if (j)
		out_json_array(j, key);
	for (size_t i = 0; i < n; i++) {
		if (j) {
			out_json_object(j, NULL);
			out_json_u64(j, "version", v[i].version);
			out_json_u64(j, "length", v[i].length);
			out_json_str(j, "state", stage_state_name(v[i].state));
			out_json_u64(j, "members", v[i].members);
			out_json_u64(j, "staged_ms", v[i].staged_ms);
			out_json_str(j, "staging", v[i].staging);
			out_json_end(j);
			continue;
		}
		char a[32], t[32], staged[192] = "";
		if (v[i].staged_ms)
			snprintf(staged, sizeof(staged), " (staged at %s on %s)",
				 when(v[i].staged_ms, t, sizeof(t)),
				 v[i].staging[0] ? v[i].staging : "its staging unit");
		out_line("  version %llu: %s, %s, manifest on %u member(s)%s",
			 (unsigned long long)v[i].version,
			 npmu__size_format(v[i].length, a, sizeof(a)), stage_state_name(v[i].state),
			 v[i].members, staged);
	}
	if (j)
		out_json_end(j);
}

/* stage_versions -- stripe versions NAME. */
int stage_versions(const struct opt_result *r)
{
	const char *name = r->arg[0].text;
	struct npmu_conn *conn = cli_connect();
	struct npmu_version_info *v;
	size_t n;
	int rc = npmu_stripe_versions(conn, name, &v, &n);
	if (rc != 0)
		cli_die(name, rc);
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		out_json_str(&j, "set", name);
		stage_print_versions(v, n, &j, "versions");
		out_json_end(&j);
	} else {
		out_line("%s: %zu version(s)", name, n);
		stage_print_versions(v, n, NULL, NULL);
	}
	free(v);
	npmu_conn_delete(&conn);
	return 0;
}

/* stage_wait -- stripe wait NAME VERSION [--timeout MS]. */
int stage_wait(const struct opt_result *r)
{
	const char *name = r->arg[0].text;
	uint64_t version = r->arg[1].num, got = 0;
	int timeout = r->opt[WAIT_TIMEOUT].seen ? (int)r->opt[WAIT_TIMEOUT].num : 60000;
	struct npmu_conn *conn = cli_connect();
	double t0 = cli_now();
	int rc = npmu_stripe_wait(conn, name, version, timeout, &got);
	if (rc == NPMU_E_TIMEDOUT)
		cli_refuse(name, rc, "%s: version %llu is still staged, not protected, after %d ms "
			   "(is an encoder running? npmu-encoder, or npmu stripe protect %s)", name,
			   (unsigned long long)version, timeout, name);
	if (rc == NPMU_E_LOST)
		cli_refuse(name, rc, "%s: version %llu is not protected and no staging copy of it "
			   "can be read: lost unless its staging unit comes back (npmu stripe "
			   "versions %s)", name, (unsigned long long)version, name);
	if (rc != 0)
		cli_die(name, rc);
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		out_json_str(&j, "set", name);
		out_json_u64(&j, "version", version);
		out_json_u64(&j, "protected", got);
		out_json_fixed(&j, "seconds", cli_now() - t0, 3);
		out_json_end(&j);
	} else {
		out_line("%s: version %llu protected%s (waited %.3f s)", name,
			 (unsigned long long)version, got > version ? " (by a newer version)" : "",
			 cli_now() - t0);
	}
	npmu_conn_delete(&conn);
	return 0;
}

/* stage_protect -- stripe protect NAME: an encoder's work, once. */
int stage_protect(const struct opt_result *r)
{
	const char *name = r->arg[0].text;
	struct npmu_conn *conn = cli_connect();
	double t0 = cli_now();
	int rc = npmu_stripe_protect(conn, name, NULL, NULL);
	if (rc == NPMU_E_BUSY)
		cli_refuse(name, rc, "%s: another encoder, or a writer, holds the set: it protects "
			   "what is staged, or try again later", name);
	if (rc < 0)
		cli_die(name, rc);
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		out_json_str(&j, "set", name);
		out_json_u64(&j, "protected", (uint64_t)rc);
		out_json_fixed(&j, "seconds", cli_now() - t0, 3);
		out_json_end(&j);
	} else {
		out_line("%s: %d staged version(s) protected, %.3f s", name, rc, cli_now() - t0);
	}
	npmu_conn_delete(&conn);
	return 0;
}
