/* Private keys as key_load reads them: PEM or DER; PKCS#8, SEC1, PKCS#1;
 * PBES2-encrypted with a fixed passphrase. */
#include "fixture.h"

#define FUZZ_MAX_ITER 2048   /* key_decrypt allows 1e8: slow, not a bug */

/* The iteration count key_decrypt would use, or 0 (mirrors its walk). */
static uint32_t
pbes2_iter(const unsigned char *p, size_t len)
{
	derr r, s, a, ps, kdf, kp;
	derel oid, salt, iter;
	uint32_t it = 0;

	dr_init(&r, p, len);
	dr_enter(&r, 0x30, &s);
	dr_enter(&s, 0x30, &a);
	dr_expect(&a, 0x06, &oid);
	dr_enter(&a, 0x30, &ps);
	dr_enter(&ps, 0x30, &kdf);
	dr_expect(&kdf, 0x06, &oid);
	dr_enter(&kdf, 0x30, &kp);
	dr_expect(&kp, 0x04, &salt);
	dr_get(&kp, &iter);
	if (r.err || s.err || a.err || ps.err || kdf.err || kp.err
		|| der_small(&iter, 0x02, &it) < 0)
		return 0;
	return it;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hostca_key k;
	char banner[64];
	unsigned char *der = malloc(size + 1), *plain;
	const unsigned char *p = data;
	size_t len = size, pl;
	long n;

	if (der == NULL)
		return 0;
	if ((n = hostca_pem_decode(data, size, 0, banner, der, size)) > 0)
		p = der, len = (size_t)n;
	hostca_key_decode(&k, p, len);
	hostca_key_wipe(&k);
	if (pbes2_iter(p, len) <= FUZZ_MAX_ITER
		&& key_decrypt(p, len, "fuzz", &plain, &pl) == 0) {
		hostca_key_decode(&k, plain, pl);
		hostca_key_wipe(&k);
		free(plain);
	}
	free(der);
	return 0;
}
