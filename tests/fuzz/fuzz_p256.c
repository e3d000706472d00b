/*
 * hostca's variable-time P-256 verifier against BearSSL's, on the same
 * input: the verdicts must agree. The input picks a private key (so the
 * public key is a real point, or, with the first byte odd, raw bytes
 * taken as the point), a 32-byte hash, and either a signature BearSSL
 * made with one XOR mask over it, or raw signature bytes (up to 300:
 * malformed ones longer than any real signature included).
 */
#include "fixture.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char kb[32], q[BR_EC_KBUF_PUB_MAX_SIZE], hash[32], sig[300], raw[80];
	unsigned char *copy;
	br_ec_private_key sk;
	br_ec_public_key pk;
	size_t sl, i, e;
	uint32_t a, b;
	unsigned mode;

	if (size < 1 + 32 + 32)
		return 0;
	mode = data[0];
	memcpy(kb, data + 1, 32);
	memcpy(hash, data + 33, 32);
	if (mode & 1) {
		if (size < 1 + 32 + 32 + 65)
			return 0;
		memcpy(q, data + 65, 65);
		pk.q = q;
		pk.qlen = 65;
		data += 65;
		size -= 65;
	} else {
		sk.curve = BR_EC_secp256r1;
		sk.x = kb;
		sk.xlen = 32;
		if (br_ec_compute_pub(&br_ec_p256_m31, &pk, q, &sk) == 0)
			return 0;        /* zero or above the order */
	}
	pk.curve = BR_EC_secp256r1;
	data += 65;             /* what is left: the mask or the signature */
	size -= 65;
	if ((mode & 3) == 2) {
		/* BearSSL's signature, then the rest of the input XORed over it */
		sl = br_ecdsa_i31_sign_asn1(&br_ec_p256_m31, &br_sha256_vtable, hash, &sk, sig);
		for (i = 0; i < size && i < sl; i++)
			sig[i] ^= data[i];
	} else {
		sl = size > sizeof sig ? sizeof sig : size;
		memcpy(sig, data, sl);
	}
	/* A hash of 0 mod n is outside what BearSSL's muladd() takes. */
	memcpy(raw, hash, 32);
	for (e = 0; e < 32 && raw[e] == 0; e++)
		;
	if (e == 32)
		return 0;
	for (i = 0; i < 4; i++)
		for (e = 0; e < 8; e++)
			raw[31 - i * 8 - e] ^= (unsigned char)(p256_n[i] >> (8 * e));
	for (e = 0; e < 32 && raw[e] == 0; e++)
		;
	if (e == 32)
		return 0;
	/* exact-size copies, so ASan sees any read past the end */
	if ((copy = malloc(sl ? sl : 1)) == NULL)
		return 0;
	memcpy(copy, sig, sl);
	a = ecdsa_vrfy_asn1(&br_ec_p256_m31, hash, 32, &pk, copy, sl);
	/* Above 72 bytes no DER signature on P-256 fits: refused unseen
	 * (BearSSL's converter can overrun a short buffer there). */
	b = sl <= 72 ? br_ecdsa_i31_vrfy_asn1(&br_ec_p256_m31, hash, 32, &pk, copy, sl) : 0;
	free(copy);
	if (a != b) {
		fprintf(stderr, "fuzz_p256: hostca says %u, BearSSL says %u\n",
			(unsigned)a, (unsigned)b);
		abort();
	}
	return 0;
}
