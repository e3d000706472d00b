/* A request file on the media, as `ca sign --media` reads it
 * (mirrors the loop in ca_sign_media). */
#include "fixture.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *der;
	char banner[64], why[WHY_CAP];
	csr_info *c;
	long got = HOSTCA_ERR_PEM;
	size_t k;

	if (size > MAX_PEM_FILE || (der = malloc(size + 1)) == NULL)
		return 0;
	for (k = 0; k < MAX_PEM_BLOCKS; k++) {
		got = hostca_pem_decode(data, size, k, banner, der, size);
		if (got < 0)
			break;
		if (strcmp(banner, "CERTIFICATE REQUEST") == 0
			|| strcmp(banner, "NEW CERTIFICATE REQUEST") == 0)
			break;
		if (strcmp(banner, "CERTIFICATE") == 0) {
			got = HOSTCA_ERR_NOT_CSR;
			break;
		}
	}
	if (got > 0 && k < MAX_PEM_BLOCKS && (c = malloc(sizeof *c)) != NULL) {
		csr_decode(c, der, (size_t)got, why);
		free(c);
	}
	free(der);
	return 0;
}
