/* A request file on the media, as `ca sign --media` reads it: its CSR
 * block and a HOSTCA TOKEN PROOF block (request_unwrap, as batch_read
 * calls it), then the CSR decoded and the proof's MAC computed as the CA
 * would with a token found by its id. */
#include "fixture.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *der, h[32], mac[32], k[32];
	char why[WHY_CAP];
	sign_result *res;
	long got;

	if (size > MAX_PEM_FILE || (der = malloc(size + 1)) == NULL)
		return 0;
	if ((res = calloc(1, sizeof *res)) == NULL) {
		free(der);
		return 0;
	}
	got = request_unwrap(data, size, der, res);
	if (got > 0) {
		csr_decode(&res->csr, der, (size_t)got, why);
		if (res->has_proof && csr_info_hash(der, (size_t)got, h) == 0) {
			token_derive("ABCDEFGHIJKLMNOP", res->proof_id, k);
			token_proof_mac(k, h, mac);
			(void)ct_equal(mac, res->proof_mac, 32);
		}
	}
	free(res);
	free(der);
	return 0;
}
