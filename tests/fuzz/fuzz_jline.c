/* One journal record line: split and unescape (on a NUL-terminated copy). */
#include "fixture.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *work = malloc(size + 1);
	jline l;
	size_t i;

	if (work == NULL)
		return 0;
	memcpy(work, data, size);
	work[size] = 0;
	if (jline_parse(&l, work) == 0) {
		for (i = 0; i < l.n; i++)
			if (l.voff[i] + l.vlen[i] > size)
				abort();
		jget(&l, "cert");
		jnum(&l, "max", 1);
	}
	free(work);
	return 0;
}
