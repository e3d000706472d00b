/* PKCS#10 requests: strict DER, signature, key, host ID and names. */
#include "fixture.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	csr_info *c = malloc(sizeof *c);
	char why[WHY_CAP];
	size_t i;

	if (c == NULL)
		return 0;
	why[0] = 0;
	if (csr_decode(c, data, size, why) == 0) {
		if (strlen(c->hostid) > HOSTCA_UUID_LEN || c->nnames > HOSTCA_MAX_NAMES)
			abort();
		for (i = 0; i < c->nnames; i++)
			if (strlen(c->names[i].text) > HOSTCA_MAX_NAME_LEN)
				abort();
	} else if (strlen(why) >= WHY_CAP) {
		abort();
	}
	free(c);
	return 0;
}
