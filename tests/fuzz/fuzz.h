/* fuzz: what every libFuzzer target in tests/fuzz shares.
 *
 * The entry point's prototype (the build warns about functions without
 * one) and FUZZ_CHECK(), which names the broken invariant on stderr and
 * aborts, so libFuzzer records the input as a crash: a target fails on a
 * wrong answer, not only on a memory error. */
#ifndef TCPCHAT_TEST_FUZZ_H
#define TCPCHAT_TEST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant broken: %s\n",       \
			        __FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#endif
