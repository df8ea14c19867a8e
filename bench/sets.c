/* sets.c -- mirrored regions next to single ones, ISA-L coding, and a whole checkpoint put and
 * restored as a single region, a mirrored region and a striped set (k=4, m=2 over six units). */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ec.h"

#define BLOCKS 3

/* open_pair -- a single and a mirrored region of len bytes through pmmd, opened read-write. */
static void open_pair(struct npmu_conn *conn, const char *prefix, uint64_t len,
		      struct npmu_region **single, struct npmu_region **mirror)
{
	char a[64], b[64];
	snprintf(a, sizeof(a), "%s.single", prefix);
	snprintf(b, sizeof(b), "%s.mirror", prefix);
	struct npmu_region_opts one = {0}, two = {.mirror = 1};
	int rc = npmu_region_create_ex(conn, a, len, &one, NULL);
	if (rc == 0)
		rc = npmu_region_create_ex(conn, b, len, &two, NULL);
	if (rc == 0)
		rc = npmu_region_open(conn, a, NPMU_ACCESS_READ_WRITE, single);
	if (rc == 0)
		rc = npmu_region_open(conn, b, NPMU_ACCESS_READ_WRITE, mirror);
	if (rc != 0)
		bail("mirrored and single regions", rc);
}

/* close_pair -- close and delete what open_pair made. */
static void close_pair(struct npmu_conn *conn, const char *prefix, struct npmu_region **single,
		       struct npmu_region **mirror)
{
	char a[64], b[64];
	snprintf(a, sizeof(a), "%s.single", prefix);
	snprintf(b, sizeof(b), "%s.mirror", prefix);
	npmu_region_close(single);
	npmu_region_close(mirror);
	npmu_region_delete(conn, a);
	npmu_region_delete(conn, b);
}

/* bench_mirrored -- a mirrored region's writes and reads next to a single region's, through
 * the same pmmd (each copy on its own unit), in alternating blocks. */
void bench_mirrored(const struct bench_env *env)
{
	struct npmu_conn_cfg cfg = {.server = env->pmmd};
	struct npmu_conn *conn;
	struct npmu_region *single, *mirror;
	int rc = npmu_conn_new(&cfg, &conn);
	if (rc != 0)
		bail("connect to pmmd", rc);
	open_pair(conn, "bench.m", 64u << 20, &single, &mirror);
	int per = env->quick ? 300 : 2000, bper = env->quick ? 2 : 5;
	report_section("mirrored region (two units) next to a single region", NULL);
	for (int w = 1; w >= 0; w--) {
		struct samples s = {0}, m = {0}, sb = {0}, mb = {0};
		for (int b = 0; b < BLOCKS; b++) {
			region_latency(single, w, 4096, per, &s);
			region_latency(mirror, w, 4096, per, &m);
			region_bandwidth(single, w, 64u << 20, bper, &sb);
			region_bandwidth(mirror, w, 64u << 20, bper, &mb);
		}
		report_figure(w ? "mirrored write 4 KiB p50" : "mirrored read 4 KiB p50", "us",
			      stat_pct(&m, 50, BLOCKS));
		report_baseline("single region", stat_pct(&s, 50, BLOCKS), GOAL_NONE, 0);
		report_figure(w ? "mirrored write 4 KiB p99" : "mirrored read 4 KiB p99", "us",
			      stat_pct(&m, 99, BLOCKS));
		report_baseline("single region", stat_pct(&s, 99, BLOCKS), GOAL_NONE, 0);
		report_figure(w ? "mirrored write 64 MiB" : "mirrored read 64 MiB", "MiB/s",
			      stat_of(&mb));
		report_baseline("single region", stat_of(&sb), GOAL_NONE, 0);
		samples_free(&s);
		samples_free(&m);
		samples_free(&sb);
		samples_free(&mb);
	}
	report_note("%d blocks of %d operations (latency) and %d transfers (bandwidth), single and "
		    "mirrored alternating; a mirrored write goes to both units at once and completes "
		    "when both have it, a read goes to one copy; the units sleep between operations "
		    "(--spin-us 0) and share this machine's cores, so the mirrored write bandwidth is "
		    "one machine doing the copying of both units", BLOCKS, per, bper);
	close_pair(conn, "bench.m", &single, &mirror);
	npmu_conn_delete(&conn);
}

