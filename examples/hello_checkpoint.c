/* hello_checkpoint.c -- the smallest npmu client: checkpoint a state, persist it, read it back. */
#include <stdio.h>
#include <string.h>

#include <npmu.h>

int main(int argc, char **argv)
{
	struct npmu_conn_cfg cfg = {.server = argc > 1 ? argv[1] : NULL}; /* NULL: $NPMU_SERVER */
	struct npmu_conn *conn;
	struct npmu_region *region;
	char state[64] = "step 42: x=3.14159 y=2.71828";
	char back[64] = {0};
	int rc = npmu_conn_new(&cfg, &conn);
	if (rc != 0) {
		fprintf(stderr, "connect: %s\n", npmu_strerror(rc));
		return 1;
	}
	rc = npmu_region_create(conn, "hello.state", sizeof(state), NULL);
	if (rc != 0 && rc != NPMU_E_EXIST)
		goto out;
	if ((rc = npmu_region_open(conn, "hello.state", NPMU_ACCESS_READ_WRITE, &region)) != 0)
		goto out;
	if ((rc = npmu_region_write(region, 0, state, sizeof(state))) == 0 &&
	    (rc = npmu_region_persist(region, 0, sizeof(state), NPMU_PERSISTENT)) == 0 &&
	    (rc = npmu_region_read(region, 0, back, sizeof(back))) == 0)
		printf("checkpointed and read back: \"%s\" (%s)\n", back,
		       strcmp(back, state) == 0 ? "identical" : "DIFFERENT");
	npmu_region_close(&region);
out:
	if (rc != 0)
		fprintf(stderr, "npmu: %s\n", npmu_strerror(rc));
	npmu_conn_delete(&conn);
	return rc == 0 && strcmp(back, state) == 0 ? 0 : 1;
}
