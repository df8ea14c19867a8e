/* prefault.c -- fault in a fresh buffer's pages on a second thread while its bytes arrive. */
#include "prefault.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#define STEP (2u << 20) /* bytes faulted per call: the reader overtakes at this grain */

/* run -- fault in the buffer's whole pages front to back. MADV_POPULATE_WRITE never changes
 * a page's contents, so it may race the reader's writes; where the kernel lacks it (before
 * Linux 5.14) the thread stops and the reader faults the pages itself, as without it. */
static void *run(void *arg)
{
	struct npmu__prefault *pf = arg;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)pf->buf + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)pf->buf + pf->len) & ~(page - 1);
	for (uintptr_t p = lo; p < hi; p += STEP) {
		size_t n = hi - p < STEP ? hi - p : STEP;
		if (madvise((void *)p, n, MADV_POPULATE_WRITE) != 0)
			break; /* unsupported or already gone: the reader faults the rest */
	}
	return NULL;
}

/* npmu__prefault_start -- begin faulting in buf[0..len) on a thread of its own. */
void npmu__prefault_start(struct npmu__prefault *pf, void *buf, size_t len)
{
	pf->buf = buf;
	pf->len = len;
	pf->running = len >= NPMU_PREFAULT_MIN && pthread_create(&pf->thread, NULL, run, pf) == 0;
}

/* npmu__prefault_end -- wait for the faulting thread. */
void npmu__prefault_end(struct npmu__prefault *pf)
{
	if (pf->running)
		pthread_join(pf->thread, NULL);
	pf->running = false;
}
