/* PEM blocks: every index a media file may hold, and one past. */
#include "fixture.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char banner[64];
	unsigned char *der = malloc(size + 1);
	size_t k;
	long n;

	if (der == NULL)
		return 0;
	for (k = 0; k <= MAX_PEM_BLOCKS; k++) {
		n = hostca_pem_decode(data, size, k, banner, der, size);
		if (n < 0)
			break;
		if (n == 0 || (size_t)n > size || strlen(banner) >= 64)
			abort();
	}
	/* A short output buffer must be refused, not overrun. */
	if (size > 8)
		hostca_pem_decode(data, size, 0, NULL, der, size / 8);
	free(der);
	return 0;
}
