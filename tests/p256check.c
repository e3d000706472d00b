/*
 * tests/p256check.c: hostca's variable-time P-256 verifier against
 * BearSSL's, on the same input. Random keys and hashes signed by
 * BearSSL (SHA-1 to SHA-512 lengths), each then damaged one way or
 * another; signatures built with chosen r and s (0, 1, n - 1, n, r + n
 * cases); points off the curve; keys of the form k*G for small k. The
 * verdicts must agree every time, and every good signature must pass.
 *
 *   p256check [ROUNDS]       prints "p256check: N cases agree" or the
 *                            first disagreement, exit 1
 */
#define main hostca_cli_main
#include "../hostca.c"
#undef main

static br_hmac_drbg_context rng;
static unsigned char n_be[32];           /* the group order, big-endian */
static unsigned long cases, bad;

static void
rnd(void *p, size_t n)
{
	br_hmac_drbg_generate(&rng, p, n);
}

static unsigned
rnd_below(unsigned n)
{
	unsigned char b[4];

	rnd(b, 4);
	return (((unsigned)b[0] << 24 | (unsigned)b[1] << 16 | (unsigned)b[2] << 8 | b[3]) % n);
}

static void
hexdump(const char *what, const unsigned char *p, size_t n)
{
	size_t i;

	fprintf(stderr, "  %s: ", what);
	for (i = 0; i < n; i++)
		fprintf(stderr, "%02x", p[i]);
	fprintf(stderr, "\n");
}

static int
hash_is_zero_mod_n(const unsigned char *hash, size_t hl)
{
	unsigned char e[32];
	static const unsigned char z[32];

	memset(e, 0, 32);
	if (hl >= 32)
		memcpy(e, hash, 32);
	else
		memcpy(e + 32 - hl, hash, hl);
	return memcmp(e, z, 32) == 0 || memcmp(e, n_be, 32) == 0;
}

static void
compare(const char *what, const unsigned char *hash, size_t hl,
	const unsigned char *q, size_t ql, const unsigned char *sig, size_t sl, int must)
{
	br_ec_public_key pk;
	uint32_t a, b;

	pk.curve = BR_EC_secp256r1;
	pk.q = (unsigned char *)q;
	pk.qlen = ql;
	a = ecdsa_vrfy_asn1(&br_ec_p256_m31, hash, hl, &pk, sig, sl);
	b = br_ecdsa_i31_vrfy_asn1(&br_ec_p256_m31, hash, hl, &pk, sig, sl);
	/* A hash of 0 mod n makes u1 zero, which BearSSL's muladd() does
	 * not take (bearssl_ec.h): it refuses good signatures then, and
	 * accepts r = 0. Only the expected verdict counts for those. */
	if (hash_is_zero_mod_n(hash, hl))
		b = must >= 0 ? (uint32_t)must : a;
	cases++;
	if (a != b || (must >= 0 && a != (uint32_t)must)) {
		if (bad++ < 5) {
			fprintf(stderr, "p256check: %s: hostca %u, BearSSL %u, expected %d\n",
				what, (unsigned)a, (unsigned)b, must);
			hexdump("hash", hash, hl);
			hexdump("key", q, ql);
			hexdump("sig", sig, sl);
		}
	}
}

/* DER ECDSA-Sig-Value from two 32-byte big-endian numbers */
static size_t
sig_der(unsigned char *out, const unsigned char *r, const unsigned char *s)
{
	unsigned char raw[64];

	memcpy(raw, r, 32);
	memcpy(raw + 32, s, 32);
	return br_ecdsa_raw_to_asn1(memcpy(out, raw, 64), 64);
}

/* one = 2^256 mod m (m > 2^255), rr = 2^512 mod m, by doubling */
static void
mont_consts(fe one, fe rr, const fe m)
{
	static const fe zero = { 0, 0, 0, 0 };
	int i;

	fe_sub_raw(one, zero, m);
	memcpy(rr, one, sizeof(fe));
	for (i = 0; i < 256; i++)
		fe_add(rr, rr, rr, m);
}

