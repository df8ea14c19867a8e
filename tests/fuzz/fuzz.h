/* fuzz.h -- the entry point every fuzz target defines (libFuzzer's, also driven by replay.c). */
#ifndef NPMU_FUZZ_H
#define NPMU_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
