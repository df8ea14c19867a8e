/* stripe_abi.c -- a program built before npmu_stripe_cfg grew `durability` keeps working
 * (tests/integration/stripe_ops.sh): it binds npmu_stripe_put@NPMU_0, whose struct ends at
 * `mirror`; the bytes after (its padding, here 0xff) are never read as a durability, while
 * today's npmu_stripe_put refuses such a durability. Usage: stripe_abi SERVER SET; prints
 * "old entry point: version V restored". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npmu.h"

/* npmu_stripe_cfg as NPMU_0 laid it out, its tail padding as an old program may leave it. */
struct old_cfg {
	uint32_t k, m, n;
	uint64_t seg_size;
	uint32_t keep;
	uint64_t capacity;
	int mirror;
	uint32_t padding; /* not a field then: whatever the caller's stack held */
};

int old_put(struct npmu_conn *conn, const char *name, const void *data, uint64_t len,
	    const struct old_cfg *cfg, npmu_progress_fn progress, void *arg, uint64_t *version);
__asm__(".symver old_put, npmu_stripe_put@NPMU_0");

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: stripe_abi SERVER SET\n");
		return 2;
	}
	struct npmu_conn_cfg cc = {.server = argv[1]};
	struct npmu_conn *conn;
	int rc = npmu_conn_new(&cc, &conn);
	static char data[100000];
	memset(data, 'x', sizeof(data));
	struct old_cfg old;
	memset(&old, 0xff, sizeof(old));
	old = (struct old_cfg){.k = 2, .m = 1, .seg_size = 4096, .padding = 0xffffffffu};
	struct npmu_stripe_cfg now = {.k = 2, .m = 1, .seg_size = 4096};
	memcpy(&now.durability, &old.padding, sizeof(now.durability));
	uint64_t v = 0;
	if (rc == 0 && (rc = npmu_stripe_put(conn, argv[2], data, sizeof(data), &now, NULL, NULL,
					     &v)) != NPMU_E_INVAL) {
		fprintf(stderr, "stripe_abi: today's put took durability 0xffffffff: %s\n",
			npmu_strerror(rc));
		return 1;
	}
	rc = old_put(conn, argv[2], data, sizeof(data), &old, NULL, NULL, &v);
	void *got = NULL;
	uint64_t len = 0;
	if (rc == 0)
		rc = npmu_stripe_get(conn, argv[2], v, &got, &len, NULL, NULL, NULL);
	if (rc != 0 || len != sizeof(data) || memcmp(got, data, len) != 0) {
		fprintf(stderr, "stripe_abi: the old entry point: %s\n",
			rc ? npmu_strerror(rc) : "other bytes");
		return 1;
	}
	printf("old entry point: version %llu restored\n", (unsigned long long)v);
	free(got);
	npmu_conn_delete(&conn);
	return 0;
}
