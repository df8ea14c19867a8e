/* stripe_read.c -- restores a striped set's newest version into the caller's buffer
 * (npmu_stripe_read) for tests/integration/stripe.sh: a buffer too small is refused with the
 * length it needs and nothing else, the exact one gets the same bytes as npmu_stripe_get and as
 * FILE. Usage: stripe_read SERVER SET FILE; prints "read N bytes, same as get and FILE". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npmu.h"

/* slurp -- FILE's bytes (freed by the caller), or NULL. */
static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0)
		return NULL;
	long n = ftell(f);
	unsigned char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (b && (fseek(f, 0, SEEK_SET) != 0 || fread(b, 1, (size_t)n, f) != (size_t)n)) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* fail -- say what went wrong and stop. */
static int fail(const char *what, int rc)
{
	fprintf(stderr, "stripe_read: %s: %s\n", what, rc ? npmu_strerror(rc) : "wrong");
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: stripe_read SERVER SET FILE\n");
		return 2;
	}
	size_t flen;
	unsigned char *want = slurp(argv[3], &flen);
	struct npmu_conn_cfg cfg = {.server = argv[1]};
	struct npmu_conn *conn;
	if (!want || flen == 0)
		return fail(argv[3], NPMU_E_IO);
	int rc = npmu_conn_new(&cfg, &conn);
	if (rc != 0)
		return fail("connect", rc);
	uint64_t len = 7;
	if ((rc = npmu_stripe_read(conn, argv[2], 0, NULL, 0, &len, NULL, NULL, NULL)) !=
	    NPMU_E_TOOBIG || len != flen)
		return fail("no buffer: the length it needs", rc);
	unsigned char *buf = malloc(flen + 1);
	if (!buf)
		return fail("memory", NPMU_E_NOMEM);
	memset(buf, 0xa5, flen + 1);
	len = 7;
	if ((rc = npmu_stripe_read(conn, argv[2], 0, buf, flen - 1, &len, NULL, NULL, NULL)) !=
	    NPMU_E_TOOBIG || len != flen || buf[0] != 0xa5 || buf[flen - 2] != 0xa5)
		return fail("a buffer one byte short: refused, untouched", rc);
	struct npmu_stripe_report rep;
	if ((rc = npmu_stripe_read(conn, argv[2], 0, buf, flen + 1, &len, NULL, NULL, &rep)) != 0)
		return fail("read", rc);
	if (len != flen || memcmp(buf, want, flen) != 0 || buf[flen] != 0xa5)
		return fail("read: other bytes than FILE, or past its length", 0);
	void *got;
	uint64_t glen;
	if ((rc = npmu_stripe_get(conn, argv[2], 0, &got, &glen, NULL, NULL, NULL)) != 0)
		return fail("get", rc);
	if (glen != len || memcmp(got, buf, len) != 0)
		return fail("get and read differ", 0);
	printf("read %llu bytes of version %llu, same as get and FILE\n", (unsigned long long)len,
	       (unsigned long long)rep.version);
	free(got);
	free(buf);
	free(want);
	npmu_conn_delete(&conn);
	return 0;
}