/* hostca.c's Montgomery constants, recomputed; b from SEC 2 */
static int
check_consts(void)
{
	static const unsigned char b_be[32] = {
		0x5A, 0xC6, 0x35, 0xD8, 0xAA, 0x3A, 0x93, 0xE7, 0xB3, 0xEB, 0xBD, 0x55,
		0x76, 0x98, 0x86, 0xBC, 0x65, 0x1D, 0x06, 0xB0, 0xCC, 0x53, 0xB0, 0xF6,
		0x3B, 0xCE, 0x3C, 0x3E, 0x27, 0xD2, 0x60, 0x4B };
	fe one, rr, b;

	mont_consts(one, rr, p256_p);
	if (!fe_equal(one, p256_p_one) || !fe_equal(rr, p256_p_rr)) {
		fprintf(stderr, "p256check: the Montgomery constants mod p are wrong\n");
		return -1;
	}
	fe_decode(b, b_be);
	fp_mul(b, b, p256_p_rr);
	if (!fe_equal(b, p256_b_mont)) {
		fprintf(stderr, "p256check: b in Montgomery form is wrong\n");
		return -1;
	}
	mont_consts(one, rr, p256_n);
	if (!fe_equal(one, p256_n_one) || !fe_equal(rr, p256_n_rr)) {
		fprintf(stderr, "p256check: the Montgomery constants mod n are wrong\n");
		return -1;
	}
	return 0;
}

/* fe (little-endian limbs) to 32 bytes big-endian */
static void
fe_be(unsigned char *out, const fe a)
{
	int k, m;

	for (k = 0; k < 4; k++)
		for (m = 0; m < 8; m++)
			out[31 - k * 8 - m] = (unsigned char)(a[k] >> (8 * m));
}

/* 32-byte big-endian a + b (mod 2^256) */
static void
add_be(unsigned char *r, const unsigned char *a, const unsigned char *b)
{
	int i;
	unsigned c = 0;

	for (i = 31; i >= 0; i--) {
		c += (unsigned)a[i] + b[i];
		r[i] = (unsigned char)c;
		c >>= 8;
	}
}