/* whole_region -- write (and persist) or read len bytes of a region in 8 MiB pieces; seconds. */
static double whole_region(struct npmu_region *r, int write, uint8_t *buf, uint64_t len)
{
	uint64_t t = now_ns();
	for (uint64_t off = 0; off < len; off += 8u << 20) {
		size_t n = len - off < (8u << 20) ? (size_t)(len - off) : 8u << 20;
		int rc = write ? npmu_region_write(r, off, buf + off, n)
			       : npmu_region_read(r, off, buf + off, n);
		if (rc != 0)
			bail("region transfer", rc);
	}
	if (write && npmu_region_persist(r, 0, len, NPMU_PERSISTENT) != 0)
		bail("persist", NPMU_E_IO);
	return (double)(now_ns() - t) / 1e9;
}

/* coding -- ISA-L encode and decode throughput of 4+2 groups of 1 MiB sub-segments. */
static void coding(const struct bench_env *env, uint8_t *data, uint8_t *back, uint64_t len)
{
	struct npmu__ec ec;
	npmu__ec_init(&ec, 4, 2);
	size_t seg = 1u << 20;
	uint8_t *par = malloc(2 * seg), *frag[6];
	if (!par)
		bail("coding", NPMU_E_NOMEM);
	struct samples enc = {0}, dec = {0};
	int reps = env->quick ? 1 : 3;
	double mib = (double)len / (1 << 20);
	for (int rep = 0; rep < reps; rep++) {
		uint64_t t = now_ns();
		for (uint64_t off = 0; off + 4 * seg <= len; off += 4 * seg) {
			uint8_t *d[4] = {data + off, data + off + seg, data + off + 2 * seg,
					 data + off + 3 * seg};
			uint8_t *p[2] = {par, par + seg};
			npmu__ec_encode(&ec, seg, d, p);
		}
		samples_add(&enc, mib / ((double)(now_ns() - t) / 1e9));
		t = now_ns();
		for (uint64_t off = 0; off + 4 * seg <= len; off += 4 * seg) { /* two data lost */
			for (int j = 0; j < 4; j++)
				frag[j] = back + off + (size_t)j * seg;
			frag[4] = par;
			frag[5] = par + seg;
			uint8_t present[6] = {0, 1, 0, 1, 1, 1};
			npmu__ec_decode(&ec, seg, frag, present);
		}
		samples_add(&dec, mib / ((double)(now_ns() - t) / 1e9));
	}
	report_section("erasure coding (ISA-L, 4+2 groups of 1 MiB)", NULL);
	report_figure("encode", "MiB/s", stat_of(&enc));
	report_figure("decode, two data sub-segments lost", "MiB/s", stat_of(&dec));
	report_note("%d passes over %llu MiB, in the benchmark's process, one core", reps,
		    (unsigned long long)(len >> 20));
	samples_free(&enc);
	samples_free(&dec);
	free(par);
}

/* The samples of bench_striped: put and restored as a single region, a mirrored region and a
 * striped set (put: a set's later puts; restore: into the buffer in use, npmu_stripe_read). */
struct striped_runs {
	struct samples put[3], get[3];
	struct samples get_new; /* a striped set restored into new memory (npmu_stripe_get) */
	struct samples first, later; /* seconds: a new set's first put, later puts */
};

/* striped_rep -- one repetition: the checkpoint put and restored each way. */
static void striped_rep(struct npmu_conn *conn, struct npmu_region *single,
			struct npmu_region *mirror, uint8_t *data, uint8_t *back, uint64_t len,
			int rep, struct striped_runs *sr)
{
	struct npmu_stripe_cfg sc = {.k = 4, .m = 2};
	double mib = (double)len / (1 << 20);
	samples_add(&sr->put[0], mib / whole_region(single, 1, data, len));
	samples_add(&sr->get[0], mib / whole_region(single, 0, back, len));
	samples_add(&sr->put[1], mib / whole_region(mirror, 1, data, len));
	samples_add(&sr->get[1], mib / whole_region(mirror, 0, back, len));
	uint64_t t = now_ns();
	int rc = npmu_stripe_put(conn, "bench.ck.set", data, len, &sc, NULL, NULL, NULL);
	if (rc != 0)
		bail("stripe put", rc);
	double s = (double)(now_ns() - t) / 1e9;
	samples_add(rep == 0 ? &sr->first : &sr->later, s);
	if (rep > 0)
		samples_add(&sr->put[2], mib / s);
	uint64_t glen;
	memset(back, 0, len);
	t = now_ns();
	if ((rc = npmu_stripe_read(conn, "bench.ck.set", 0, back, len, &glen, NULL, NULL, NULL)))
		bail("stripe read", rc);
	samples_add(&sr->get[2], mib / ((double)(now_ns() - t) / 1e9));
	if (glen != len || memcmp(back, data, len) != 0)
		bail("stripe read: other bytes", NPMU_E_CORRUPT);
	void *got;
	t = now_ns();
	if ((rc = npmu_stripe_get(conn, "bench.ck.set", 0, &got, &glen, NULL, NULL, NULL)) != 0)
		bail("stripe get", rc);
	samples_add(&sr->get_new, mib / ((double)(now_ns() - t) / 1e9));
	if (glen != len || memcmp(got, data, len) != 0)
		bail("stripe get: other bytes", NPMU_E_CORRUPT);
	free(got);
}

