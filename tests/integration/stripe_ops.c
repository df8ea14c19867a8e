/* stripe_ops.c -- the striped-set operations datasets build on (src/lib/stripe_ops.h), driven by
 * tests/integration/stripe_ops.sh against a running pmmd:
 *   stripe_ops SERVER slots SET          explicit versions and the slot rule, find, restore
 *   stripe_ops SERVER range-put SET FILE FILE as version 1 (4+2, 64 KiB sub-segments); prints
 *                                        "csum HEX tail-member I" (I: the member holding the
 *                                        tail group's partial data sub-segment)
 *   stripe_ops SERVER range SET FILE HEX byte ranges of version 1 against FILE; prints
 *                                        "ranges same as FILE, R sub-segment(s) decoded"
 *   stripe_ops SERVER busy SET           update under the lease; update and delete BUSY while
 *                                        another holds it; delete, then the set is gone
 * Each check that fails says which and exits 1. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npmu.h"
#include "stripe_ops.h"

static int fails;

/* check -- count and say a failed check. */
#define check(cond, ...)                                                                          \
	do {                                                                                      \
		if (!(cond)) {                                                                    \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                      \
			fprintf(stderr, __VA_ARGS__);                                             \
			fputc('\n', stderr);                                                      \
			fails++;                                                                  \
		}                                                                                 \
	} while (0)

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

/* pattern -- len bytes that differ for each seed. */
static unsigned char *pattern(size_t len, uint64_t seed)
{
	unsigned char *b = malloc(len ? len : 1);
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; b && i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (unsigned char)x;
	}
	return b;
}

/* put_v -- put len bytes of pattern seed as version v of set, keeping keep[0..nkeep). */
static int put_v(struct npmu_conn *c, const char *set, uint64_t v, uint64_t seed, size_t len,
		 const uint64_t *keep, uint32_t nkeep)
{
	unsigned char *b = pattern(len, seed);
	struct npmu_stripe_cfg cfg = {.k = 2, .m = 1, .n = 3, .seg_size = 4096, .keep = 2};
	struct npmu__stripe_put_opts o = {.version = v, .keep = keep, .nkeep = nkeep};
	uint64_t got = 0;
	int rc = npmu__stripe_put(c, set, b, len, &cfg, &o, NULL, NULL, &got);
	check(rc != 0 || got == v, "put of version %llu said version %llu", (unsigned long long)v,
	      (unsigned long long)got);
	free(b);
	return rc;
}

/* holds -- whether version v of set restores (public npmu_stripe_get) to pattern seed. */
static bool holds(struct npmu_conn *c, const char *set, uint64_t v, uint64_t seed, size_t len)
{
	void *got = NULL;
	uint64_t glen = 0;
	int rc = npmu_stripe_get(c, set, v, &got, &glen, NULL, NULL, NULL);
	unsigned char *want = pattern(len, seed);
	bool same = rc == 0 && glen == len && memcmp(got, want, len) == 0;
	free(got);
	free(want);
	return same;
}

/* slots -- a version put with its number lands in a slot holding no kept version, is found and
 * restored there, and NPMU_E_LIMIT leaves everything as it was. */
static void slots(struct npmu_conn *c, const char *set)
{
	const size_t len = 20000;
	uint64_t k7[] = {7}, k79[] = {7, 9};
	struct npmu__stripe_version fv;
	check(put_v(c, set, 5, 5, len, NULL, 0) == 0, "put 5");
	check(put_v(c, set, 7, 7, len, NULL, 0) == 0, "put 7 into the empty slot");
	/* 5 lies in slot 0, not 5 % 2: found where it lies */
	check(holds(c, set, 5, 5, len), "version 5 (slot 0) restores");
	check(holds(c, set, 7, 7, len), "version 7 restores");
	check(put_v(c, set, 9, 9, len, k7, 1) == 0, "put 9 keeping 7");
	check(holds(c, set, 7, 7, len), "kept version 7 intact after 9 (9 %% 2 is 7's slot)");
	check(holds(c, set, 9, 9, len), "version 9 restores");
	check(npmu__stripe_find(c, set, 5, &fv) == NPMU_E_NOENT, "5 (not kept) overwritten by 9");
	check(put_v(c, set, 11, 11, len, k79, 2) == NPMU_E_LIMIT, "every slot kept: NPMU_E_LIMIT");
	check(npmu__stripe_find(c, set, 11, &fv) == NPMU_E_NOENT, "11 not written");
	check(holds(c, set, 7, 7, len) && holds(c, set, 9, 9, len), "7 and 9 after the refusal");
	check(put_v(c, set, 9, 90, len + 5, k7, 1) == 0, "9 put again replaces itself");
	check(holds(c, set, 9, 90, len + 5) && holds(c, set, 7, 7, len), "9 replaced, 7 intact");
	check(npmu__stripe_find(c, set, 9, &fv) == 0 && fv.length == len + 5 && fv.members == 3,
	      "find 9: its length and three members holding it");
	check(npmu__stripe_find(c, set, 8, &fv) == NPMU_E_NOENT, "find of a version never put");
	check(npmu__stripe_find(c, "no-such-set", 1, &fv) == NPMU_E_NOENT, "find, no set");
	uint64_t v = 0;
	unsigned char *b = pattern(len, 12);
	check(npmu_stripe_put(c, set, b, len, NULL, NULL, NULL, &v) == 0 && v == 10,
	      "a plain put after: the newest + 1 (10), got %llu", (unsigned long long)v);
	free(b);
	printf("slots: %s\n", fails ? "FAILED" : "kept versions never overwritten");
}

