/* fuzz_pool.c -- opening a damaged pool file: a pool with regions is made once; each input is a
 * list of patches (u16 offset into the superblocks and metadata areas, u8 length, bytes) laid
 * on a fresh copy of it, which is then opened. An open that succeeds must give a consistent
 * region table: every data page owned once (by a region or the free list). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"
#include "pool.h"
#include "unit.h"

static char dir[] = "/tmp/npmu-fuzz-pool-XXXXXX";
static char path[64];
static uint8_t *head; /* the template's head: superblocks and metadata areas */
static size_t head_len;

/* remove_template -- at exit: the pool file and its directory. */
static void remove_template(void)
{
	unlink(path);
	rmdir(dir);
}

/* make_template -- a 4 MiB pool with three regions (one grown into two extents, one removed). */
static int make_template(void)
{
	if (!mkdtemp(dir))
		return -1;
	atexit(remove_template);
	snprintf(path, sizeof(path), "%s/p.pool", dir);
	struct npmu__pool *p;
	struct npmu__unit *u;
	struct npmu_region_info info;
	if (npmu__pool_create(path, 4 << 20, &p) != 0 || npmu__unit_new(p, NULL, &u) != 0 ||
	    npmu__unit_create(u, "a", "alice", 10000, NULL, 0, &info) != 0 ||
	    npmu__unit_create(u, "b", "", 4096, NULL, 0, &info) != 0 ||
	    npmu__unit_resize(u, "a", 30000, &info) != 0 ||
	    npmu__unit_create(u, "c", "bob", 8192, NULL, 0, &info) != 0 ||
	    npmu__unit_remove(u, "b") != 0)
		return -1;
	head_len = (size_t)p->sb.data_start * NPMU_PAGE_SIZE;
	head = malloc(head_len);
	if (!head)
		return -1;
	memcpy(head, p->head, head_len);
	npmu__unit_delete(&u);
	npmu__pool_close(&p);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		npmu__log_threshold = -1; /* a damaged pool is logged; here that is noise */
		ready = make_template() == 0 ? 1 : -1;
	}
	if (ready < 0)
		return 0;
	uint8_t *img = malloc(head_len);
	if (!img)
		return 0;
	memcpy(img, head, head_len);
	for (size_t i = 0; i + 3 <= size;) {
		size_t off = (size_t)(data[i] | data[i + 1] << 8) * 8 % head_len, n = data[i + 2];
		i += 3;
		if (n > size - i)
			n = size - i;
		if (n > head_len - off)
			n = head_len - off;
		memcpy(img + off, data + i, n);
		i += n;
	}
	int fd = open(path, O_WRONLY);
	if (fd < 0 || pwrite(fd, img, head_len, 0) != (ssize_t)head_len) {
		if (fd >= 0)
			close(fd);
		free(img);
		return 0;
	}
	close(fd);
	free(img);
	struct npmu__pool *p;
	if (npmu__pool_open(path, &p) == 0) {
		uint64_t owned = 0;
		for (uint32_t r = 0; r < p->meta.nregions; r++)
			for (uint32_t e = 0; e < p->meta.regions[r].nextents; e++)
				owned += p->meta.regions[r].extents[e].npages;
		if (p->alloc.nfree + owned != p->sb.npages - p->sb.data_start)
			__builtin_trap(); /* a page owned twice or by no one */
		npmu__pool_close(&p);
	}
	return 0;
}
