/*
 * hostca.h -- the public API of hostca, a portable offline certificate
 * authority for hosts that never see a network.
 *
 * This header is the library for the host side (key generation, request
 * creation, response verification, CRL check) and for verification. Build
 * the library with
 *
 *     cc -DHOSTCA_NO_MAIN -c hostca.c
 *
 * and link with -lbearssl. Conventions, as in BearSSL:
 *
 *   - Functions that can fail return 0 on success or a negative
 *     HOSTCA_ERR_* code; hostca_strerror() turns a code into a sentence.
 *   - Encoders have the shape size_t f(void *dest, ...): with dest == NULL
 *     they return the number of bytes they would write; otherwise they
 *     write exactly that many bytes. A return of 0 is an error.
 *   - Parsers take (buf, len); they never read past len, never allocate,
 *     and accept strict DER only (no BER, no trailing bytes).
 *   - Nothing here prints or exits. The caller owns every buffer it
 *     passes. Working memory (a few kilobytes for DER encoding and
 *     decoding) comes from the allocator (hostca_set_allocator, malloc by
 *     default) and is freed before the call returns; nothing is kept
 *     between calls.
 *   - Times are seconds since 1970-01-01T00:00:00Z (int64_t).
 */
#ifndef HOSTCA_H
#define HOSTCA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef HOSTCA_API
#define HOSTCA_API
#endif

#define HOSTCA_VERSION "0.1.0"

/* ---- Errors ------------------------------------------------------------ */

#define HOSTCA_OK                    0
#define HOSTCA_ERR_NOMEM            -1  /* out of memory */
#define HOSTCA_ERR_IO               -2  /* read or write failed */
#define HOSTCA_ERR_DER              -3  /* not strict DER */
#define HOSTCA_ERR_PEM              -4  /* no or malformed PEM */
#define HOSTCA_ERR_LIMIT            -5  /* input exceeds a named limit */
#define HOSTCA_ERR_KEY_TYPE         -6  /* unsupported key type or size */
#define HOSTCA_ERR_SIG_ALG          -7  /* unsupported signature algorithm */
#define HOSTCA_ERR_SIGNATURE        -8  /* signature does not verify */
#define HOSTCA_ERR_NAME             -9  /* a name is not acceptable */
#define HOSTCA_ERR_NOT_CSR         -10  /* not a certificate request */
#define HOSTCA_ERR_EXPIRED         -11  /* certificate or CRL expired */
#define HOSTCA_ERR_NOT_YET_VALID   -12  /* certificate not valid yet */
#define HOSTCA_ERR_REVOKED         -13  /* certificate is revoked */
#define HOSTCA_ERR_UNTRUSTED       -14  /* not issued by the trusted CA */
#define HOSTCA_ERR_KEY_MISMATCH    -15  /* certificate is for another key */
#define HOSTCA_ERR_HOSTID          -16  /* missing or wrong host ID */
#define HOSTCA_ERR_RANDOM          -17  /* no system random source */
#define HOSTCA_ERR_ARG             -18  /* invalid argument */
#define HOSTCA_ERR_CRL             -19  /* CRL invalid, foreign or older */
#define HOSTCA_ERR_BUFFER          -20  /* caller's buffer too small */
#define HOSTCA_ERR_KEY             -21  /* private key invalid */
#define HOSTCA_ERR_PASSPHRASE      -22  /* wrong passphrase */
#define HOSTCA_ERR_NOT_CERT        -23  /* not a certificate */

/* Returns a constant sentence for a HOSTCA_ERR_* code (never NULL). */
HOSTCA_API const char *hostca_strerror(int err);

/*
 * The library's working memory comes from malloc/free unless this sets
 * another pair (NULL restores the default). Call it once, before any
 * other function, e.g. to serve the library from a static pool: each
 * call allocates at most a few blocks of at most 16 KiB and frees them
 * all before it returns.
 */
HOSTCA_API void hostca_set_allocator(void *(*alloc)(size_t),
	void (*release)(void *));

