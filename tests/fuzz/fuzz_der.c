/* The strict DER walker used for content hostca does not otherwise parse. */
#include "fixture.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy, so ASan sees any read past the end. */
	unsigned char *p = malloc(size ? size : 1);

	if (p == NULL)
		return 0;
	memcpy(p, data, size);
	der_check_tree(p, size, 0);
	free(p);
	return 0;
}