/* range_put -- FILE as version 1; its checksum and the tail group's second member. */
static void range_put(struct npmu_conn *c, const char *set, const char *path)
{
	size_t len;
	unsigned char *data = slurp(path, &len);
	struct npmu_stripe_cfg cfg = {.k = 4, .m = 2, .seg_size = 65536};
	uint64_t csum = 0;
	struct npmu__stripe_put_opts o = {.version = 1, .length_csum = &csum};
	int rc = data ? npmu__stripe_put(c, set, data, len, &cfg, &o, NULL, NULL, NULL) : -1;
	check(rc == 0, "range-put: %s", rc == -1 ? path : npmu_strerror(rc));
	struct npmu__stripe_version fv = {0};
	check(npmu__stripe_find(c, set, 1, &fv) == 0 && fv.length_csum == csum && fv.length == len,
	      "find: the checksum and length of the put");
	uint32_t tail = (uint32_t)((len - 1) / (4 * 65536)); /* member_of(tail group, 1) */
	printf("csum %016llx tail-member %u\n", (unsigned long long)csum, (tail + 1) % 6);
	free(data);
}

/* range_one -- bytes [off, off + n) of version 1 against want; adds the decoded count. */
static void range_one(struct npmu_conn *c, const char *set, uint64_t csum,
		      const unsigned char *want, uint64_t off, uint64_t n, uint32_t *decoded)
{
	unsigned char *buf = malloc(n + 1);
	struct npmu_stripe_report rep;
	memset(buf, 0xa5, n + 1);
	int rc = npmu__stripe_read_range(c, set, 1, csum, off, buf, n, &rep);
	check(rc == 0 && memcmp(buf, want + off, n) == 0 && buf[n] == 0xa5,
	      "range %llu+%llu: %s", (unsigned long long)off, (unsigned long long)n,
	      rc ? npmu_strerror(rc) : "other bytes");
	*decoded += rep.repaired;
	free(buf);
}

/* range -- ranges of version 1 (across groups, the tail, whole) byte for byte as FILE. */
static void range(struct npmu_conn *c, const char *set, const char *path, uint64_t csum)
{
	size_t len;
	unsigned char *want = slurp(path, &len), b;
	const uint64_t g = 4 * 65536;
	uint32_t decoded = 0;
	if (!want || len < 3 * g)
		check(0, "%s: at least three groups", path);
	if (fails)
		return;
	range_one(c, set, csum, want, g - 100, 2 * g + 200, &decoded); /* four groups */
	range_one(c, set, csum, want, len - 70000, 70000, &decoded);    /* the tail */
	range_one(c, set, csum, want, g, g, &decoded);                  /* one whole group */
	range_one(c, set, csum, want, 0, len, &decoded);
	range_one(c, set, csum, want, 12345, 1, &decoded);
	check(npmu__stripe_read_range(c, set, 1, csum, len, &b, 0, NULL) == 0, "empty, at the end");
	check(npmu__stripe_read_range(c, set, 1, csum, len - 1, &b, 2, NULL) == NPMU_E_RANGE,
	      "past the end: NPMU_E_RANGE");
	check(npmu__stripe_read_range(c, set, 1, csum ^ 1, 0, &b, 1, NULL) == NPMU_E_CORRUPT,
	      "another write of version 1 (checksum differs): NPMU_E_CORRUPT");
	check(npmu__stripe_read_range(c, set, 2, csum, 0, &b, 1, NULL) == NPMU_E_NOENT,
	      "a version not put: NPMU_E_NOENT");
	printf("ranges same as FILE, %u sub-segment(s) decoded\n", decoded);
	free(want);
}

/* append -- an update: the current bytes with arg's letter after them (1 for "!": no change). */
static int append(const void *cur, uint64_t cur_len, void **out, uint64_t *out_len, void *arg)
{
	const char *letter = arg;
	if (*letter == '!')
		return 1;
	char *b = malloc(cur_len + 1);
	if (!b)
		return NPMU_E_NOMEM;
	if (cur_len)
		memcpy(b, cur, cur_len);
	b[cur_len] = *letter;
	*out = b;
	*out_len = cur_len + 1;
	return 0;
}

/* A writer holding a set's lease (inside its update) until told to go. */
struct holder {
	const char *server, *set;
	pthread_mutex_t lk;
	pthread_cond_t cv;
	bool inside, go;
	int rc;
};

