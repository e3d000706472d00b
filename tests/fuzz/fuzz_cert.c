/* Certificates: the decoder, the chain check against a fixed CA, the API. */
#include "fixture.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const x509_info *ca = fuzz_ca();
	x509_info *c = malloc(sizeof *c);
	hostca_cert_info *info = malloc(sizeof *info);
	char why[WHY_CAP];

	if (c != NULL && info != NULL) {
		if (cert_decode(c, data, size, why) == 0) {
			chain_check(c, ca, FUZZ_NOW, why);
			chain_check(c, c, c->nb, why);      /* as its own anchor */
		}
		hostca_cert_info_decode(info, data, size);
	}
	free(c);
	free(info);
	return 0;
}