/* ---- Limits (also the limits of the CLI) ------------------------------- */

#define HOSTCA_MAX_DER        16384  /* one certificate, CSR or key */
#define HOSTCA_MAX_NAMES         32  /* DNS/IP names in one certificate */
#define HOSTCA_MAX_NAME_LEN     253  /* one DNS name */
#define HOSTCA_UUID_LEN          36  /* 8-4-4-4-12 lowercase hex */

/* ---- Keys -------------------------------------------------------------- */

#define HOSTCA_KEY_EC_P256   1
#define HOSTCA_KEY_EC_P384   2
#define HOSTCA_KEY_EC_P521   3
#define HOSTCA_KEY_RSA_2048  4
#define HOSTCA_KEY_RSA_3072  5
#define HOSTCA_KEY_RSA_4096  6

/*
 * A private key with its public half. Plain data: it may live in static
 * memory, and must be wiped with hostca_key_wipe() when done.
 * EC: comp[0] = private scalar, comp[1] = public point (uncompressed).
 * RSA: comp[0..4] = p, q, dp, dq, iq; comp[5] = n, comp[6] = e.
 */
#define HOSTCA_KEY_DATA_MAX  2048
typedef struct {
	int type;                              /* HOSTCA_KEY_*, 0 = empty */
	size_t off[7], len[7];                 /* components within data */
	unsigned char data[HOSTCA_KEY_DATA_MAX];
} hostca_key;

/* Name of a key type ("ec-p256", ...) or NULL; and back (0 if unknown). */
HOSTCA_API const char *hostca_key_type_name(int type);
HOSTCA_API int hostca_key_type_parse(const char *name);

/*
 * Generates a key of the given type. rng_seed/seed_len: NULL/0 draws from
 * the system's random source; otherwise the key is derived from the seed
 * (for tests and for devices that bring their own entropy).
 */
HOSTCA_API int hostca_key_generate(hostca_key *key, int type,
	const void *rng_seed, size_t seed_len);

/* PKCS#8 PrivateKeyInfo DER (two-pass encoder; 0 on error). */
HOSTCA_API size_t hostca_key_encode(void *dest, const hostca_key *key);

/* Decodes PKCS#8 (or raw RSA/EC) DER into key; computes the public half. */
HOSTCA_API int hostca_key_decode(hostca_key *key, const void *der, size_t len);

/* SHA-256 of the key's SubjectPublicKeyInfo DER. */
HOSTCA_API int hostca_key_fingerprint(const hostca_key *key,
	unsigned char out[32]);

/* Wipes the key (a wipe the compiler cannot remove). */
HOSTCA_API void hostca_key_wipe(hostca_key *key);

/* Wipes len bytes at p. */
HOSTCA_API void hostca_wipe(void *p, size_t len);

/* ---- Host identity and requests ---------------------------------------- */

/* Writes a random UUID v4 (36 chars + NUL) into out. */
HOSTCA_API int hostca_uuid_generate(char out[HOSTCA_UUID_LEN + 1]);

/* 1 if s is a UUID in canonical form (any case), else 0. */
HOSTCA_API int hostca_uuid_check(const char *s);

/*
 * A PKCS#10 request signed by key: subject CN=<hostid>, a SAN with the
 * names (DNS names or IPv4/IPv6 literals) and URI:urn:uuid:<hostid>, a
 * randomNonce attribute (16 random bytes the caller draws once per
 * request, so that no two requests are alike), and (if challenge is not
 * NULL) a challengePassword attribute carrying a token. Two-pass with
 * the same arguments: dest == NULL gives the size; 0 on error.
 * (ECDSA signatures are deterministic, RFC 6979: both passes agree.)
 */
HOSTCA_API size_t hostca_csr_encode(void *dest, const hostca_key *key,
	const char *hostid, const char *const *names, size_t nnames,
	const char *challenge, const unsigned char nonce[16]);