int
main(int argc, char **argv)
{
	static const size_t hlens[] = { 20, 28, 32, 48, 64, 1, 0 };
	unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 10) : 3000, i;
	unsigned char kb[BR_EC_KBUF_PRIV_MAX_SIZE], pb[BR_EC_KBUF_PUB_MAX_SIZE];
	unsigned char hash[64], sig[80], s2[80], q2[65], raw[80], one[32], zero[32];
	unsigned char nm1[32], big[32];
	br_ec_private_key sk;
	br_ec_public_key pk;
	size_t sl, hl, j;
	int k;

	br_hmac_drbg_init(&rng, &br_sha256_vtable, "p256check", 9);
	memset(one, 0, 32);
	one[31] = 1;
	memset(zero, 0, 32);
	for (k = 0; k < 4; k++) {
		int m;
		for (m = 0; m < 8; m++)
			n_be[31 - k * 8 - m] = (unsigned char)(p256_n[k] >> (8 * m));
	}
	if (p256_n[0] * P256_NINV != (uint64_t)-1) {
		fprintf(stderr, "p256check: P256_NINV is not -1/n mod 2^64\n");
		return 1;
	}
	memcpy(nm1, n_be, 32);
	nm1[31] -= 1;

	/* the curve constants themselves: G on the curve (with b), and the
	 * Montgomery constants recomputed by doubling */
	if (!p256_point_ok(p256_g, 65)) {
		fprintf(stderr, "p256check: G is not on the curve\n");
		return 1;
	}
	if (check_consts() < 0)
		return 1;
	for (i = 0; i < rounds; i++) {
		br_ec_keygen(&rng.vtable, &br_ec_p256_m31, &sk, kb, BR_EC_secp256r1);
		if (i % 50 == 0) {
			/* small private keys: Q = kG for k = 1, 2, 3, ... and n - k */
			memset(kb, 0, 32);
			kb[31] = (unsigned char)(1 + i / 50 % 200);
			if (i % 100 == 50) {
				memcpy(kb, n_be, 32);
				kb[31] = (unsigned char)(kb[31] - 1 - i / 100 % 20);
			}
			sk.x = kb;
			sk.xlen = 32;
		}
		br_ec_compute_pub(&br_ec_p256_m31, &pk, pb, &sk);
		hl = hlens[rnd_below(sizeof hlens / sizeof hlens[0])];
		rnd(hash, sizeof hash);
		if (rnd_below(8) == 0)
			memset(hash, 0xff, hl);
		if (rnd_below(16) == 0)
			memset(hash, 0, hl);
		if (hl == 0)
			hl = 32;
		sl = br_ecdsa_i31_sign_asn1(&br_ec_p256_m31, &br_sha256_vtable,
			hash, &sk, sig);
		/* BearSSL's signer takes the hash length from the hash class:
		 * it signed 32 bytes; check those, then other lengths as forgeries */
		compare("good signature", hash, 32, pb, 65, sig, sl, 1);
		if (hl != 32)
			compare("other hash length", hash, hl, pb, 65, sig, sl, -1);
		/* one damaged byte or bit, anywhere */
		memcpy(s2, sig, sl);
		s2[rnd_below((unsigned)sl)] ^= (unsigned char)(1u << rnd_below(8));
		compare("damaged signature", hash, 32, pb, 65, s2, sl, -1);
		memcpy(q2, pb, 65);
		q2[1 + rnd_below(64)] ^= (unsigned char)(1u << rnd_below(8));
		compare("damaged key", hash, 32, q2, 65, sig, sl, 0);
		memcpy(hash + 32, hash, 32);
		hash[rnd_below(32)] ^= (unsigned char)(1u << rnd_below(8));
		compare("damaged hash", hash, 32, pb, 65, sig, sl, 0);
		memcpy(hash, hash + 32, 32);
		/* the same signature with s replaced by n - s is also valid */
		memcpy(raw, sig, sl);
		j = br_ecdsa_asn1_to_raw(raw, sl);
		if (j == 64) {
			unsigned char ns[32];
			fe a, b;
			memcpy(a, p256_n, sizeof a);
			fe_decode(b, raw + 32);
			fe_sub_raw(a, a, b);
			for (k = 0; k < 4; k++) {
				int m;
				for (m = 0; m < 8; m++)
					ns[31 - k * 8 - m] = (unsigned char)(a[k] >> (8 * m));
			}
			sl = sig_der(s2, raw, ns);
			compare("n - s", hash, 32, pb, 65, s2, sl, 1);
			/* r + n (below 2^256 in a few cases) must not pass */
			add_be(big, raw, n_be);
			if (memcmp(big, raw, 32) > 0) {
				sl = sig_der(s2, big, raw + 32);
				compare("r + n", hash, 32, pb, 65, s2, sl, 0);
			}
			/* r or s out of range */
			sl = sig_der(s2, zero, raw + 32);
			compare("r = 0", hash, 32, pb, 65, s2, sl, 0);
			sl = sig_der(s2, raw, zero);
			compare("s = 0", hash, 32, pb, 65, s2, sl, 0);
			sl = sig_der(s2, n_be, raw + 32);
			compare("r = n", hash, 32, pb, 65, s2, sl, 0);
			sl = sig_der(s2, raw, n_be);
			compare("s = n", hash, 32, pb, 65, s2, sl, 0);
			sl = sig_der(s2, nm1, raw + 32);
			compare("r = n - 1", hash, 32, pb, 65, s2, sl, 0);
			sl = sig_der(s2, one, one);
			compare("r = s = 1", hash, 32, pb, 65, s2, sl, 0);
			/* random r and s */
			rnd(raw, 64);
			sl = sig_der(s2, raw, raw + 32);
			compare("random r, s", hash, 32, pb, 65, s2, sl, 0);
		}
		/* a random point: almost never on the curve */
		rnd(q2 + 1, 64);
		compare("random point", hash, 32, q2, 65, sig, sl, -1);
	}
	/* a key is the generator itself, u1 G + u2 G cases */
	memset(kb, 0, 32);
	kb[31] = 1;
	sk.x = kb;
	sk.xlen = 32;
	br_ec_compute_pub(&br_ec_p256_m31, &pk, pb, &sk);
	if (memcmp(pb, p256_g, 65) != 0) {
		fprintf(stderr, "p256check: 1 * G is not G\n");
		bad++;
	}
	for (i = 0; i < 200; i++) {
		rnd(hash, 32);
		sl = br_ecdsa_i31_sign_asn1(&br_ec_p256_m31, &br_sha256_vtable, hash, &sk, sig);
		compare("key G", hash, 32, pb, 65, sig, sl, 1);
	}
	/*
	 * Signatures made here with the group arithmetic of hostca.c:
	 * with Q = G (d = 1) and the hash equal to r, u1 = u2 and the
	 * additions meet a doubling (P = Q); with the hash -r*d mod n for a
	 * random d and any s, u1 G + u2 Q is the point at infinity.
	 */
	{
		fe one_n, rr_n, kk, r, sv, t, d;
		unsigned char kx[65], rb[32], sb[32];
		br_ec_private_key ks;
		int m;

		mont_consts(one_n, rr_n, p256_n);
		for (i = 0; i < 200; i++) {
			rnd(kb, 32);
			kb[0] &= 0x7f;          /* below n */
			ks.curve = BR_EC_secp256r1;
			ks.x = kb;
			ks.xlen = 32;
			br_ec_compute_pub(&br_ec_p256_m31, NULL, kx, &ks);
			fe_decode(r, kx + 1);   /* x(kG) < p */
			if (!fe_below(r, p256_n))
				fe_sub_raw(r, r, p256_n);
			fe_decode(kk, kb);
			/* s = (e + r d) / k = 2r / k, with 1/k = k^(n-2) */
			fn_mul(t, kk, rr_n);
			memcpy(sv, one_n, sizeof sv);
			for (m = 255; m >= 0; m--) {
				fn_mul(sv, sv, sv);
				uint64_t limb = m < 64 ? p256_n[0] - 2 : p256_n[m >> 6];
				if ((limb >> (m & 63)) & 1)
					fn_mul(sv, sv, t);
			}
			fe_add(t, r, r, p256_n);
			fn_mul(sv, t, sv);      /* plain times Montgomery: plain */
			fe_be(rb, r);
			fe_be(sb, sv);
			sl = sig_der(sig, rb, sb);
			compare("Q = G, hash = r (u1 = u2)", rb, 32, p256_g, 65, sig, sl, 1);
			/* infinity: e = -r d mod n, s random */
			rnd(kb, 32);
			kb[0] &= 0x7f;
			if (kb[31] == 0)
				kb[31] = 1;
			br_ec_compute_pub(&br_ec_p256_m31, &pk, pb, &ks);
			fe_decode(d, kb);
			fn_mul(t, r, d);
			fn_mul(t, t, rr_n);     /* r d mod n */
			fe_sub(t, (const uint64_t[4]){ 0, 0, 0, 0 }, t, p256_n);
			fe_be(hash, t);
			rnd(sb, 32);
			sb[0] &= 0x7f;
			sl = sig_der(sig, rb, sb);
			compare("u1 G + u2 Q at infinity", hash, 32, pb, 65, sig, sl, 0);
		}
	}
	/*
	 * A signature whose point R has x(R) = n + 3, so that r = 3 (worked
	 * out with Python integers: the key Q is (R - u1 G) / u2 for the r,
	 * s and hash below). Accepted with r = 3, refused with r = n + 3.
	 */
	{
		static const char *const vec[] = {
			"1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef",
			"043e7382d9d064b6ec5afc9ff7ece69d7b0a31821f2f0f583fbeca78748524d1fa"
			"559046279d9f8e906bcb5d5419a90353a2fec2b9cf1ce3b51206012f010fcc4a",
			"0000000000000000000000000000000000000000000000000000000000000003",
			"0fedcba9876543210fedcba9876543210fedcba9876543210fedcba987654321" };
		unsigned char vh[32], vq[65], vr[32], vs[32];
		hex_decode(vh, 32, vec[0]);
		hex_decode(vq, 65, vec[1]);
		hex_decode(vr, 32, vec[2]);
		hex_decode(vs, 32, vec[3]);
		sl = sig_der(sig, vr, vs);
		compare("x(R) = n + 3, r = 3", vh, 32, vq, 65, sig, sl, 1);
		add_be(big, vr, n_be);
		sl = sig_der(sig, big, vs);
		compare("x(R) = n + 3, r = n + 3", vh, 32, vq, 65, sig, sl, 0);
		vs[31] ^= 1;
		sl = sig_der(sig, vr, vs);
		compare("x(R) = n + 3, r = 3, s changed", vh, 32, vq, 65, sig, sl, 0);
	}
	/* a hash of n (e = 0 mod n), and of n + small */
	memcpy(hash, n_be, 32);
	br_ec_keygen(&rng.vtable, &br_ec_p256_m31, &sk, kb, BR_EC_secp256r1);
	br_ec_compute_pub(&br_ec_p256_m31, &pk, pb, &sk);
	for (i = 0; i < 20; i++) {
		hash[31] = (unsigned char)(n_be[31] + i);
		sl = br_ecdsa_i31_sign_asn1(&br_ec_p256_m31, &br_sha256_vtable, hash, &sk, sig);
		compare("hash n + i", hash, 32, pb, 65, sig, sl, 1);
	}
	if (bad) {
		fprintf(stderr, "p256check: %lu of %lu cases disagree\n", bad, cases);
		return 1;
	}
	printf("p256check: %lu cases agree\n", cases);
	return 0;
}
