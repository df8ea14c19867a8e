/* size.h -- byte counts as people write and read them ("4G", "1.5 MiB"), for the command lines
 * of npmu, npmud and the tests. */
#ifndef NPMU_SIZE_H
#define NPMU_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* npmu__size_parse -- parse "4096", "64K", "1.5M", "4G", "1T" (binary units) into bytes; 0 or
 * NPMU_E_INVAL (the forms are written in size.c). */
int npmu__size_parse(const char *text, uint64_t *bytes);

/* npmu__size_format -- write a human-readable size ("1.5 MiB") into buf; returns buf. */
char *npmu__size_format(uint64_t bytes, char *buf, size_t buflen);

#endif
