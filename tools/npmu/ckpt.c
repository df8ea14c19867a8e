/* ckpt.c -- npmu ckpt stat|dump: look at a checkpoint stream without leaving marks. */
#include <unistd.h>

#include "cli.h"
#include "output.h"
#include "verbs.h"
#include "size.h"

static const char usage_ckpt[] =
	"Usage: npmu ckpt stat STREAM | ckpt dump STREAM FILE\n"
	"Describe a checkpoint stream, or write its latest state to FILE ('-': standard\n"
	"output). Both only read: no consumed marks are left, no lease is taken.\n";

static const struct opt_spec stream_args[] = {{"STREAM", 0, OPT_STRING}, {NULL}};
static const struct opt_spec stream_file_args[] = {
	{"STREAM", 0, OPT_STRING}, {"FILE", 0, OPT_STRING}, {NULL}};
static const struct opt_cmd stat_cmd = {"npmu ckpt stat", usage_ckpt, NULL, stream_args};
static const struct opt_cmd dump_cmd = {"npmu ckpt dump", usage_ckpt, NULL, stream_file_args};

/* stream -- a stream opened as an observing backup, caught up, and described. */
struct stream {
	struct npmu_conn *conn;
	struct npmu_ckpt *ck;
	struct npmu_ckpt_info info;
};

/* stream_open -- open stream name to look at (exits on an error). */
static void stream_open(const char *name, struct stream *s)
{
	struct npmu_ckpt_opts opts = {.observe = 1};
	s->conn = cli_connect();
	int rc = npmu_ckpt_open_backup(s->conn, name, &opts, &s->ck);
	if (rc != 0)
		cli_die(name, rc);
	if ((rc = npmu_ckpt_follow(s->ck)) < 0)
		cli_die(name, rc);
	if ((rc = npmu_ckpt_stat(s->ck, &s->info)) != 0)
		cli_die(name, rc);
}

/* stream_close -- close what stream_open opened. */
static void stream_close(struct stream *s)
{
	npmu_ckpt_close(&s->ck);
	npmu_conn_delete(&s->conn);
}

/* lease_state -- the lease's state in a word (JSON). */
static const char *lease_state(enum npmu_lease_state state)
{
	return state == NPMU_LEASE_HELD ? "held" : state == NPMU_LEASE_LAPSED ? "lapsed" : "none";
}

/* stat_json -- a stream's description as one JSON object. */
static void stat_json(const char *name, const struct npmu_ckpt_info *i, const char *mode)
{
	struct out_json j = out_json_start(stdout);
	out_json_object(&j, NULL);
	out_json_str(&j, "stream", name);
	out_json_str(&j, "mode", mode);
	out_json_u64(&j, "epoch", i->epoch);
	out_json_u64(&j, "seq", i->seq);
	out_json_u64(&j, "state_size", i->state_size);
	out_json_u64(&j, "state_len", i->state_len);
	out_json_u64(&j, "log_size", i->log_size);
	out_json_u64(&j, "latest_start", i->latest_start);
	out_json_u64(&j, "latest_end", i->latest_end);
	out_json_u64(&j, "unread", i->unread);
	out_json_str(&j, "lease", lease_state(i->lease_state));
	out_json_str(&j, "lease_holder", i->lease_holder);
	out_json_u64(&j, "lease_left_ms", i->lease_left_ms);
	out_json_end(&j);
}

/* stat_lines -- a stream's description, for people. */
static void stat_lines(const char *name, const struct npmu_ckpt_info *i, const char *mode)
{
	char a[32], b[32], c[32];
	out_line("stream      %s (%s mode)", name, mode);
	out_line("epoch       %llu", (unsigned long long)i->epoch);
	out_line("sequence    %llu", (unsigned long long)i->seq);
	out_line("state       %s of %s", npmu__size_format(i->state_len, a, sizeof(a)),
		 npmu__size_format(i->state_size, b, sizeof(b)));
	if (i->mode == NPMU_CKPT_APPEND)
		out_line("log         %s; latest update at %llu..%llu; unread by the backup %s",
			 npmu__size_format(i->log_size, c, sizeof(c)),
			 (unsigned long long)i->latest_start, (unsigned long long)i->latest_end,
			 npmu__size_format(i->unread, a, sizeof(a)));
	if (i->lease_state == NPMU_LEASE_HELD)
		out_line("lease       held by %s, %u ms left",
			 i->lease_holder[0] ? i->lease_holder : "(unauthenticated)",
			 i->lease_left_ms);
	else
		out_line("lease       %s", i->lease_state == NPMU_LEASE_LAPSED
						   ? "lapsed: its writer stopped renewing it"
						   : "none: no writer yet");
}

/* ckpt_stat -- ckpt stat STREAM: mode, epoch, sequence, latest update, unread, lease. */
static int ckpt_stat(const struct opt_result *r)
{
	struct stream s;
	stream_open(r->arg[0].text, &s);
	const char *mode = s.info.mode == NPMU_CKPT_APPEND ? "append" : "overwrite";
	if (out_json_mode())
		stat_json(r->arg[0].text, &s.info, mode);
	else
		stat_lines(r->arg[0].text, &s.info, mode);
	stream_close(&s);
	return 0;
}

/* ckpt_dump -- ckpt dump STREAM FILE: the stream's latest state into FILE. */
static int ckpt_dump(const struct opt_result *r)
{
	const char *name = r->arg[0].text, *path = r->arg[1].text;
	struct stream s;
	uint64_t len, seq;
	stream_open(name, &s);
	const void *state = npmu_ckpt_state(s.ck, &len, &seq);
	int fd = cli_open_out(path);
	if (fd < 0 || cli_write_full(fd, state, len) != 0)
		return cli_file_error(path);
	if (fd != STDOUT_FILENO) {
		close(fd);
		out_line("dumped %llu bytes of %s (sequence %llu) into %s", (unsigned long long)len,
			 name, (unsigned long long)seq, path);
	}
	stream_close(&s);
	return 0;
}

/* cmd_ckpt -- ckpt stat STREAM | ckpt dump STREAM FILE. */
int cmd_ckpt(int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{"stat", &stat_cmd, ckpt_stat}, {"dump", &dump_cmd, ckpt_dump}, {NULL}};
	return cli_dispatch(usage_ckpt, subs, argc, argv);
}
