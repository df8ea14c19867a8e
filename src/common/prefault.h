/* prefault.h -- fault in a fresh buffer's pages on a second thread while its bytes arrive. */
#ifndef NPMU_PREFAULT_H
#define NPMU_PREFAULT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * A restore into fresh memory pays a page fault per page: the kernel zeroes each page, and
 * under a hypervisor backs it first. Taken by the thread receiving the bytes, those faults
 * serialise with the transfer. npmu__prefault_start runs them on a thread of their own,
 * front to back, while the caller reads into the same buffer; pages the reader reaches
 * first it simply faults itself. Small buffers (below NPMU_PREFAULT_MIN) are left alone.
 */
#define NPMU_PREFAULT_MIN (8u << 20)

struct npmu__prefault {
	pthread_t thread;
	bool running;
	char *buf;
	size_t len;
};

/* npmu__prefault_start -- begin faulting in buf[0..len) writable; never fails (a buffer it
 * cannot help with is left to fault as it is written). */
void npmu__prefault_start(struct npmu__prefault *pf, void *buf, size_t len);

/* npmu__prefault_end -- wait for the faulting thread (a no-op if none ran). */
void npmu__prefault_end(struct npmu__prefault *pf);

#endif