/*
 * The proof that a request's host knows a token, without the token:
 * an HMAC-SHA256 over the request's CertificationRequestInfo, keyed by a
 * key derived from the token (the README's "Tokens" gives the protocol).
 * It travels beside the CSR as a PEM block "HOSTCA TOKEN PROOF"; put no
 * challengePassword in the CSR. csr is the CSR's DER. Two-pass: dest ==
 * NULL returns the size; 0 on error (a mistyped token, not a CSR).
 */
HOSTCA_API size_t hostca_token_proof_encode(void *dest, const char *token,
	const void *csr, size_t csr_len);

/* Random bytes from the system's source (for nonces). */
HOSTCA_API int hostca_random(void *out, size_t len);

/* ---- Certificates, CRLs, verification ---------------------------------- */

/* What hostca_cert_info() reads from a certificate. */
typedef struct {
	unsigned char serial[20];
	size_t serial_len;
	int64_t not_before, not_after;
	char hostid[HOSTCA_UUID_LEN + 1];      /* "" when none */
	size_t nnames;
	char names[HOSTCA_MAX_NAMES][HOSTCA_MAX_NAME_LEN + 1];
	unsigned char key_fp[32];              /* SHA-256 of the SPKI */
	int is_ca;
} hostca_cert_info;

/* Parses a DER certificate (strict DER); fills info. */
HOSTCA_API int hostca_cert_info_decode(hostca_cert_info *info,
	const void *der, size_t len);

/*
 * Verifies that cert (DER) was issued by ca (DER) and is valid at time
 * now; if crl (DER) is not NULL, the CRL must be signed by ca, current at
 * now (HOSTCA_ERR_EXPIRED past its nextUpdate, HOSTCA_ERR_CRL before its
 * thisUpdate, as OpenSSL's -crl_check), and must not list cert
 * (HOSTCA_ERR_REVOKED; *reason, if not NULL, receives the RFC 5280 reason
 * code, -1 when the entry has none).
 */
HOSTCA_API int hostca_cert_verify(const void *cert, size_t cert_len,
	const void *ca, size_t ca_len, const void *crl, size_t crl_len,
	int64_t now, int *reason);

/*
 * Verifies a CRL (DER) against the CA certificate (DER) and gives its
 * CRL number (up to 20 bytes, big-endian, into number/number_len) and
 * thisUpdate/nextUpdate.
 */
HOSTCA_API int hostca_crl_check(const void *crl, size_t crl_len,
	const void *ca, size_t ca_len, unsigned char number[20],
	size_t *number_len, int64_t *this_update, int64_t *next_update);

/*
 * Checks a response for this host: cert (DER) must be issued by the
 * pinned CA (DER), be for key, and be valid at max(now, time_floor).
 * If hostid is not empty it must match the certificate's host ID, unless
 * allow_adopt is set (a reinstalled host adopting the host ID that its
 * reissue token named); the certificate's host ID is copied to hostid.
 */
HOSTCA_API int hostca_response_check(const void *cert, size_t cert_len,
	const void *ca, size_t ca_len, const hostca_key *key,
	char hostid[HOSTCA_UUID_LEN + 1], int allow_adopt,
	int64_t now, int64_t time_floor);

/* ---- PEM --------------------------------------------------------------- */

/* PEM block with the given banner ("CERTIFICATE", ...); two-pass. */
HOSTCA_API size_t hostca_pem_encode(void *dest, const char *banner,
	const void *der, size_t len);

/*
 * Finds the index-th PEM block in (pem, len). Decodes its body into
 * der (capacity der_cap) and its banner into banner (capacity 64).
 * Returns the DER length (>0) or a negative error; HOSTCA_ERR_PEM when
 * there is no such block.
 */
HOSTCA_API long hostca_pem_decode(const void *pem, size_t len, size_t index,
	char banner[64], void *der, size_t der_cap);

#ifdef __cplusplus
}
#endif

#endif /* HOSTCA_H */
