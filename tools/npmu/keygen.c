/* keygen.c -- npmu keygen FILE: a new random key for a principal or for the cluster. */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "output.h"
#include "session.h"
#include "verbs.h"

static const char usage_keygen[] =
	"Usage: npmu keygen FILE\nWrite a new random 256-bit key, in hex, to FILE (created with "
	"mode 0600;\nan existing file is never overwritten).\n";

static const struct opt_spec file_args[] = {{"FILE", 0, OPT_STRING}, {NULL}};
static const struct opt_cmd keygen_cmd = {"npmu keygen", usage_keygen, NULL, file_args};

/* cmd_keygen -- write a fresh key file (mode 0600, never over an existing file). */
int cmd_keygen(int argc, char **argv)
{
	struct opt_result r;
	int status = opt_command(&keygen_cmd, argc - 1, argv + 1, &r);
	if (status >= 0)
		return status;
	const char *path = r.arg[0].text;
	int rc = npmu__key_write(path);
	if (rc == NPMU_E_EXIST) {
		out_warn("%s exists; a key file is never overwritten", path);
		return 1;
	}
	if (rc != 0) {
		out_warn("cannot write %s: %s", path, strerror(errno));
		return 1;
	}
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		out_json_str(&j, "key_file", path);
		out_json_end(&j);
	} else {
		out_line("wrote a new key to %s (mode 0600)", path);
	}
	return 0;
}