/* hold_fn -- the holder's update: says it holds the lease, waits to be let go, changes nothing. */
static int hold_fn(const void *cur, uint64_t cur_len, void **out, uint64_t *out_len, void *arg)
{
	struct holder *h = arg;
	(void)cur, (void)cur_len, (void)out, (void)out_len;
	pthread_mutex_lock(&h->lk);
	h->inside = true;
	pthread_cond_broadcast(&h->cv);
	while (!h->go)
		pthread_cond_wait(&h->cv, &h->lk);
	pthread_mutex_unlock(&h->lk);
	return 1;
}

/* holder_main -- the holder's thread, on a connection of its own. */
static void *holder_main(void *arg)
{
	struct holder *h = arg;
	struct npmu_conn_cfg cfg = {.server = h->server};
	struct npmu_conn *c;
	h->rc = npmu_conn_new(&cfg, &c);
	if (h->rc == 0) {
		h->rc = npmu__stripe_update(c, h->set, NULL, -1, hold_fn, h);
		npmu_conn_delete(&c);
	}
	pthread_mutex_lock(&h->lk);
	h->inside = true; /* (also when it failed: nobody waits for ever) */
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->lk);
	return NULL;
}

/* newest_is -- whether set's newest version holds exactly the string want. */
static bool newest_is(struct npmu_conn *c, const char *set, const char *want)
{
	void *got = NULL;
	uint64_t len = 0;
	int rc = npmu_stripe_get(c, set, 0, &got, &len, NULL, NULL, NULL);
	bool same = rc == 0 && len == strlen(want) && memcmp(got, want, len) == 0;
	free(got);
	return same;
}

/* busy -- updates in turn; BUSY for an update (wait 0) and a delete while another writer holds
 * the set; then the delete goes through. */
static void busy(struct npmu_conn *c, const char *server, const char *set)
{
	struct npmu_stripe_cfg cfg = {.k = 2, .m = 1, .seg_size = 4096};
	check(npmu__stripe_update(c, set, &cfg, 0, append, "a") == 0, "update creates the set");
	check(npmu__stripe_update(c, set, &cfg, -1, append, "b") == 0, "second update");
	check(npmu__stripe_update(c, set, &cfg, 0, append, "!") == 0, "an update that changes nothing");
	struct npmu__stripe_version fv;
	check(newest_is(c, set, "ab") && npmu__stripe_find(c, set, 3, &fv) == NPMU_E_NOENT,
	      "after two updates and a no-change: \"ab\" as version 2");
	struct holder h = {.server = server, .set = set, .lk = PTHREAD_MUTEX_INITIALIZER,
			   .cv = PTHREAD_COND_INITIALIZER};
	pthread_t t;
	pthread_create(&t, NULL, holder_main, &h);
	pthread_mutex_lock(&h.lk);
	while (!h.inside)
		pthread_cond_wait(&h.cv, &h.lk);
	pthread_mutex_unlock(&h.lk);
	int urc = npmu__stripe_update(c, set, &cfg, 0, append, "c");
	int drc = npmu_stripe_delete(c, set);
	pthread_mutex_lock(&h.lk);
	h.go = true;
	pthread_cond_broadcast(&h.cv);
	pthread_mutex_unlock(&h.lk);
	pthread_join(t, NULL);
	check(h.rc == 0, "the holder's update: %s", npmu_strerror(h.rc));
	check(urc == NPMU_E_BUSY, "update (wait 0) while another holds the set: %s",
	      npmu_strerror(urc));
	check(drc == NPMU_E_BUSY, "delete while another holds the set: %s", npmu_strerror(drc));
	check(newest_is(c, set, "ab"), "nothing changed while busy");
	check(npmu_stripe_delete(c, set) == 0, "delete once free");
	check(npmu__stripe_find(c, set, 2, &fv) == NPMU_E_NOENT, "deleted: no version found");
	check(npmu_stripe_delete(c, set) == NPMU_E_NOENT, "delete again: NPMU_E_NOENT");
	printf("busy: %s\n", fails ? "FAILED" : "update and delete refused while held, then done");
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: stripe_ops SERVER slots|range-put|range|busy SET [FILE [HEX]]\n");
		return 2;
	}
	struct npmu_conn_cfg cfg = {.server = argv[1]};
	struct npmu_conn *c;
	int rc = npmu_conn_new(&cfg, &c);
	if (rc != 0) {
		fprintf(stderr, "stripe_ops: connect: %s\n", npmu_strerror(rc));
		return 1;
	}
	const char *op = argv[2], *set = argv[3];
	if (!strcmp(op, "slots"))
		slots(c, set);
	else if (!strcmp(op, "range-put") && argc == 5)
		range_put(c, set, argv[4]);
	else if (!strcmp(op, "range") && argc == 6)
		range(c, set, argv[4], strtoull(argv[5], NULL, 16));
	else if (!strcmp(op, "busy"))
		busy(c, argv[1], set);
	else
		check(0, "unknown operation %s", op);
	npmu_conn_delete(&c);
	return fails ? 1 : 0;
}