/* striped_report -- the section of bench_striped. */
static void striped_report(uint64_t len, int reps, struct striped_runs *sr)
{
	char title[96];
	snprintf(title, sizeof(title), "a %llu MiB checkpoint put (persistent) and restored",
		 (unsigned long long)(len >> 20));
	report_section(title, NULL);
	struct stat3 s_put = stat_of(&sr->put[0]), s_get = stat_of(&sr->get[0]);
	report_figure("put, mirrored region (2 units, 2.00x)", "MiB/s", stat_of(&sr->put[1]));
	report_baseline("single region", s_put, GOAL_NONE, 0);
	report_figure("put, striped set 4+2 (6 units, 1.50x)", "MiB/s", stat_of(&sr->put[2]));
	report_baseline("single region", s_put, GOAL_NONE, 0);
	report_figure("put, a new striped set's first", "s", stat_of(&sr->first));
	report_baseline("a later put", stat_of(&sr->later), GOAL_AT_MOST, 1.5);
	report_figure("restore, single region", "MiB/s", s_get);
	report_baseline("raw fi_read 64 MiB", ref_raw_read_bw_64m, GOAL_NONE, 0);
	report_figure("restore, mirrored region", "MiB/s", stat_of(&sr->get[1]));
	report_baseline("single region", s_get, GOAL_NONE, 0);
	report_figure("restore, striped set", "MiB/s", stat_of(&sr->get[2]));
	report_baseline("single region", s_get, GOAL_AT_LEAST, 0.70);
	report_figure("restore, striped set into new memory", "MiB/s", stat_of(&sr->get_new));
	report_baseline("single region", s_get, GOAL_NONE, 0);
	report_note("%d times each; in parentheses the storage used per byte of checkpoint; put "
		    "includes the flush to the units' persistence domain (for the set also encoding, "
		    "checksums, manifests; the first put of the new set also makes its six members, "
		    "later puts are the set's figure); every restore reads into the buffer the "
		    "single region's restore uses (the set's: npmu_stripe_read) and checks every "
		    "sub-segment's checksum and the whole one's, except \"into new memory\" "
		    "(npmu_stripe_get), which also pays the page faults of a fresh buffer; all six "
		    "units share this machine's cores and disk", reps);
}

/* bench_striped -- ISA-L coding, and one checkpoint of len bytes put (persistent) and restored
 * as a single region, a mirrored region and a striped set. */
void bench_striped(const struct bench_env *env, uint64_t len)
{
	uint8_t *data = malloc(len), *back = malloc(len);
	if (!data || !back)
		bail("striped", NPMU_E_NOMEM);
	for (uint64_t i = 0; i < len; i += 8)
		*(uint64_t *)(data + i) = i * 0x9e3779b97f4a7c15ull;
	coding(env, data, back, len);
	struct npmu_conn_cfg cfg = {.server = env->pmmd};
	struct npmu_conn *conn;
	int rc = npmu_conn_new(&cfg, &conn);
	if (rc != 0)
		bail("connect to pmmd", rc);
	struct npmu_region *single, *mirror;
	open_pair(conn, "bench.ck", len, &single, &mirror);
	struct striped_runs sr = {0};
	int reps = env->quick ? 2 : 4; /* the first put makes the set: the others are later puts */
	for (int rep = 0; rep < reps; rep++)
		striped_rep(conn, single, mirror, data, back, len, rep, &sr);
	striped_report(len, reps, &sr);
	for (int k = 0; k < 3; k++) {
		samples_free(&sr.put[k]);
		samples_free(&sr.get[k]);
	}
	samples_free(&sr.get_new);
	samples_free(&sr.first);
	samples_free(&sr.later);
	close_pair(conn, "bench.ck", &single, &mirror);
	for (int i = 0; i < 6; i++) {
		char rn[32];
		snprintf(rn, sizeof(rn), "bench.ck.set.s%d", i);
		npmu_region_delete(conn, rn);
	}
	npmu_conn_delete(&conn);
	free(data);
	free(back);
}
