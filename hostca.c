/*
 * hostca.c -- a portable, offline certificate authority in one file.
 *
 * hostca issues host ID-based X.509 certificates to hosts that never see a
 * network: the only channel between the CA machine and its hosts is
 * removable media carried by a person. See README.md and hostca.1.
 *
 * Build:   cc -std=c99 -O2 -o hostca hostca.c -lbearssl -lpthread
 * Library: cc -std=c99 -O2 -DHOSTCA_NO_MAIN -c hostca.c   (see hostca.h)
 *
 * The file reads top to bottom in the order data flows:
 *
 *   1. portability, limits, errors
 *   2. bytes: wiping, hex, base64, random
 *   3. codecs: PEM, DER writer, DER reader, OIDs, times
 *   4. X.509 objects: names, keys and signatures, CSRs, certificates, CRLs
 *   5. verification (host side and `verify`)
 *   6. files: atomic writes, safe reads from media
 *   7. the CA: journal, state, policy, signing, revocation
 *   8. the host: identity, requests, install, renew, update, status
 *   9. CLI
 */

/* ======================================================================
 * 1. Portability, limits, errors
 * ====================================================================== */

#define _XOPEN_SOURCE 700   /* POSIX.1-2008 with XSI: sync() */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#include "hostca.h"

#ifndef O_NOFOLLOW
#define O_NOFOLLOW 0
#endif
#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

/* Named limits: every input size and count has one, here. */
#define MAX_DER_DEPTH        16        /* nesting of DER we walk */
#define MAX_PEM_FILE     (256 * 1024)  /* a request, response or PEM file */
#define MAX_CRL_FILE  (64 * 1024 * 1024) /* a CRL (100k entries ~ 5 MB) */
#define MAX_PEM_BLOCKS        8        /* blocks in one media file */
#define MAX_TOKEN_NAME       64        /* token names */
#define MAX_CA_NAME         128        /* CA common name */
#define MAX_REASON_TEXT     200        /* free-text reasons */
#define MAX_CHALLENGE       128        /* challengePassword */
#define MAX_JOURNAL_LINE  (64 * 1024)  /* one journal event */
#define MAX_REQUESTS      100000       /* files in requests/ per run */
#define MAX_PASSPHRASE     1024
#define DERW_SLOTS          256        /* constructed elements per encoding */
#define TOKEN_LETTERS        16
#define PBKDF2_ITERATIONS 600000
#define INDEX_EVERY       1000      /* journal entries between index renewals */

#define MKSTEMP_X "XX" "XX" "XX"    /* the six characters mkstemp() replaces */

/* hostca_strerror()'s texts, in the order of the codes 0, -1, -2, ... */
static const char err_texts[] =
	"success\0"	/* HOSTCA_OK */
	"out of memory\0"	/* HOSTCA_ERR_NOMEM */
	"read or write failed\0"	/* HOSTCA_ERR_IO */
	"malformed: not strict DER\0"	/* HOSTCA_ERR_DER */
	"no PEM block found, or a malformed one\0"	/* HOSTCA_ERR_PEM */
	"too large: exceeds a hostca limit\0"	/* HOSTCA_ERR_LIMIT */
	"unsupported key type\0"	/* HOSTCA_ERR_KEY_TYPE */
	"unsupported signature algorithm\0"	/* HOSTCA_ERR_SIG_ALG */
	"signature does not verify\0"	/* HOSTCA_ERR_SIGNATURE */
	"a name is not acceptable\0"	/* HOSTCA_ERR_NAME */
	"not a certificate request (PKCS#10)\0"	/* HOSTCA_ERR_NOT_CSR */
	"expired\0"	/* HOSTCA_ERR_EXPIRED */
	"not valid yet\0"	/* HOSTCA_ERR_NOT_YET_VALID */
	"revoked\0"	/* HOSTCA_ERR_REVOKED */
	"not issued by the trusted CA\0"	/* HOSTCA_ERR_UNTRUSTED */
	"certificate is for another key\0"	/* HOSTCA_ERR_KEY_MISMATCH */
	"missing or wrong host ID\0"	/* HOSTCA_ERR_HOSTID */
	"no system random source\0"	/* HOSTCA_ERR_RANDOM */
	"invalid argument\0"	/* HOSTCA_ERR_ARG */
	"CRL invalid, from another CA, or not newer\0"	/* HOSTCA_ERR_CRL */
	"buffer too small\0"	/* HOSTCA_ERR_BUFFER */
	"private key invalid\0"	/* HOSTCA_ERR_KEY */
	"wrong passphrase (or corrupted key)\0"	/* HOSTCA_ERR_PASSPHRASE */
	"not a certificate";	/* HOSTCA_ERR_NOT_CERT */

HOSTCA_API const char *
hostca_strerror(int err)
{
	const char *t = err_texts;

	if (err > 0 || err < HOSTCA_ERR_NOT_CERT)
		return "unknown error";
	for (; err < 0; err++)
		t += strlen(t) + 1;
	return t;
}


/*
 * Working memory of the library: malloc and free, unless the application
 * gives its own pair (a static pool on a device). The largest single
 * request is about 16 KiB (an X.509 decoding context, or a certificate
 * being encoded); a request for a certificate holds at most three at once.
 */
static void *(*mem_alloc)(size_t) = malloc;
static void (*mem_free)(void *) = free;

HOSTCA_API void
hostca_set_allocator(void *(*alloc)(size_t), void (*release)(void *))
{
	mem_alloc = alloc != NULL ? alloc : malloc;
	mem_free = release != NULL ? release : free;
}

/* ======================================================================
 * 2. Bytes: wiping, hex, base64, random
 * ====================================================================== */

/* A wipe the compiler cannot remove: the store goes through a volatile
 * function pointer (Monocypher's crypto_wipe takes the same approach). */
static void *(*const volatile wipe_memset)(void *, int, size_t) = memset;

HOSTCA_API void
hostca_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		wipe_memset(p, 0, len);
}

/* Constant-time comparison; 1 when equal. */
static int
ct_equal(const void *a, const void *b, size_t len)
{
	const unsigned char *x = a, *y = b;
	unsigned r = 0;
	size_t i;

	for (i = 0; i < len; i++)
		r |= (unsigned)(x[i] ^ y[i]);
	return r == 0;
}

static void
hex_encode(char *out, const void *data, size_t len, int upper, char sep)
{
	static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
	const char *d = upper ? up : lo;
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		if (sep && i > 0)
			*out++ = sep;
		*out++ = d[p[i] >> 4];
		*out++ = d[p[i] & 15];
	}
	*out = 0;
}

static int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#ifndef HOSTCA_NO_MAIN /* the CA and the CLI only */

/*
 * Hex with optional colons (any case) into out; returns the byte count,
 * or -1 when the text is not hex or does not fit.
 */
static long
hex_decode(unsigned char *out, size_t cap, const char *s)
{
	size_t n = 0;
	int hi = -1, v;

	for (; *s; s++) {
		if (*s == ':')
			continue;
		if ((v = hex_digit((unsigned char)*s)) < 0)
			return -1;
		if (hi < 0) {
			hi = v;
		} else {
			if (n >= cap)
				return -1;
			out[n++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	return hi < 0 ? (long)n : -1;
}

#endif /* HOSTCA_NO_MAIN */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#ifndef HOSTCA_NO_MAIN /* the CA and the CLI only */

/* Base64 without line breaks; out must hold 4*ceil(len/3)+1 bytes. */
static size_t
b64_encode(char *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = 0;
	return o;
}

#endif /* HOSTCA_NO_MAIN */

static int
b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict base64 of (s, len), white space allowed between characters when
 * ws is set. Returns the decoded length or -1 (bad character, bad padding,
 * non-zero pad bits, or more than cap bytes).
 */
static long
b64_decode(unsigned char *out, size_t cap, const char *s, size_t len, int ws)
{
	uint32_t acc = 0;
	size_t n = 0, i;
	int k = 0, pad = 0, v;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (ws && (c == ' ' || c == '\t' || c == '\r' || c == '\n'))
			continue;
		if (c == '=') {
			pad++;
			if (pad > 2)
				return -1;
			continue;
		}
		if (pad || (v = b64_value(c)) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if (++k == 4) {
			if (n + 3 > cap)
				return -1;
			out[n++] = (unsigned char)(acc >> 16);
			out[n++] = (unsigned char)(acc >> 8);
			out[n++] = (unsigned char)acc;
			k = 0;
			acc = 0;
		}
	}
	if (k == 0 && pad == 0)
		return (long)n;
	if (k == 2 && pad == 2 && (acc & 15) == 0) {
		if (n + 1 > cap)
			return -1;
		out[n++] = (unsigned char)(acc >> 4);
		return (long)n;
	}
	if (k == 3 && pad == 1 && (acc & 3) == 0) {
		if (n + 2 > cap)
			return -1;
		out[n++] = (unsigned char)(acc >> 10);
		out[n++] = (unsigned char)(acc >> 2);
		return (long)n;
	}
	return -1;
}

/*
 * Random bytes. One HMAC-DRBG, seeded from the system (getrandom or
 * /dev/urandom through BearSSL's seeder). Test builds may seed it from
 * HOSTCA_TEST_SEED so that golden vectors are reproducible.
 */
typedef struct {
	br_hmac_drbg_context drbg;
	int ready;
} rng_state;

static int
rng_init_seed(rng_state *r, const void *seed, size_t len)
{
	br_hmac_drbg_init(&r->drbg, &br_sha256_vtable, seed, len);
	r->ready = 1;
	return 0;
}

static int
rng_init_system(rng_state *r)
{
	br_prng_seeder seeder = br_prng_seeder_system(NULL);

	br_hmac_drbg_init(&r->drbg, &br_sha256_vtable, "hostca", 6);
	if (seeder == NULL || !seeder(&r->drbg.vtable))
		return HOSTCA_ERR_RANDOM;
	r->ready = 1;
	return 0;
}

static void
rng_bytes(rng_state *r, void *out, size_t len)
{
	br_hmac_drbg_generate(&r->drbg, out, len);
}

#ifndef HOSTCA_NO_MAIN /* the CA and the CLI only */

/* Uniform value in [0, n) by rejection (n <= 256). */
static unsigned
rng_below(rng_state *r, unsigned n)
{
	unsigned limit = 256 - 256 % n;
	unsigned char b;

	do {
		rng_bytes(r, &b, 1);
	} while (b >= limit);
	return b % n;
}

#endif /* HOSTCA_NO_MAIN */

/* ======================================================================
 * 3. Codecs: PEM, DER writer, DER reader, OIDs, times
 * ====================================================================== */

/* ---- PEM ---- */

HOSTCA_API size_t
hostca_pem_encode(void *dest, const char *banner, const void *der, size_t len)
{
	size_t blen = strlen(banner), b64 = (len + 2) / 3 * 4;
	size_t lines = (b64 + 63) / 64;
	size_t total = 11 + blen + 6 + b64 + lines + 9 + blen + 6;
	const unsigned char *p = der;
	size_t i, k;
	char *o;

	if (blen == 0 || blen > 40 || len == 0)
		return 0;
	if (dest == NULL)
		return total;
	o = dest;
	memcpy(o, "-----BEGIN ", 11);
	memcpy(o + 11, banner, blen);
	memcpy(o + 11 + blen, "-----\n", 6);
	o += 17 + blen;
	/* 48 bytes make one line of 64 characters */
	for (i = 0; i < len; i += 48) {
		size_t n = len - i < 48 ? len - i : 48;
		for (k = 0; k + 3 <= n; k += 3) {
			uint32_t v = (uint32_t)p[i + k] << 16 | (uint32_t)p[i + k + 1] << 8
				| p[i + k + 2];
			o[0] = b64_alphabet[v >> 18];
			o[1] = b64_alphabet[(v >> 12) & 63];
			o[2] = b64_alphabet[(v >> 6) & 63];
			o[3] = b64_alphabet[v & 63];
			o += 4;
		}
		if (k < n) {
			uint32_t v = (uint32_t)p[i + k] << 16
				| (k + 1 < n ? (uint32_t)p[i + k + 1] << 8 : 0);
			o[0] = b64_alphabet[v >> 18];
			o[1] = b64_alphabet[(v >> 12) & 63];
			o[2] = k + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
			o[3] = '=';
			o += 4;
		}
		*o++ = '\n';
	}
	memcpy(o, "-----END ", 9);
	memcpy(o + 9, banner, blen);
	memcpy(o + 9 + blen, "-----\n", 6);  /* no NUL: dest is exactly total */
	o += 9 + blen + 6;
	return (size_t)(o - (char *)dest);
}

/*
 * Finds the index-th PEM block. Lines outside blocks are ignored (so a
 * human note above a block does no harm). Inside a block only base64 and
 * white space are allowed; the END banner must match the BEGIN banner.
 */
HOSTCA_API long
hostca_pem_decode(const void *pem, size_t len, size_t index,
	char banner[64], void *der, size_t der_cap)
{
	const char *s = pem, *end = s + len;
	size_t seen = 0;

	while (s < end) {
		const char *eol = memchr(s, '\n', (size_t)(end - s));
		const char *next = eol ? eol + 1 : end;
		size_t ll = (size_t)((eol ? eol : end) - s);

		if (ll > 0 && s[ll - 1] == '\r')
			ll--;
		if (ll > 16 && memcmp(s, "-----BEGIN ", 11) == 0
			&& memcmp(s + ll - 5, "-----", 5) == 0)
		{
			size_t bl = ll - 16;
			const char *body = next, *p = next;
			char endline[64 + 20];
			long n;

			if (bl == 0 || bl >= 64)
				return HOSTCA_ERR_PEM;
			snprintf(endline, sizeof endline, "-----END %.*s-----",
				(int)bl, s + 11);
			/* Find the END line. */
			for (;;) {
				const char *e2, *n2;
				size_t l2;
				if (p >= end)
					return HOSTCA_ERR_PEM;
				e2 = memchr(p, '\n', (size_t)(end - p));
				n2 = e2 ? e2 + 1 : end;
				l2 = (size_t)((e2 ? e2 : end) - p);
				if (l2 > 0 && p[l2 - 1] == '\r')
					l2--;
				if (l2 >= 5 && memcmp(p, "-----", 5) == 0) {
					if (l2 != strlen(endline)
						|| memcmp(p, endline, l2) != 0)
						return HOSTCA_ERR_PEM;
					if (seen == index) {
						if (banner != NULL) {
							memcpy(banner, s + 11, bl);
							banner[bl] = 0;
						}
						n = b64_decode(der, der_cap, body,
							(size_t)(p - body), 1);
						if (n < 0)
							return (size_t)(p - body) / 4 * 3 > der_cap
								? HOSTCA_ERR_LIMIT : HOSTCA_ERR_PEM;
						if (n == 0)
							return HOSTCA_ERR_PEM;
						return n;
					}
					seen++;
					next = n2;
					break;
				}
				p = n2;
			}
		}
		s = next;
	}
	return HOSTCA_ERR_PEM;
}

/* ---- DER writer ----
 *
 * Encoders run twice over the same code: a sizing pass (buf == NULL) that
 * records the content length of every constructed element in open order,
 * and a writing pass that replays those lengths to emit the headers. The
 * code of an encoder therefore reads like the ASN.1 it produces, and no
 * buffer size is ever guessed.
 */
typedef struct {
	unsigned char *buf;             /* NULL in the sizing pass */
	size_t len;                     /* bytes so far */
	size_t slot_len[DERW_SLOTS];    /* content length per open, in order */
	unsigned nslots, next;          /* slots recorded / replayed */
	unsigned stack[MAX_DER_DEPTH];  /* slot of each open element */
	size_t start[MAX_DER_DEPTH];
	unsigned sp;
	int err;
} derw;

static size_t
der_len_size(size_t len)
{
	size_t n = 1;

	if (len >= 128)
		for (; len; len >>= 8)
			n++;
	return n;
}

static void
dw_put(derw *w, const void *p, size_t n)
{
	if (w->buf != NULL && n > 0)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void
dw_byte(derw *w, unsigned b)
{
	unsigned char c = (unsigned char)b;
	dw_put(w, &c, 1);
}

static void
dw_header(derw *w, unsigned tag, size_t len)
{
	unsigned char h[10];
	size_t n = 0, k, i;

	h[n++] = (unsigned char)tag;
	if (len < 128) {
		h[n++] = (unsigned char)len;
	} else {
		k = der_len_size(len) - 1;
		h[n++] = (unsigned char)(0x80 | k);
		for (i = k; i > 0; i--)
			h[n++] = (unsigned char)(len >> (8 * (i - 1)));
	}
	dw_put(w, h, n);
}

/* Opens a constructed element whose length is found by the sizing pass. */
static void
dw_open(derw *w, unsigned tag)
{
	unsigned slot;

	if (w->err || w->sp >= MAX_DER_DEPTH) {
		w->err = 1;
		return;
	}
	if (w->buf == NULL) {
		if (w->nslots >= DERW_SLOTS) {
			w->err = 1;
			return;
		}
		slot = w->nslots++;
		w->start[w->sp] = w->len;
	} else {
		slot = w->next++;
		dw_header(w, tag, w->slot_len[slot]);
		w->start[w->sp] = w->len;
	}
	w->stack[w->sp++] = slot;
}

static void
dw_close(derw *w)
{
	unsigned slot;
	size_t content;

	if (w->err)
		return;
	if (w->sp == 0) {
		w->err = 1;
		return;
	}
	slot = w->stack[--w->sp];
	content = w->len - w->start[w->sp];
	if (w->buf == NULL) {
		w->slot_len[slot] = content;
		/* The header is counted when the element closes. */
		w->len += 1 + der_len_size(content);
	} else if (content != w->slot_len[slot]) {
		w->err = 1;  /* the two passes disagree: an encoder bug */
	}
}

static void
dw_tlv(derw *w, unsigned tag, const void *v, size_t len)
{
	dw_header(w, tag, len);
	dw_put(w, v, len);
}

/* INTEGER from an unsigned big-endian magnitude (minimal, positive). */
static void
dw_uint(derw *w, const unsigned char *v, size_t len)
{
	while (len > 1 && v[0] == 0) {
		v++;
		len--;
	}
	if (len == 0) {
		dw_tlv(w, 0x02, "\0", 1);
		return;
	}
	if (v[0] & 0x80) {
		dw_header(w, 0x02, len + 1);
		dw_byte(w, 0);
		dw_put(w, v, len);
	} else {
		dw_tlv(w, 0x02, v, len);
	}
}

#ifndef HOSTCA_NO_MAIN /* the CA only */

static void
dw_small_int(derw *w, unsigned tag, uint32_t v)
{
	unsigned char b[5];
	size_t n = 0;
	int i;

	b[n++] = 0;
	for (i = 3; i >= 0; i--)
		b[n++] = (unsigned char)(v >> (8 * i));
	/* keep one leading zero only when the next byte has its top bit */
	{
		size_t k = 0;
		while (k < 4 && b[k] == 0 && !(b[k + 1] & 0x80))
			k++;
		dw_tlv(w, tag, b + k, n - k);
	}
}

#endif /* HOSTCA_NO_MAIN */

static void
dw_oid(derw *w, const unsigned char *oid)
{
	/* oids are stored with their length first */
	dw_tlv(w, 0x06, oid + 1, oid[0]);
}

static void
dw_bool_true(derw *w)
{
	dw_tlv(w, 0x01, "\xff", 1);
}

static void
dw_null(derw *w)
{
	dw_tlv(w, 0x05, "", 0);
}

/* Runs an encoder body twice: sizing, then writing into dest. */
typedef void (*derw_fn)(derw *w, const void *ctx);

static size_t
der_encode2(void *dest, derw_fn fn, const void *ctx)
{
	derw *w;
	size_t n;

	w = mem_alloc(sizeof *w);
	if (w == NULL)
		return 0;
	memset(w, 0, sizeof *w);
	fn(w, ctx);
	if (w->err || w->sp != 0) {
		mem_free(w);
		return 0;
	}
	n = w->len;
	if (dest != NULL) {
		w->buf = dest;
		w->len = 0;
		w->next = 0;
		fn(w, ctx);
		if (w->err || w->len != n)
			n = 0;
	}
	mem_free(w);
	return n;
}

/* ---- DER reader ----
 *
 * A cursor over a region. der_get() reads one element: single-byte tags
 * only, definite minimal lengths, bounded by what is left. The first
 * error sticks (BearSSL's decoders work the same way), so a parser can
 * read a whole structure and check the error once.
 */
typedef struct {
	const unsigned char *p;
	size_t len;
	int err;
} derr;

typedef struct {
	unsigned tag;
	const unsigned char *v;     /* content */
	size_t len;
	const unsigned char *raw;   /* whole element, header included */
	size_t raw_len;
} derel;

static void
dr_init(derr *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->err = 0;
}

static int
dr_more(const derr *r)
{
	return !r->err && r->len > 0;
}

static int
dr_get(derr *r, derel *e)
{
	size_t len, k, h = 2, i;

	memset(e, 0, sizeof *e);
	if (r->err)
		return -1;
	if (r->len < 2) {
		r->err = HOSTCA_ERR_DER;
		return -1;
	}
	e->tag = r->p[0];
	if ((e->tag & 0x1f) == 0x1f) {   /* multi-byte tags: not used by us */
		r->err = HOSTCA_ERR_DER;
		return -1;
	}
	len = r->p[1];
	if (len & 0x80) {
		k = len & 0x7f;
		if (k == 0 || k > 4 || r->len < 2 + k) {  /* 0 = indefinite (BER) */
			r->err = HOSTCA_ERR_DER;
			return -1;
		}
		len = 0;
		for (i = 0; i < k; i++)
			len = len << 8 | r->p[2 + i];
		if (r->p[2] == 0 || len < 128) {          /* not minimal */
			r->err = HOSTCA_ERR_DER;
			return -1;
		}
		h += k;
	}
	if (len > r->len - h) {
		r->err = HOSTCA_ERR_DER;
		return -1;
	}
	e->v = r->p + h;
	e->len = len;
	e->raw = r->p;
	e->raw_len = h + len;
	r->p += h + len;
	r->len -= h + len;
	return 0;
}

/* Reads one element that must carry the given tag. */
static int
dr_expect(derr *r, unsigned tag, derel *e)
{
	if (dr_get(r, e) < 0)
		return -1;
	if (e->tag != tag) {
		r->err = HOSTCA_ERR_DER;
		return -1;
	}
	return 0;
}

/* Reads a constructed element and opens a cursor on its content. */
static int
dr_enter(derr *r, unsigned tag, derr *sub)
{
	derel e;

	if (dr_expect(r, tag, &e) < 0) {
		dr_init(sub, NULL, 0);
		sub->err = r->err;
		return -1;
	}
	dr_init(sub, e.v, e.len);
	return 0;
}

/* Peeks at the next tag (-1 if none). */
static int
dr_peek(const derr *r)
{
	return (r->err || r->len == 0) ? -1 : r->p[0];
}

/* The cursor must be exhausted (no trailing bytes). */
static int
dr_end(derr *r)
{
	if (!r->err && r->len != 0)
		r->err = HOSTCA_ERR_DER;
	return r->err ? -1 : 0;
}

/* Propagates a sub-cursor's error into its parent. */
static void
dr_join(derr *r, derr *sub)
{
	if (!r->err && (sub->err || sub->len != 0))
		r->err = sub->err ? sub->err : HOSTCA_ERR_DER;
}

/* An INTEGER's content must be minimal; returns the positive magnitude. */
static int
der_uint(const derel *e, const unsigned char **v, size_t *len, int allow_zero)
{
	const unsigned char *p = e->v;
	size_t n = e->len;

	if (e->tag != 0x02 || n == 0)
		return -1;
	if (n > 1 && ((p[0] == 0 && !(p[1] & 0x80))
		|| (p[0] == 0xff && (p[1] & 0x80))))
		return -1;                   /* not minimal */
	if (p[0] & 0x80)
		return -1;                   /* negative */
	if (n > 1 && p[0] == 0) {
		p++;
		n--;
	}
	if (!allow_zero && n == 1 && p[0] == 0)
		return -1;
	*v = p;
	*len = n;
	return 0;
}

/* Small non-negative INTEGER (or ENUMERATED) into *out. */
static int
der_small(const derel *e, unsigned tag, uint32_t *out)
{
	const unsigned char *v;
	size_t n, i;
	uint32_t x = 0;
	derel t = *e;

	if (e->tag != tag)
		return -1;
	t.tag = 0x02;
	if (der_uint(&t, &v, &n, 1) < 0 || n > 4)
		return -1;
	for (i = 0; i < n; i++)
		x = x << 8 | v[i];
	*out = x;
	return 0;
}

/* Walks a DER tree strictly (for content we do not otherwise parse). */
static int
der_check_tree(const unsigned char *p, size_t len, unsigned depth)
{
	derr r;
	derel e;

	if (depth > MAX_DER_DEPTH)
		return -1;
	dr_init(&r, p, len);
	while (dr_more(&r)) {
		if (dr_get(&r, &e) < 0)
			return -1;
		if ((e.tag & 0x20) && der_check_tree(e.v, e.len, depth + 1) < 0)
			return -1;
		if (e.tag == 0x01 && (e.len != 1 || (e.v[0] != 0 && e.v[0] != 0xff)))
			return -1;
	}
	return r.err ? -1 : 0;
}

/* BIT STRING with no unused bits (keys and signatures). */
static int
der_bits_whole(const derel *e, const unsigned char **v, size_t *len)
{
	if (e->tag != 0x03 || e->len < 1 || e->v[0] != 0)
		return -1;
	*v = e->v + 1;
	*len = e->len - 1;
	return 0;
}

/* ---- OIDs (length-prefixed content bytes) ---- */

static const unsigned char OID_CN[] = { 3, 0x55, 0x04, 0x03 };
static const unsigned char OID_EC_PUBKEY[] = { 7, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const unsigned char OID_P256[] = { 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const unsigned char OID_P384[] = { 5, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const unsigned char OID_P521[] = { 5, 0x2b, 0x81, 0x04, 0x00, 0x23 };
static const unsigned char OID_SECP256K1[] = { 5, 0x2b, 0x81, 0x04, 0x00, 0x0a };
static const unsigned char OID_RSA[] = { 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
static const unsigned char OID_RSA_PSS[] = { 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a };
static const unsigned char OID_DSA[] = { 7, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01 };
static const unsigned char OID_ED25519[] = { 3, 0x2b, 0x65, 0x70 };
static const unsigned char OID_ED448[] = { 3, 0x2b, 0x65, 0x71 };
static const unsigned char OID_X25519[] = { 3, 0x2b, 0x65, 0x6e };
static const unsigned char OID_X448[] = { 3, 0x2b, 0x65, 0x6f };
static const unsigned char OID_ECDSA_SHA256[] = { 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const unsigned char OID_ECDSA_SHA384[] = { 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
static const unsigned char OID_ECDSA_SHA512[] = { 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04 };
static const unsigned char OID_RSA_SHA256[] = { 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b };
static const unsigned char OID_RSA_SHA384[] = { 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c };
static const unsigned char OID_RSA_SHA512[] = { 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d };
static const unsigned char OID_CHALLENGE[] = { 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07 };
static const unsigned char OID_NONCE[] = { 10, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x19, 0x03 };
static const unsigned char OID_EXT_REQ[] = { 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e };
static const unsigned char OID_SKI[] = { 3, 0x55, 0x1d, 0x0e };
static const unsigned char OID_KU[] = { 3, 0x55, 0x1d, 0x0f };
static const unsigned char OID_SAN[] = { 3, 0x55, 0x1d, 0x11 };
static const unsigned char OID_BC[] = { 3, 0x55, 0x1d, 0x13 };
static const unsigned char OID_CRL_NUMBER[] = { 3, 0x55, 0x1d, 0x14 };
static const unsigned char OID_CRL_REASON[] = { 3, 0x55, 0x1d, 0x15 };
static const unsigned char OID_AKI[] = { 3, 0x55, 0x1d, 0x23 };
static const unsigned char OID_EKU[] = { 3, 0x55, 0x1d, 0x25 };
static const unsigned char OID_SERVER_AUTH[] = { 8, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01 };
static const unsigned char OID_CLIENT_AUTH[] = { 8, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02 };
#ifndef HOSTCA_NO_MAIN /* the CA key file only */
static const unsigned char OID_PBES2[] = { 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d };
static const unsigned char OID_PBKDF2[] = { 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c };
static const unsigned char OID_HMAC_SHA256[] = { 8, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09 };
static const unsigned char OID_AES256_CBC[] = { 9, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a };
#endif

static int
oid_is(const derel *e, const unsigned char *oid)
{
	return e->tag == 0x06 && e->len == oid[0]
		&& memcmp(e->v, oid + 1, oid[0]) == 0;
}

/* Dotted text of an OID, for messages. */
static void
oid_text(char *out, size_t cap, const unsigned char *v, size_t len)
{
	size_t o = 0, i;
	unsigned long x = 0;
	int first = 1;

	out[0] = 0;
	for (i = 0; i < len && o + 24 < cap; i++) {
		x = x << 7 | (v[i] & 0x7f);
		if (v[i] & 0x80) {
			if (x > ULONG_MAX >> 8)
				return;
			continue;
		}
		if (first) {
			unsigned long a = x < 80 ? x / 40 : 2;
			o += (size_t)snprintf(out + o, cap - o, "%lu.%lu", a, x - 40 * a);
			first = 0;
		} else {
			o += (size_t)snprintf(out + o, cap - o, ".%lu", x);
		}
		x = 0;
	}
	/* what people call it, for the ones that refusals name */
	{
		static const char *const known[][2] = {
			{ "1.3.132.0.33", "P-224" }, { "1.2.840.10045.3.1.1", "P-192" },
			{ "1.3.132.0.10", "secp256k1" },
			{ "1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1" },
			{ "1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1" },
			{ "1.3.36.3.3.2.8.1.1.13", "brainpoolP512r1" },
			{ "1.2.840.113549.1.1.10", "RSASSA-PSS" },
			{ "1.2.840.10045.4.1", "ecdsa-with-SHA1 (SHA-1)" },
			{ "1.2.840.113549.1.1.5", "sha1WithRSAEncryption (SHA-1)" },
			{ "1.2.840.113549.1.1.4", "md5WithRSAEncryption (MD5)" },
			{ "1.2.840.10040.4.3", "dsa-with-SHA1 (DSA, SHA-1)" },
			{ "2.16.840.1.101.3.4.3.2", "dsa-with-SHA256 (DSA)" },
			{ "1.2.840.10045.4.3.1", "ecdsa-with-SHA224" },
			{ "1.2.840.113549.1.1.14", "sha224WithRSAEncryption" },
			{ "1.3.101.112", "Ed25519" }, { "1.3.101.113", "Ed448" },
		};
		char d[64];
		size_t k;
		for (k = 0; k < sizeof known / sizeof known[0]; k++)
			if (strcmp(out, known[k][0]) == 0 && strlen(out) < sizeof d) {
				strcpy(d, out);
				snprintf(out, cap, "%s (%.40s)", known[k][1], d);
				break;
			}
	}
}

/* ---- Times ----
 *
 * Seconds since the epoch <-> UTCTime/GeneralizedTime, by the RFC 5280
 * rule: UTCTime through 2049, GeneralizedTime from 2050. Only the strict
 * forms YYMMDDHHMMSSZ and YYYYMMDDHHMMSSZ are read.
 */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

typedef struct {
	int year;
	unsigned mon, day, hour, min, sec;
} tm_utc;

static void
time_split(int64_t t, tm_utc *u)
{
	int64_t days = t / 86400, rem = t % 86400;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, &u->year, &u->mon, &u->day);
	u->hour = (unsigned)(rem / 3600);
	u->min = (unsigned)(rem / 60 % 60);
	u->sec = (unsigned)(rem % 60);
}

/* ISO 8601, "2026-11-27T12:00:00Z" (buf of 21+). */
static const char *
time_iso(char *buf, int64_t t)
{
	tm_utc u;

	time_split(t, &u);
	snprintf(buf, 32, "%04d-%02u-%02uT%02u:%02u:%02uZ",
		u.year, u.mon, u.day, u.hour, u.min, u.sec);
	return buf;
}

#ifndef HOSTCA_NO_MAIN /* the CA only */

/* UTCTime from 1950 through 2049 (RFC 5280), GeneralizedTime outside. */
#define UTCTIME_FIRST  (-631152000LL)    /* 1950-01-01 */
#define UTCTIME_END    2524608000LL      /* 2050-01-01 */

static char *
put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

static void
dw_time(derw *w, int64_t t)
{
	tm_utc u;
	char s[16], *p = s;

	if (w->buf == NULL) {           /* sizing: no need to format */
		w->len += t >= UTCTIME_FIRST && t < UTCTIME_END ? 15 : 17;
		return;
	}
	time_split(t, &u);
	if (t < UTCTIME_FIRST || t >= UTCTIME_END) {
		p = put2(p, (unsigned)(u.year / 100));
	}
	p = put2(p, (unsigned)(u.year % 100));
	p = put2(p, u.mon);
	p = put2(p, u.day);
	p = put2(p, u.hour);
	p = put2(p, u.min);
	p = put2(p, u.sec);
	*p++ = 'Z';
	dw_tlv(w, p - s == 13 ? 0x17 : 0x18, s, (size_t)(p - s));
}

#endif /* HOSTCA_NO_MAIN */

static int
digits(const unsigned char *p, size_t n, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

static int
der_time(const derel *e, int64_t *t)
{
	const unsigned char *p = e->v;
	unsigned y, mo, d, h, mi, s;
	static const unsigned mdays[] = { 31,29,31,30,31,30,31,31,30,31,30,31 };

	if (e->tag == 0x17 && e->len == 13) {
		if (digits(p, 2, &y) < 0)
			return -1;
		y += y < 50 ? 2000 : 1900;
		p += 2;
	} else if (e->tag == 0x18 && e->len == 15) {
		if (digits(p, 4, &y) < 0)
			return -1;
		p += 4;
	} else {
		return -1;
	}
	if (digits(p, 2, &mo) < 0 || digits(p + 2, 2, &d) < 0
		|| digits(p + 4, 2, &h) < 0 || digits(p + 6, 2, &mi) < 0
		|| digits(p + 8, 2, &s) < 0 || p[10] != 'Z')
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23
		|| mi > 59 || s > 59)
		return -1;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	/* GeneralizedTime for years the UTCTime could carry is not DER. */
	if (e->tag == 0x18 && y >= 1950 && y < 2050)
		return -1;
	*t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	return 0;
}

#ifndef HOSTCA_NO_MAIN /* the CA and the CLI only */

/* Durations: 30s, 90m, 24h, 7d (a bare number is refused). */
static int
duration_parse(const char *s, int64_t *out)
{
	int64_t v = 0, mul;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (*p - '0');
		if (v > 100000000)
			return -1;
		p++;
	}
	switch (*p) {
	case 's': mul = 1; break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	default: return -1;
	}
	if (p[1] != 0 || v == 0)
		return -1;
	*out = v * mul;
	return 0;
}

static const char *
duration_text(char *buf, int64_t s)
{
	if (s % 86400 == 0)
		snprintf(buf, 24, "%lldd", (long long)(s / 86400));
	else if (s % 3600 == 0)
		snprintf(buf, 24, "%lldh", (long long)(s / 3600));
	else if (s % 60 == 0)
		snprintf(buf, 24, "%lldm", (long long)(s / 60));
	else
		snprintf(buf, 24, "%llds", (long long)s);
	return buf;
}

/* Times on the command line: unix seconds, or YYYY-MM-DD[THH:MM[:SS]][Z]. */
static int
time_parse(const char *s, int64_t *out)
{
	unsigned y, mo, d, h = 0, mi = 0, sec = 0;
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	if (n > 0 && n <= 12 && strspn(s, "0123456789") == n) {
		*out = strtoll(s, NULL, 10);
		return 0;
	}
	if (n < 10 || digits(p, 4, &y) < 0 || p[4] != '-' || digits(p + 5, 2, &mo) < 0
		|| p[7] != '-' || digits(p + 8, 2, &d) < 0)
		return -1;
	p += 10;
	if (*p == 'T' || *p == ' ') {
		if (digits(p + 1, 2, &h) < 0 || p[3] != ':' || digits(p + 4, 2, &mi) < 0)
			return -1;
		p += 6;
		if (*p == ':') {
			if (digits(p + 1, 2, &sec) < 0)
				return -1;
			p += 3;
		}
	}
	if (*p == 'Z')
		p++;
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59)
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
}

#endif /* HOSTCA_NO_MAIN */

/* ======================================================================
 * 4. X.509 objects: keys and signatures, names, CSRs, certificates, CRLs
 * ====================================================================== */

#define WHY_CAP 512

static void
set_why(char *why, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(why, WHY_CAP, fmt, ap);
	va_end(ap);
}

/* ---- P-256 verification in variable time ----
 *
 * Checking a signature handles only public values -- the key, the
 * signature, the hash -- so it need not run in constant time. BearSSL's
 * point multiplication is constant time, as signing needs, and so costs
 * several times more than a verifier must. Here u1*G + u2*Q is computed
 * with both scalars in width-5 NAF and one shared run of doublings, on
 * Jacobian points whose coordinates are Montgomery-form numbers of four
 * 64-bit limbs; the result is compared with r without an inversion.
 * Signing stays with BearSSL. Compilers without a 128-bit integer type,
 * and builds with HOSTCA_NO_FAST_P256, verify with BearSSL alone; both
 * paths are compared on random and edge-case input by tests/p256check.c.
 */
#if defined(__SIZEOF_INT128__) && !defined(HOSTCA_NO_FAST_P256)
#define HAVE_FAST_P256 1

__extension__ typedef unsigned __int128 u128;

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

typedef uint64_t fe[4];          /* little-endian 64-bit limbs */

/* The field prime p and the group order n (SEC 2), least significant
 * limb first; n0 is -1/n mod 2^64 (for p it is 1). */
#define P256_P0 UINT64_C(0xFFFFFFFFFFFFFFFF)
#define P256_P1 UINT64_C(0x00000000FFFFFFFF)
#define P256_P2 UINT64_C(0x0000000000000000)
#define P256_P3 UINT64_C(0xFFFFFFFF00000001)
#define P256_N0 UINT64_C(0xF3B9CAC2FC632551)
#define P256_N1 UINT64_C(0xBCE6FAADA7179E84)
#define P256_N2 UINT64_C(0xFFFFFFFFFFFFFFFF)
#define P256_N3 UINT64_C(0xFFFFFFFF00000000)
#define P256_NINV UINT64_C(0xCCD1C8AAEE00BC4F)

static const fe p256_p = { P256_P0, P256_P1, P256_P2, P256_P3 };
static const fe p256_n = { P256_N0, P256_N1, P256_N2, P256_N3 };

/* The generator, uncompressed, as in SEC 2. */
static const unsigned char p256_g[65] = { 0x04,
	0x6B, 0x17, 0xD1, 0xF2, 0xE1, 0x2C, 0x42, 0x47, 0xF8, 0xBC, 0xE6, 0xE5,
	0x63, 0xA4, 0x40, 0xF2, 0x77, 0x03, 0x7D, 0x81, 0x2D, 0xEB, 0x33, 0xA0,
	0xF4, 0xA1, 0x39, 0x45, 0xD8, 0x98, 0xC2, 0x96,
	0x4F, 0xE3, 0x42, 0xE2, 0xFE, 0x1A, 0x7F, 0x9B, 0x8E, 0xE7, 0xEB, 0x4A,
	0x7C, 0x0F, 0x9E, 0x16, 0x2B, 0xCE, 0x33, 0x57, 0x6B, 0x31, 0x5E, 0xCE,
	0xCB, 0xB6, 0x40, 0x68, 0x37, 0xBF, 0x51, 0xF5 };

typedef struct {
	fe x, y, z;              /* Jacobian, Montgomery form; z = 0: infinity */
} p256_pt;

/* Montgomery constants: 2^256 and 2^512 mod p and mod n, and the
 * curve's b times 2^256 mod p (tests/p256check.c recomputes them all). */
static const fe p256_p_one = { UINT64_C(0x0000000000000001),
	UINT64_C(0xFFFFFFFF00000000), UINT64_C(0xFFFFFFFFFFFFFFFF), UINT64_C(0x00000000FFFFFFFE) };
static const fe p256_p_rr = { UINT64_C(0x0000000000000003),
	UINT64_C(0xFFFFFFFBFFFFFFFF), UINT64_C(0xFFFFFFFFFFFFFFFE), UINT64_C(0x00000004FFFFFFFD) };
static const fe p256_n_one = { UINT64_C(0x0C46353D039CDAAF),
	UINT64_C(0x4319055258E8617B), UINT64_C(0x0000000000000000), UINT64_C(0x00000000FFFFFFFF) };
static const fe p256_n_rr = { UINT64_C(0x83244C95BE79EEA2),
	UINT64_C(0x4699799C49BD6FA6), UINT64_C(0x2845B2392B6BEC59), UINT64_C(0x66E12D94F3D95620) };
static const fe p256_b_mont = { UINT64_C(0xD89CDF6229C4BDDF),
	UINT64_C(0xACF005CD78843090), UINT64_C(0xE5A220ABF7212ED6), UINT64_C(0xDC30061D04874834) };

static void
fe_decode(fe r, const unsigned char *b)
{
	int i, j;

	for (i = 0; i < 4; i++) {
		r[i] = 0;
		for (j = 0; j < 8; j++)
			r[i] = (r[i] << 8) | b[(3 - i) * 8 + j];
	}
}

static int
fe_is_zero(const fe a)
{
	return (a[0] | a[1] | a[2] | a[3]) == 0;
}

static int
fe_equal(const fe a, const fe b)
{
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0;
}

/* r = a - b mod 2^256; returns the borrow (0 or 1). */
static ALWAYS_INLINE uint64_t
fe_sub_raw(fe r, const fe a, const fe b)
{
	u128 z;

	z = (u128)a[0] - b[0];
	r[0] = (uint64_t)z;
	z = (u128)a[1] - b[1] - (uint64_t)(z >> 127);
	r[1] = (uint64_t)z;
	z = (u128)a[2] - b[2] - (uint64_t)(z >> 127);
	r[2] = (uint64_t)z;
	z = (u128)a[3] - b[3] - (uint64_t)(z >> 127);
	r[3] = (uint64_t)z;
	return (uint64_t)(z >> 127);
}

/* r = a + b mod 2^256; returns the carry. */
static ALWAYS_INLINE uint64_t
fe_add_raw(fe r, const fe a, const fe b)
{
	u128 z;

	z = (u128)a[0] + b[0];
	r[0] = (uint64_t)z;
	z = (u128)a[1] + b[1] + (uint64_t)(z >> 64);
	r[1] = (uint64_t)z;
	z = (u128)a[2] + b[2] + (uint64_t)(z >> 64);
	r[2] = (uint64_t)z;
	z = (u128)a[3] + b[3] + (uint64_t)(z >> 64);
	r[3] = (uint64_t)z;
	return (uint64_t)(z >> 64);
}

/* a < m */
static int
fe_below(const fe a, const fe m)
{
	int i;

	for (i = 3; i >= 0; i--)
		if (a[i] != m[i])
			return a[i] < m[i];
	return 0;
}

/* r = a + b mod m, for a, b < m */
static void
fe_add(fe r, const fe a, const fe b, const fe m)
{
	fe s, d;
	uint64_t c = fe_add_raw(s, a, b);

	if (fe_sub_raw(d, s, m) == 0 || c)
		memcpy(r, d, sizeof d);
	else
		memcpy(r, s, sizeof s);
}

/* r = a - b mod m, for a, b < m */
static void
fe_sub(fe r, const fe a, const fe b, const fe m)
{
	if (fe_sub_raw(r, a, b))
		fe_add_raw(r, r, m);
}

/*
 * r = a * b / 2^256 mod m, for a, b < m: the Montgomery product, one
 * limb of b at a time, each round adding the multiple of m that clears
 * the low limb (CIOS); m0 is -1/m mod 2^64.
 */
#define MONT_ROUND(bi) do { \
	z = (u128)a[0] * (bi) + t0; t0 = (uint64_t)z; c = (uint64_t)(z >> 64); \
	z = (u128)a[1] * (bi) + t1 + c; t1 = (uint64_t)z; c = (uint64_t)(z >> 64); \
	z = (u128)a[2] * (bi) + t2 + c; t2 = (uint64_t)z; c = (uint64_t)(z >> 64); \
	z = (u128)a[3] * (bi) + t3 + c; t3 = (uint64_t)z; c = (uint64_t)(z >> 64); \
	z = (u128)t4 + c; t4 = (uint64_t)z; t5 = (uint64_t)(z >> 64); \
	q = t0 * m0; \
	z = (u128)q * m_0 + t0; c = (uint64_t)(z >> 64); \
	z = (u128)q * m_1 + t1 + c; t0 = (uint64_t)z; c = (uint64_t)(z >> 64); \
	z = (u128)q * m_2 + t2 + c; t1 = (uint64_t)z; c = (uint64_t)(z >> 64); \
	z = (u128)q * m_3 + t3 + c; t2 = (uint64_t)z; c = (uint64_t)(z >> 64); \
	z = (u128)t4 + c; t3 = (uint64_t)z; t4 = t5 + (uint64_t)(z >> 64); \
} while (0)

static void
mont_mul(fe r, const fe a, const fe b, const fe m, uint64_t m0)
{
	uint64_t m_0 = m[0], m_1 = m[1], m_2 = m[2], m_3 = m[3];
	uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5, c, q;
	uint64_t b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
	u128 z;

	MONT_ROUND(b0);
	MONT_ROUND(b1);
	MONT_ROUND(b2);
	MONT_ROUND(b3);
	/* t < 2m: subtract m once if t >= m */
	z = (u128)t0 - m_0;
	b0 = (uint64_t)z;
	z = (u128)t1 - m_1 - (uint64_t)(z >> 127);
	b1 = (uint64_t)z;
	z = (u128)t2 - m_2 - (uint64_t)(z >> 127);
	b2 = (uint64_t)z;
	z = (u128)t3 - m_3 - (uint64_t)(z >> 127);
	b3 = (uint64_t)z;
	if ((uint64_t)(z >> 127) == 0 || t4) {
		t0 = b0;
		t1 = b1;
		t2 = b2;
		t3 = b3;
	}
	r[0] = t0;
	r[1] = t1;
	r[2] = t2;
	r[3] = t3;
}
#undef MONT_ROUND

static void
fp_mul(fe r, const fe a, const fe b)
{
	mont_mul(r, a, b, p256_p, 1);
}

static void
fn_mul(fe r, const fe a, const fe b)
{
	mont_mul(r, a, b, p256_n, P256_NINV);
}

#define fp_sqr(r, a) fp_mul(r, a, a)
#define fp_add(r, a, b) fe_add(r, a, b, p256_p)
#define fp_sub(r, a, b) fe_sub(r, a, b, p256_p)

/* Decodes an uncompressed point and checks it is on the curve. */
static int
p256_decode(p256_pt *P, const unsigned char *q, size_t qlen)
{
	fe x, y, l, r, t;

	if (qlen != 65 || q[0] != 0x04)
		return -1;
	fe_decode(x, q + 1);
	fe_decode(y, q + 33);
	if (!fe_below(x, p256_p) || !fe_below(y, p256_p))
		return -1;
	fp_mul(P->x, x, p256_p_rr);
	fp_mul(P->y, y, p256_p_rr);
	memcpy(P->z, p256_p_one, sizeof P->z);
	/* y^2 = x^3 - 3x + b */
	fp_sqr(l, P->y);
	fp_sqr(t, P->x);
	fp_mul(r, t, P->x);
	fp_sub(r, r, P->x);
	fp_sub(r, r, P->x);
	fp_sub(r, r, P->x);
	fp_add(r, r, p256_b_mont);
	return fe_equal(l, r) ? 0 : -1;
}

/* R = 2P (a = -3: dbl-2001-b). P-256 has no point of order 2. */
static void
p256_double(p256_pt *R, const p256_pt *P)
{
	fe delta, gamma, beta, alpha, t1, t2, x3, y3, z3;

	if (fe_is_zero(P->z)) {
		*R = *P;
		return;
	}
	fp_sqr(delta, P->z);
	fp_sqr(gamma, P->y);
	fp_mul(beta, P->x, gamma);
	fp_sub(t1, P->x, delta);
	fp_add(t2, P->x, delta);
	fp_mul(alpha, t1, t2);
	fp_add(t1, alpha, alpha);
	fp_add(alpha, t1, alpha);       /* 3 (x - delta)(x + delta) */
	fp_sqr(x3, alpha);
	fp_add(t1, beta, beta);
	fp_add(t1, t1, t1);             /* 4 beta */
	fp_add(t2, t1, t1);             /* 8 beta */
	fp_sub(x3, x3, t2);
	fp_add(z3, P->y, P->z);
	fp_sqr(z3, z3);
	fp_sub(z3, z3, gamma);
	fp_sub(z3, z3, delta);
	fp_sub(t1, t1, x3);
	fp_mul(y3, alpha, t1);
	fp_sqr(t2, gamma);
	fp_add(t2, t2, t2);
	fp_add(t2, t2, t2);
	fp_add(t2, t2, t2);             /* 8 gamma^2 */
	fp_sub(y3, y3, t2);
	memcpy(R->x, x3, sizeof x3);
	memcpy(R->y, y3, sizeof y3);
	memcpy(R->z, z3, sizeof z3);
}

/* R = P + Q; either may be infinity, and P = Q is handled
 * (add-1998-cmo-2). */
static void
p256_add(p256_pt *R, const p256_pt *P, const p256_pt *Q)
{
	fe z1z1, z2z2, u1, u2, s1, s2, h, r, hh, hhh, v, x3, y3, z3;

	if (fe_is_zero(P->z)) {
		*R = *Q;
		return;
	}
	if (fe_is_zero(Q->z)) {
		*R = *P;
		return;
	}
	fp_sqr(z1z1, P->z);
	fp_sqr(z2z2, Q->z);
	fp_mul(u1, P->x, z2z2);
	fp_mul(u2, Q->x, z1z1);
	fp_mul(s1, P->y, Q->z);
	fp_mul(s1, s1, z2z2);
	fp_mul(s2, Q->y, P->z);
	fp_mul(s2, s2, z1z1);
	fp_sub(h, u2, u1);
	fp_sub(r, s2, s1);
	if (fe_is_zero(h)) {
		if (fe_is_zero(r))
			p256_double(R, P);
		else
			memset(R, 0, sizeof *R);
		return;
	}
	fp_sqr(hh, h);
	fp_mul(hhh, h, hh);
	fp_mul(v, u1, hh);
	fp_sqr(x3, r);
	fp_sub(x3, x3, hhh);
	fp_sub(x3, x3, v);
	fp_sub(x3, x3, v);
	fp_sub(y3, v, x3);
	fp_mul(y3, y3, r);
	fp_mul(s1, s1, hhh);
	fp_sub(y3, y3, s1);
	fp_mul(z3, P->z, Q->z);
	fp_mul(z3, z3, h);
	memcpy(R->x, x3, sizeof x3);
	memcpy(R->y, y3, sizeof y3);
	memcpy(R->z, z3, sizeof z3);
}

/* Width-5 NAF of a scalar below 2^256: digits 0 or odd in [-15, 15],
 * least significant first; returns the number of digits (<= 257). */
static int
p256_naf(signed char *d, const fe k)
{
	uint64_t v[5];
	int i = 0, j, digit;

	memcpy(v, k, 4 * sizeof v[0]);
	v[4] = 0;
	while ((v[0] | v[1] | v[2] | v[3] | v[4]) != 0) {
		digit = 0;
		if (v[0] & 1) {
			digit = (int)(v[0] & 31);
			if (digit >= 16)
				digit -= 32;
			if (digit > 0) {
				v[0] -= (uint64_t)digit;        /* clears low bits only */
			} else {
				uint64_t add = (uint64_t)-digit;
				for (j = 0; j < 5 && add; j++) {
					v[j] += add;
					add = v[j] < add;
				}
			}
		}
		d[i++] = (signed char)digit;
		for (j = 0; j < 4; j++)
			v[j] = (v[j] >> 1) | (v[j + 1] << 63);
		v[4] >>= 1;
	}
	return i;
}

/* T[i] = (2i + 1) P for i < 8 */
static void
p256_odd_multiples(p256_pt T[8], const p256_pt *P)
{
	p256_pt P2;
	int i;

	T[0] = *P;
	p256_double(&P2, P);
	for (i = 1; i < 8; i++)
		p256_add(&T[i], &T[i - 1], &P2);
}

static void
p256_add_digit(p256_pt *R, const p256_pt T[8], int digit)
{
	static const fe zero = { 0, 0, 0, 0 };
	p256_pt N;

	if (digit > 0) {
		p256_add(R, R, &T[digit >> 1]);
	} else if (digit < 0) {
		N = T[(-digit) >> 1];
		fp_sub(N.y, zero, N.y);
		p256_add(R, R, &N);
	}
}

/* ECDSA over P-256: 1 when r || s (each rs_len bytes, big-endian) is a
 * valid signature of hash under the public point q. */
static int
p256_verify_raw(const unsigned char *hash, size_t hash_len,
	const unsigned char *q, size_t qlen,
	const unsigned char *sig, size_t rs_len)
{
	p256_pt Q, G, TQ[8], TG[8], R;
	unsigned char buf[32];
	signed char nq[260], ng[260];
	fe r, s, e, w, u1, u2, t, zz, nm2;
	int i, lq, lg;

	if (rs_len == 0 || rs_len > 32)
		return 0;
	memset(buf, 0, sizeof buf);
	memcpy(buf + 32 - rs_len, sig, rs_len);
	fe_decode(r, buf);
	memcpy(buf + 32 - rs_len, sig + rs_len, rs_len);
	fe_decode(s, buf);
	if (fe_is_zero(r) || fe_is_zero(s) || !fe_below(r, p256_n) || !fe_below(s, p256_n))
		return 0;
	if (p256_decode(&Q, q, qlen) < 0 || p256_decode(&G, p256_g, 65) < 0)
		return 0;
	/* e: the leftmost 256 bits of the hash, reduced mod n */
	memset(buf, 0, sizeof buf);
	if (hash_len >= 32)
		memcpy(buf, hash, 32);
	else
		memcpy(buf + 32 - hash_len, hash, hash_len);
	fe_decode(e, buf);
	if (!fe_below(e, p256_n))
		fe_sub_raw(e, e, p256_n);       /* e < 2^256 < 2n */
	/* w = 1/s = s^(n-2) mod n, in Montgomery form */
	fn_mul(t, s, p256_n_rr);
	memcpy(w, p256_n_one, sizeof w);
	memcpy(nm2, p256_n, sizeof nm2);
	nm2[0] -= 2;                    /* n's low limb is above 2 */
	for (i = 255; i >= 0; i--) {
		fn_mul(w, w, w);
		if ((nm2[i >> 6] >> (i & 63)) & 1)
			fn_mul(w, w, t);
	}
	/* a plain number times a Montgomery one gives a plain product */
	fn_mul(u1, e, w);
	fn_mul(u2, r, w);
	/* R = u1 G + u2 Q */
	lg = p256_naf(ng, u1);
	lq = p256_naf(nq, u2);
	p256_odd_multiples(TG, &G);
	p256_odd_multiples(TQ, &Q);
	memset(&R, 0, sizeof R);
	for (i = (lg > lq ? lg : lq) - 1; i >= 0; i--) {
		p256_double(&R, &R);
		if (i < lg)
			p256_add_digit(&R, TG, ng[i]);
		if (i < lq)
			p256_add_digit(&R, TQ, nq[i]);
	}
	if (fe_is_zero(R.z))
		return 0;
	/* x(R) = X / Z^2 (mod p) must be r or r + n; no inversion needed */
	fp_sqr(zz, R.z);
	fp_mul(t, r, p256_p_rr);
	fp_mul(t, t, zz);
	if (fe_equal(t, R.x))
		return 1;
	if (fe_add_raw(t, r, p256_n) == 0 && fe_below(t, p256_p)) {
		fp_mul(t, t, p256_p_rr);
		fp_mul(t, t, zz);
		if (fe_equal(t, R.x))
			return 1;
	}
	return 0;
}

/* Is q an uncompressed point on P-256? */
static int
p256_point_ok(const unsigned char *q, size_t qlen)
{
	p256_pt P;

	return p256_decode(&P, q, qlen) == 0;
}
#endif

/*
 * ECDSA verification with BearSSL's calling convention (br_ecdsa_vrfy,
 * signature in ASN.1), so the X.509 engine uses it too. P-256 goes to
 * the code above; other curves to BearSSL.
 */
/*
 * I9: an ECDSA-Sig-Value in strict DER -- SEQUENCE { INTEGER r, INTEGER s }
 * with minimal lengths, minimal positive integers and nothing after.
 * BearSSL's own conversion accepts more (extra or missing zero bytes).
 */
static int
ecdsa_sig_strict(const unsigned char *p, size_t n)
{
	size_t len, i, at;

	if (n < 8 || p[0] != 0x30)
		return 0;
	if (p[1] < 0x80) {
		len = p[1];
		at = 2;
	} else if (p[1] == 0x81 && p[2] >= 0x80) {
		len = p[2];
		at = 3;
	} else {
		return 0;
	}
	if (at + len != n)
		return 0;
	for (i = 0; i < 2; i++) {
		size_t il;
		if (at + 2 > n || p[at] != 0x02 || p[at + 1] >= 0x80)
			return 0;
		il = p[at + 1];
		at += 2;
		if (il == 0 || at + il > n)
			return 0;
		if (p[at] & 0x80)
			return 0;                   /* negative */
		if (p[at] == 0 && (il == 1 || !(p[at + 1] & 0x80)))
			return 0;                   /* zero, or a needless zero byte */
		at += il;
	}
	return at == n;
}

static uint32_t
ecdsa_vrfy_asn1(const br_ec_impl *impl, const void *hash, size_t hash_len,
	const br_ec_public_key *pk, const void *sig, size_t sig_len)
{
	if (!ecdsa_sig_strict(sig, sig_len))
		return 0;
#ifdef HAVE_FAST_P256
	if (pk->curve == BR_EC_secp256r1) {
		/*
		 * A DER ECDSA-Sig-Value on P-256 is at most 72 bytes (two
		 * INTEGERs of 33). br_ecdsa_asn1_to_raw() converts in place and
		 * pads r and s to the longer of the two, so a malformed input
		 * can come out twice as long as it went in: room for that.
		 */
		unsigned char raw[2 * 72];
		size_t rl;
		if (sig_len > sizeof raw / 2)
			return 0;
		memcpy(raw, sig, sig_len);
		rl = br_ecdsa_asn1_to_raw(raw, sig_len);
		if (rl == 0 || (rl & 1) != 0)
			return 0;
		return (uint32_t)p256_verify_raw(hash, hash_len, pk->q, pk->qlen,
			raw, rl >> 1);
	}
#endif
	return br_ecdsa_vrfy_asn1_get_default()(impl, hash, hash_len, pk, sig, sig_len);
}

/* Is q (uncompressed) a point on the curve? */
static int
ec_point_ok(int curve, const unsigned char *q, size_t qlen)
{
	unsigned char tmp[133], one = 1;

#ifdef HAVE_FAST_P256
	if (curve == BR_EC_secp256r1)
		return p256_point_ok(q, qlen);
#endif
	/* BearSSL decodes (and checks) the point to multiply it by 1 */
	if (qlen > sizeof tmp)
		return 0;
	memcpy(tmp, q, qlen);
	return br_ec_get_default()->mul(tmp, qlen, &one, 1, curve) != 0;
}

/* ---- Public keys ---- */

#define PK_EC   1
#define PK_RSA  2

typedef struct {
	int kind;                     /* PK_EC or PK_RSA */
	int curve;                    /* BR_EC_* */
	unsigned bits;                /* RSA modulus bits / curve size */
	unsigned char q[133];         /* EC point, uncompressed */
	size_t qlen;
	unsigned char n[512], e[4];   /* RSA modulus and exponent */
	size_t nlen, elen;
} pubkey;

static const struct {
	int type;
	const char *name;
	int curve;
	unsigned bits;
} key_types[] = {
	{ HOSTCA_KEY_EC_P256, "ec-p256", BR_EC_secp256r1, 256 },
	{ HOSTCA_KEY_EC_P384, "ec-p384", BR_EC_secp384r1, 384 },
	{ HOSTCA_KEY_EC_P521, "ec-p521", BR_EC_secp521r1, 521 },
	{ HOSTCA_KEY_RSA_2048, "rsa-2048", 0, 2048 },
	{ HOSTCA_KEY_RSA_3072, "rsa-3072", 0, 3072 },
	{ HOSTCA_KEY_RSA_4096, "rsa-4096", 0, 4096 },
};
#define N_KEY_TYPES (sizeof key_types / sizeof key_types[0])

HOSTCA_API const char *
hostca_key_type_name(int type)
{
	size_t i;

	for (i = 0; i < N_KEY_TYPES; i++)
		if (key_types[i].type == type)
			return key_types[i].name;
	return NULL;
}

HOSTCA_API int
hostca_key_type_parse(const char *name)
{
	size_t i;

	for (i = 0; i < N_KEY_TYPES; i++)
		if (strcmp(key_types[i].name, name) == 0)
			return key_types[i].type;
	return 0;
}

static int
key_type_curve(int type)
{
	size_t i;

	for (i = 0; i < N_KEY_TYPES; i++)
		if (key_types[i].type == type)
			return key_types[i].curve;
	return 0;
}

#ifndef HOSTCA_NO_MAIN /* the CA and the CLI only */

/* "ec-p256", "rsa-3072" for a public key (buf of 16). */
static const char *
pubkey_type_name(char *buf, const pubkey *pk)
{
	if (pk->kind == PK_EC)
		snprintf(buf, 16, "ec-p%u", pk->bits);
	else
		snprintf(buf, 16, "rsa-%u", pk->bits);
	return buf;
}

#endif /* HOSTCA_NO_MAIN */

static const char *
curve_name(int curve)
{
	switch (curve) {
	case BR_EC_secp256r1: return "256";
	case BR_EC_secp384r1: return "384";
	case BR_EC_secp521r1: return "521";
	}
	return NULL;
}

/*
 * SubjectPublicKeyInfo ::= SEQUENCE {
 *     algorithm AlgorithmIdentifier,   -- id-ecPublicKey + namedCurve,
 *                                      -- or rsaEncryption + NULL
 *     subjectPublicKey BIT STRING }    -- EC point, or
 *                                      -- RSAPublicKey ::= SEQUENCE { n, e }
 */
static void
dw_spki(derw *w, const pubkey *pk)
{
	dw_open(w, 0x30);
	dw_open(w, 0x30);
	if (pk->kind == PK_EC) {
		dw_oid(w, OID_EC_PUBKEY);
		dw_oid(w, pk->curve == BR_EC_secp256r1 ? OID_P256
			: pk->curve == BR_EC_secp384r1 ? OID_P384 : OID_P521);
		dw_close(w);
		dw_header(w, 0x03, pk->qlen + 1);
		dw_byte(w, 0);
		dw_put(w, pk->q, pk->qlen);
	} else {
		dw_oid(w, OID_RSA);
		dw_null(w);
		dw_close(w);
		dw_open(w, 0x03);
		dw_byte(w, 0);
		dw_open(w, 0x30);
		dw_uint(w, pk->n, pk->nlen);
		dw_uint(w, pk->e, pk->elen);
		dw_close(w);
		dw_close(w);
	}
	dw_close(w);
}

static void
enc_spki(derw *w, const void *ctx)
{
	dw_spki(w, ctx);
}

/* Bit length of a big-endian magnitude. */
static unsigned
bitlen(const unsigned char *v, size_t len)
{
	unsigned b;

	while (len > 0 && *v == 0) {
		v++;
		len--;
	}
	if (len == 0)
		return 0;
	for (b = 8; b > 0 && !(v[0] & (1u << (b - 1))); b--)
		;
	return (unsigned)(len - 1) * 8 + b;
}

/*
 * Reads a SubjectPublicKeyInfo. Refuses every key hostca does not issue
 * for, with a sentence that names the key type.
 */
static int
spki_decode(pubkey *pk, const unsigned char *der, size_t len, char *why)
{
	derr r, s, a;
	derel alg, par, bits;
	const unsigned char *v;
	size_t vl;
	char oid[64];

	memset(pk, 0, sizeof *pk);
	dr_init(&r, der, len);
	dr_enter(&r, 0x30, &s);
	dr_end(&r);
	dr_enter(&s, 0x30, &a);
	dr_get(&a, &alg);
	if (a.err || s.err || r.err) {
		set_why(why, "malformed public key");
		return HOSTCA_ERR_DER;
	}
	if (oid_is(&alg, OID_EC_PUBKEY)) {
		dr_get(&a, &par);
		dr_end(&a);
		dr_expect(&s, 0x03, &bits);
		dr_end(&s);
		if (a.err || s.err) {
			set_why(why, "malformed EC public key");
			return HOSTCA_ERR_DER;
		}
		if (oid_is(&par, OID_P256))
			pk->curve = BR_EC_secp256r1, pk->bits = 256;
		else if (oid_is(&par, OID_P384))
			pk->curve = BR_EC_secp384r1, pk->bits = 384;
		else if (oid_is(&par, OID_P521))
			pk->curve = BR_EC_secp521r1, pk->bits = 521;
		else {
			if (oid_is(&par, OID_SECP256K1))
				strcpy(oid, "secp256k1");
			else if (par.tag == 0x06)
				oid_text(oid, sizeof oid, par.v, par.len);
			else
				strcpy(oid, "explicit parameters");
			set_why(why, "EC key on curve %s is not supported"
				" (only P-256, P-384, P-521)", oid);
			return HOSTCA_ERR_KEY_TYPE;
		}
		if (der_bits_whole(&bits, &v, &vl) < 0 || vl > sizeof pk->q
			|| vl == 0 || v[0] != 0x04) {
			set_why(why, "EC public key is not an uncompressed point");
			return HOSTCA_ERR_KEY_TYPE;
		}
		memcpy(pk->q, v, vl);
		pk->qlen = vl;
		pk->kind = PK_EC;
		if (!ec_point_ok(pk->curve, v, vl)) {
			set_why(why, "EC public key is not a point on P-%s",
				curve_name(pk->curve));
			return HOSTCA_ERR_KEY_TYPE;
		}
		return 0;
	}
	if (oid_is(&alg, OID_RSA)) {
		derr bs, rk;
		derel n, ee;
		if (dr_more(&a)) {
			dr_get(&a, &par);
			if (par.tag != 0x05 || par.len != 0)
				a.err = HOSTCA_ERR_DER;
		}
		dr_end(&a);
		dr_expect(&s, 0x03, &bits);
		dr_end(&s);
		if (a.err || s.err || der_bits_whole(&bits, &v, &vl) < 0) {
			set_why(why, "malformed RSA public key");
			return HOSTCA_ERR_DER;
		}
		dr_init(&bs, v, vl);
		dr_enter(&bs, 0x30, &rk);
		dr_end(&bs);
		dr_get(&rk, &n);
		dr_get(&rk, &ee);
		dr_end(&rk);
		if (bs.err || rk.err) {
			set_why(why, "malformed RSA public key");
			return HOSTCA_ERR_DER;
		}
		{
			const unsigned char *nv, *ev;
			size_t nl, el;
			if (der_uint(&n, &nv, &nl, 0) < 0 || der_uint(&ee, &ev, &el, 0) < 0) {
				set_why(why, "malformed RSA public key");
				return HOSTCA_ERR_DER;
			}
			pk->bits = bitlen(nv, nl);
			if (pk->bits < 2048 || pk->bits > 4096) {
				set_why(why, "RSA key of %u bits is not supported"
					" (2048 to 4096 bits)", pk->bits);
				return HOSTCA_ERR_KEY_TYPE;
			}
			if (el > 4 || !(ev[el - 1] & 1) || (el == 1 && ev[0] < 3)) {
				set_why(why, "RSA public exponent is not supported");
				return HOSTCA_ERR_KEY_TYPE;
			}
			memcpy(pk->n, nv, nl);
			pk->nlen = nl;
			memcpy(pk->e, ev, el);
			pk->elen = el;
		}
		pk->kind = PK_RSA;
		return 0;
	}
	if (oid_is(&alg, OID_ED25519))
		strcpy(oid, "Ed25519");
	else if (oid_is(&alg, OID_ED448))
		strcpy(oid, "Ed448");
	else if (oid_is(&alg, OID_X25519))
		strcpy(oid, "X25519");
	else if (oid_is(&alg, OID_X448))
		strcpy(oid, "X448");
	else if (oid_is(&alg, OID_DSA))
		strcpy(oid, "DSA");
	else if (oid_is(&alg, OID_RSA_PSS))
		strcpy(oid, "RSA-PSS");
	else if (alg.tag == 0x06)
		oid_text(oid, sizeof oid, alg.v, alg.len);
	else
		strcpy(oid, "unknown");
	set_why(why, "%s keys are not supported (ECDSA P-256/P-384/P-521,"
		" RSA 2048-4096)", oid);
	return HOSTCA_ERR_KEY_TYPE;
}

/* out = SHA-256(data) */
static void
sha256_once(unsigned char out[32], const void *data, size_t len)
{
	br_sha256_context h;

	br_sha256_init(&h);
	br_sha256_update(&h, data, len);
	br_sha256_out(&h, out);
}

/* SHA-256 of the SPKI. */
static int
pubkey_fingerprint(const pubkey *pk, unsigned char out[32])
{
	unsigned char buf[1024];
	size_t n = der_encode2(NULL, enc_spki, pk);

	if (n == 0 || n > sizeof buf || der_encode2(buf, enc_spki, pk) != n)
		return HOSTCA_ERR_ARG;
	sha256_once(out, buf, n);
	return 0;
}

#ifndef HOSTCA_NO_MAIN /* the CA only: key identifiers */

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } */
static void
enc_rsa_pub(derw *w, const void *ctx)
{
	const pubkey *pk = ctx;

	dw_open(w, 0x30);
	dw_uint(w, pk->n, pk->nlen);
	dw_uint(w, pk->e, pk->elen);
	dw_close(w);
}

/* Key identifier: SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2). */
static void
pubkey_keyid(const pubkey *pk, unsigned char out[20])
{
	br_sha1_context h;
	unsigned char buf[600];
	size_t n;

	br_sha1_init(&h);
	if (pk->kind == PK_EC) {
		br_sha1_update(&h, pk->q, pk->qlen);
	} else {
		n = der_encode2(NULL, enc_rsa_pub, pk);
		if (n > 0 && n <= sizeof buf && der_encode2(buf, enc_rsa_pub, pk) == n)
			br_sha1_update(&h, buf, n);
	}
	br_sha1_out(&h, out);
}

#endif /* HOSTCA_NO_MAIN */

/* ---- Signature algorithms ---- */

#define SIG_ECDSA_SHA256  1
#define SIG_ECDSA_SHA384  2
#define SIG_ECDSA_SHA512  3
#define SIG_RSA_SHA256    4
#define SIG_RSA_SHA384    5
#define SIG_RSA_SHA512    6

static const struct {
	int alg;
	const unsigned char *oid;
	int rsa;
	const br_hash_class *hash;
	const unsigned char *hash_oid;
	size_t hash_len;
	const char *name;
} sig_algs[] = {
	{ SIG_ECDSA_SHA256, OID_ECDSA_SHA256, 0, &br_sha256_vtable, NULL, 32, "ecdsa-with-SHA256" },
	{ SIG_ECDSA_SHA384, OID_ECDSA_SHA384, 0, &br_sha384_vtable, NULL, 48, "ecdsa-with-SHA384" },
	{ SIG_ECDSA_SHA512, OID_ECDSA_SHA512, 0, &br_sha512_vtable, NULL, 64, "ecdsa-with-SHA512" },
	{ SIG_RSA_SHA256, OID_RSA_SHA256, 1, &br_sha256_vtable, BR_HASH_OID_SHA256, 32, "sha256WithRSAEncryption" },
	{ SIG_RSA_SHA384, OID_RSA_SHA384, 1, &br_sha384_vtable, BR_HASH_OID_SHA384, 48, "sha384WithRSAEncryption" },
	{ SIG_RSA_SHA512, OID_RSA_SHA512, 1, &br_sha512_vtable, BR_HASH_OID_SHA512, 64, "sha512WithRSAEncryption" },
};
#define N_SIG_ALGS (sizeof sig_algs / sizeof sig_algs[0])

static size_t
sig_index(int alg)
{
	size_t i;

	for (i = 0; i < N_SIG_ALGS; i++)
		if (sig_algs[i].alg == alg)
			return i;
	return 0;
}

/* AlgorithmIdentifier ::= SEQUENCE { OID, params }: NULL for RSA,
 * absent for ECDSA (RFC 5758). */
static void
dw_algid(derw *w, int alg)
{
	size_t i = sig_index(alg);

	dw_open(w, 0x30);
	dw_oid(w, sig_algs[i].oid);
	if (sig_algs[i].rsa)
		dw_null(w);
	dw_close(w);
}

/* Reads an AlgorithmIdentifier for a signature; 0 when unsupported. */
static int
algid_decode(const derel *e, char *why)
{
	derr r;
	derel oid, par;
	size_t i;
	char t[64];

	if (e->tag != 0x30) {
		set_why(why, "malformed signature algorithm");
		return 0;
	}
	dr_init(&r, e->v, e->len);
	dr_get(&r, &oid);
	if (r.err || oid.tag != 0x06) {
		set_why(why, "malformed signature algorithm");
		return 0;
	}
	for (i = 0; i < N_SIG_ALGS; i++) {
		if (!oid_is(&oid, sig_algs[i].oid))
			continue;
		if (sig_algs[i].rsa && dr_more(&r)) {
			dr_get(&r, &par);
			if (par.tag != 0x05 || par.len != 0)
				r.err = HOSTCA_ERR_DER;
		}
		if (dr_end(&r) < 0) {
			set_why(why, "malformed signature algorithm parameters");
			return 0;
		}
		return sig_algs[i].alg;
	}
	oid_text(t, sizeof t, oid.v, oid.len);
	if (strstr(t, "SHA-1") != NULL || strstr(t, "MD5") != NULL)
		set_why(why, "signature algorithm %s is not supported: such signatures can be"
			" forged; sign with SHA-256 or better (openssl req -sha256)", t);
	else
		set_why(why, "signature algorithm %s is not supported (ECDSA or"
			" PKCS#1 v1.5 RSA with SHA-256, SHA-384 or SHA-512)", t);
	return 0;
}

static void
hash_data(int alg, const void *data, size_t len, unsigned char *out)
{
	br_hash_compat_context hc;
	const br_hash_class *h = sig_algs[sig_index(alg)].hash;

	h->init(&hc.vtable);
	h->update(&hc.vtable, data, len);
	h->out(&hc.vtable, out);
}

/* Verifies sig over data with pk; 0 when good. */
static int
sig_verify(const pubkey *pk, int alg, const void *data, size_t len,
	const unsigned char *sig, size_t sig_len)
{
	size_t i = sig_index(alg);
	unsigned char hash[64], out[64];

	if (alg == 0 || (pk->kind == PK_RSA) != (sig_algs[i].rsa != 0))
		return HOSTCA_ERR_SIG_ALG;
	hash_data(alg, data, len, hash);
	if (pk->kind == PK_EC) {
		br_ec_public_key k;
		k.curve = pk->curve;
		k.q = (unsigned char *)pk->q;
		k.qlen = pk->qlen;
		if (!ecdsa_vrfy_asn1(br_ec_get_default(), hash,
			sig_algs[i].hash_len, &k, sig, sig_len))
			return HOSTCA_ERR_SIGNATURE;
		return 0;
	} else {
		br_rsa_public_key k;
		k.n = (unsigned char *)pk->n;
		k.nlen = pk->nlen;
		k.e = (unsigned char *)pk->e;
		k.elen = pk->elen;
		if (sig_len != pk->nlen
			|| !br_rsa_pkcs1_vrfy_get_default()(sig, sig_len,
				sig_algs[i].hash_oid, sig_algs[i].hash_len, &k, out)
			|| !ct_equal(out, hash, sig_algs[i].hash_len))
			return HOSTCA_ERR_SIGNATURE;
		return 0;
	}
}

/* ---- Private keys ---- */

static int
key_is_ec(const hostca_key *k)
{
	return k->type >= HOSTCA_KEY_EC_P256 && k->type <= HOSTCA_KEY_EC_P521;
}

static void
key_ec(const hostca_key *k, br_ec_private_key *sk, br_ec_public_key *pk)
{
	if (sk != NULL) {
		sk->curve = key_type_curve(k->type);
		sk->x = (unsigned char *)k->data + k->off[0];
		sk->xlen = k->len[0];
	}
	if (pk != NULL) {
		pk->curve = key_type_curve(k->type);
		pk->q = (unsigned char *)k->data + k->off[1];
		pk->qlen = k->len[1];
	}
}

static void
key_rsa(const hostca_key *k, br_rsa_private_key *sk, br_rsa_public_key *pk)
{
	unsigned char *d = (unsigned char *)k->data;

	if (sk != NULL) {
		sk->n_bitlen = bitlen(d + k->off[5], k->len[5]);
		sk->p = d + k->off[0]; sk->plen = k->len[0];
		sk->q = d + k->off[1]; sk->qlen = k->len[1];
		sk->dp = d + k->off[2]; sk->dplen = k->len[2];
		sk->dq = d + k->off[3]; sk->dqlen = k->len[3];
		sk->iq = d + k->off[4]; sk->iqlen = k->len[4];
	}
	if (pk != NULL) {
		pk->n = d + k->off[5]; pk->nlen = k->len[5];
		pk->e = d + k->off[6]; pk->elen = k->len[6];
	}
}

/* Appends a component to the key's data. */
static int
key_push(hostca_key *k, int i, const void *v, size_t len)
{
	size_t at = i == 0 ? 0 : k->off[i - 1] + k->len[i - 1];

	if (at + len > sizeof k->data)
		return -1;
	memcpy(k->data + at, v, len);
	k->off[i] = at;
	k->len[i] = len;
	return 0;
}

static void
key_pubkey(const hostca_key *k, pubkey *pk)
{
	memset(pk, 0, sizeof *pk);
	if (key_is_ec(k)) {
		pk->kind = PK_EC;
		pk->curve = key_type_curve(k->type);
		pk->bits = pk->curve == BR_EC_secp256r1 ? 256
			: pk->curve == BR_EC_secp384r1 ? 384 : 521;
		memcpy(pk->q, k->data + k->off[1], k->len[1]);
		pk->qlen = k->len[1];
	} else {
		const unsigned char *n = k->data + k->off[5];
		size_t nl = k->len[5];
		while (nl > 1 && *n == 0) {
			n++;
			nl--;
		}
		pk->kind = PK_RSA;
		memcpy(pk->n, n, nl);
		pk->nlen = nl;
		memcpy(pk->e, k->data + k->off[6], k->len[6]);
		pk->elen = k->len[6];
		pk->bits = bitlen(pk->n, pk->nlen);
	}
}

HOSTCA_API void
hostca_key_wipe(hostca_key *key)
{
	hostca_wipe(key, sizeof *key);
}

static int
key_from_ec(hostca_key *k, int type, const br_ec_private_key *sk)
{
	unsigned char pub[BR_EC_KBUF_PUB_MAX_SIZE];
	size_t n;

	memset(k, 0, sizeof *k);
	k->type = type;
	n = br_ec_compute_pub(br_ec_get_default(), NULL, pub, sk);
	if (n == 0 || key_push(k, 0, sk->x, sk->xlen) < 0 || key_push(k, 1, pub, n) < 0) {
		hostca_key_wipe(k);
		return HOSTCA_ERR_KEY;
	}
	return 0;
}

static int
key_from_rsa(hostca_key *k, const br_rsa_private_key *sk,
	const unsigned char *n, size_t nlen, uint32_t e)
{
	unsigned char eb[4];
	size_t el = 0;
	int i;

	memset(k, 0, sizeof *k);
	switch (sk->n_bitlen) {
	case 2048: k->type = HOSTCA_KEY_RSA_2048; break;
	case 3072: k->type = HOSTCA_KEY_RSA_3072; break;
	case 4096: k->type = HOSTCA_KEY_RSA_4096; break;
	default: return HOSTCA_ERR_KEY_TYPE;
	}
	for (i = 3; i >= 0; i--) {
		unsigned char b = (unsigned char)(e >> (8 * i));
		if (b != 0 || el > 0)
			eb[el++] = b;
	}
	if (el == 0 || key_push(k, 0, sk->p, sk->plen) < 0
		|| key_push(k, 1, sk->q, sk->qlen) < 0
		|| key_push(k, 2, sk->dp, sk->dplen) < 0
		|| key_push(k, 3, sk->dq, sk->dqlen) < 0
		|| key_push(k, 4, sk->iq, sk->iqlen) < 0
		|| key_push(k, 5, n, nlen) < 0 || key_push(k, 6, eb, el) < 0) {
		hostca_key_wipe(k);
		return HOSTCA_ERR_KEY;
	}
	return 0;
}

static int
key_generate(hostca_key *k, int type, rng_state *rng)
{
	if (hostca_key_type_name(type) == NULL)
		return HOSTCA_ERR_KEY_TYPE;
	if (type <= HOSTCA_KEY_EC_P521) {
		br_ec_private_key sk;
		unsigned char kbuf[BR_EC_KBUF_PRIV_MAX_SIZE];
		int err;
		if (br_ec_keygen(&rng->drbg.vtable, br_ec_get_default(), &sk, kbuf,
			key_type_curve(type)) == 0)
			return HOSTCA_ERR_KEY;
		err = key_from_ec(k, type, &sk);
		hostca_wipe(kbuf, sizeof kbuf);
		return err;
	} else {
		unsigned bits = type == HOSTCA_KEY_RSA_2048 ? 2048
			: type == HOSTCA_KEY_RSA_3072 ? 3072 : 4096;
		br_rsa_private_key sk;
		br_rsa_public_key pk;
		unsigned char *priv, pub[BR_RSA_KBUF_PUB_SIZE(4096)];
		int err;
		priv = mem_alloc(BR_RSA_KBUF_PRIV_SIZE(4096));
		if (priv == NULL)
			return HOSTCA_ERR_NOMEM;
		if (!br_rsa_keygen_get_default()(&rng->drbg.vtable, &sk, priv, &pk,
			pub, bits, 65537)) {
			hostca_wipe(priv, BR_RSA_KBUF_PRIV_SIZE(4096));
			mem_free(priv);
			return HOSTCA_ERR_KEY;
		}
		err = key_from_rsa(k, &sk, pk.n, pk.nlen, 65537);
		hostca_wipe(priv, BR_RSA_KBUF_PRIV_SIZE(4096));
		mem_free(priv);
		return err;
	}
}

HOSTCA_API int
hostca_key_generate(hostca_key *key, int type, const void *seed, size_t seed_len)
{
	rng_state rng;
	int err;

	if (seed != NULL)
		rng_init_seed(&rng, seed, seed_len);
	else if ((err = rng_init_system(&rng)) < 0)
		return err;
	err = key_generate(key, type, &rng);
	hostca_wipe(&rng, sizeof rng);
	return err;
}

HOSTCA_API size_t
hostca_key_encode(void *dest, const hostca_key *k)
{
	if (key_is_ec(k)) {
		br_ec_private_key sk;
		br_ec_public_key pk;
		key_ec(k, &sk, &pk);
		return br_encode_ec_pkcs8_der(dest, &sk, &pk);
	} else if (k->type >= HOSTCA_KEY_RSA_2048 && k->type <= HOSTCA_KEY_RSA_4096) {
		br_rsa_private_key sk;
		br_rsa_public_key pk;
		unsigned char d[512];
		size_t dl, n;
		uint32_t e = 0;
		size_t i;
		key_rsa(k, &sk, &pk);
		for (i = 0; i < pk.elen; i++)
			e = e << 8 | pk.e[i];
		/* i15: BearSSL 0.6's default (i31) gives 0 for 4096-bit keys */
		dl = br_rsa_i15_compute_privexp(d, &sk, e);
		if (dl == 0)
			return 0;
		n = br_encode_rsa_pkcs8_der(dest, &sk, &pk, d, dl);
		hostca_wipe(d, sizeof d);
		return n;
	}
	return 0;
}

HOSTCA_API int
hostca_key_decode(hostca_key *k, const void *der, size_t len)
{
	br_skey_decoder_context *dc;
	int err = HOSTCA_ERR_KEY;

	memset(k, 0, sizeof *k);
	if (len == 0 || len > HOSTCA_MAX_DER)
		return HOSTCA_ERR_KEY;
	dc = mem_alloc(sizeof *dc);
	if (dc == NULL)
		return HOSTCA_ERR_NOMEM;
	br_skey_decoder_init(dc);
	br_skey_decoder_push(dc, der, len);
	if (br_skey_decoder_last_error(dc) == 0) {
		if (br_skey_decoder_key_type(dc) == BR_KEYTYPE_EC) {
			const br_ec_private_key *sk = br_skey_decoder_get_ec(dc);
			int type = sk->curve == BR_EC_secp256r1 ? HOSTCA_KEY_EC_P256
				: sk->curve == BR_EC_secp384r1 ? HOSTCA_KEY_EC_P384
				: sk->curve == BR_EC_secp521r1 ? HOSTCA_KEY_EC_P521 : 0;
			err = type ? key_from_ec(k, type, sk) : HOSTCA_ERR_KEY_TYPE;
		} else if (br_skey_decoder_key_type(dc) == BR_KEYTYPE_RSA) {
			const br_rsa_private_key *sk = br_skey_decoder_get_rsa(dc);
			unsigned char n[512];
			/* i15: BearSSL 0.6's default (i31) modulus computation
			 * returns 0 for 4096-bit keys */
			size_t nl = br_rsa_i15_compute_modulus(NULL, sk);
			uint32_t e = br_rsa_i15_compute_pubexp(sk);
			if (nl > 0 && nl <= sizeof n && e != 0
				&& br_rsa_i15_compute_modulus(n, sk) == nl)
				err = key_from_rsa(k, sk, n, nl, e);
		}
	}
	hostca_wipe(dc, sizeof *dc);
	mem_free(dc);
	return err;
}

HOSTCA_API int
hostca_key_fingerprint(const hostca_key *key, unsigned char out[32])
{
	pubkey pk;

	if (key->type == 0)
		return HOSTCA_ERR_ARG;
	key_pubkey(key, &pk);
	return pubkey_fingerprint(&pk, out);
}

static int
key_sig_alg(const hostca_key *k)
{
	switch (k->type) {
	case HOSTCA_KEY_EC_P256: return SIG_ECDSA_SHA256;
	case HOSTCA_KEY_EC_P384: return SIG_ECDSA_SHA384;
	case HOSTCA_KEY_EC_P521: return SIG_ECDSA_SHA512;
	default: return SIG_RSA_SHA256;
	}
}

/* Signs data with the key's algorithm; sig holds 512 bytes. */
static size_t
key_sign(const hostca_key *k, const void *data, size_t len, unsigned char *sig)
{
	int alg = key_sig_alg(k);
	size_t i = sig_index(alg);
	unsigned char hash[64];

	hash_data(alg, data, len, hash);
	if (key_is_ec(k)) {
		br_ec_private_key sk;
		key_ec(k, &sk, NULL);
		return br_ecdsa_sign_asn1_get_default()(br_ec_get_default(),
			sig_algs[i].hash, hash, &sk, sig);
	} else {
		br_rsa_private_key sk;
		br_rsa_public_key pk;
		key_rsa(k, &sk, &pk);
		if (!br_rsa_pkcs1_sign_get_default()(sig_algs[i].hash_oid, hash,
			sig_algs[i].hash_len, &sk, sig))
			return 0;
		return (sk.n_bitlen + 7) / 8;
	}
}

/* ---- Names ---- */

/* Name ::= SEQUENCE OF SET OF AttributeTypeAndValue; we write CN only. */
static void
dw_name_cn(derw *w, const char *cn)
{
	dw_open(w, 0x30);
	dw_open(w, 0x31);
	dw_open(w, 0x30);
	dw_oid(w, OID_CN);
	dw_tlv(w, 0x0c, cn, strlen(cn));
	dw_close(w);
	dw_close(w);
	dw_close(w);
}

/* Printable ASCII with no control characters (what we show or store). */
static int
text_clean(const unsigned char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return 0;
	return 1;
}

static int
string_tag_ok(unsigned tag)
{
	return tag == 0x0c || tag == 0x13 || tag == 0x16; /* UTF8, Printable, IA5 */
}

/*
 * Walks a Name: strict structure; the CN (if exactly one) goes to cn.
 * text, if not NULL, receives "CN=x, O=y" for display.
 */
static int
name_decode(const unsigned char *der, size_t len, char *cn, size_t cn_cap,
	int *has_cn, char *text, size_t text_cap)
{
	derr r, seq, set, atv;
	derel oid, val;
	size_t to = 0;

	*has_cn = 0;
	if (cn)
		cn[0] = 0;
	if (text)
		text[0] = 0;
	dr_init(&r, der, len);
	dr_enter(&r, 0x30, &seq);
	dr_end(&r);
	while (dr_more(&seq)) {
		dr_enter(&seq, 0x31, &set);
		if (!dr_more(&set))
			return HOSTCA_ERR_DER;
		while (dr_more(&set)) {
			const char *label = NULL;
			char ot[64];
			dr_enter(&set, 0x30, &atv);
			dr_expect(&atv, 0x06, &oid);
			dr_get(&atv, &val);
			dr_end(&atv);
			if (atv.err)
				return HOSTCA_ERR_DER;
			if (oid.len == 3 && oid.v[0] == 0x55 && oid.v[1] == 0x04) {
				switch (oid.v[2]) {
				case 3: label = "CN"; break;
				case 6: label = "C"; break;
				case 7: label = "L"; break;
				case 8: label = "ST"; break;
				case 10: label = "O"; break;
				case 11: label = "OU"; break;
				case 5: label = "serialNumber"; break;
				}
			}
			if (label == NULL) {
				oid_text(ot, sizeof ot, oid.v, oid.len);
				label = ot;
			}
			if (oid_is(&oid, OID_CN)) {
				if (!string_tag_ok(val.tag) || *has_cn
					|| val.len == 0 || val.len >= cn_cap)
					return HOSTCA_ERR_NAME;
				if (cn != NULL) {
					memcpy(cn, val.v, val.len);
					cn[val.len] = 0;
				}
				*has_cn = 1;
			}
			if (text != NULL && to + 8 < text_cap) {
				int k = snprintf(text + to, text_cap - to, "%s%s=", to ? ", " : "", label);
				size_t i;
				to += (size_t)k < text_cap - to ? (size_t)k : text_cap - to - 1;
				for (i = 0; i < val.len && to + 5 < text_cap; i++) {
					unsigned char c = val.v[i];
					if (c >= 0x20 && c < 0x7f && c != '\\') {
						text[to++] = (char)c;
					} else {
						snprintf(text + to, 5, "\\x%02x", c);
						to += 4;
					}
				}
				text[to] = 0;
			}
		}
		dr_join(&seq, &set);
	}
	if (seq.err || r.err)
		return HOSTCA_ERR_DER;
	return 0;
}

#ifndef HOSTCA_NO_MAIN /* the CA only: reading requests */

/* 1 when a Name's string values hold control characters (or NUL, DEL). */
static int
name_has_ctrl(const unsigned char *der, size_t len)
{
	derr r, seq, set, atv;
	derel oid, val;
	size_t i;

	dr_init(&r, der, len);
	dr_enter(&r, 0x30, &seq);
	while (dr_more(&seq)) {
		dr_enter(&seq, 0x31, &set);
		while (dr_more(&set)) {
			dr_enter(&set, 0x30, &atv);
			dr_expect(&atv, 0x06, &oid);
			dr_get(&atv, &val);
			if (atv.err)
				return 1;
			for (i = 0; i < val.len; i++)
				if (val.v[i] < 0x20 || val.v[i] == 0x7f)
					return 1;
		}
	}
	return seq.err != 0;
}

#endif /* HOSTCA_NO_MAIN */

/* ---- Host names (SAN entries) ---- */

#define HN_DNS 1
#define HN_IP  2

typedef struct {
	int type;
	char text[HOSTCA_MAX_NAME_LEN + 1];    /* DNS name or IP literal */
	unsigned char ip[16];
	size_t iplen;
} hostname;

#include <arpa/inet.h>

/* A DNS name: LDH labels of 1-63, total at most 253, no trailing dot.
 * Lower-cased in place. */
static int
dns_name_check(char *s)
{
	size_t n = strlen(s), i, lab = 0;

	if (n == 0 || n > HOSTCA_MAX_NAME_LEN)
		return -1;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			s[i] = (char)(c - 'A' + 'a'), c = s[i];
		if (c == '.') {
			if (lab == 0 || s[i - 1] == '-')
				return -1;
			lab = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return -1;
		if (c == '-' && lab == 0)
			return -1;
		if (++lab > 63)
			return -1;
	}
	if (lab == 0 || s[n - 1] == '-')
		return -1;
	/* all-numeric last label would look like an IP address */
	for (i = n; i > 0 && s[i - 1] != '.'; i--)
		;
	if (strspn(s + i, "0123456789") == n - i)
		return -1;
	return 0;
}

/* I5: an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address:
 * clients match it against either, so it is stored as IPv4. */
static void
ip_canonical(hostname *h)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (h->iplen == 16 && memcmp(h->ip, mapped, 12) == 0) {
		memmove(h->ip, h->ip + 12, 4);
		memset(h->ip + 4, 0, 12);
		h->iplen = 4;
	}
}

/* Parses a name given by an operator or a CSR: an IP literal or a DNS name. */
static int
hostname_parse(hostname *h, const char *s)
{
	memset(h, 0, sizeof *h);
	if (strlen(s) > HOSTCA_MAX_NAME_LEN)
		return -1;
	if (inet_pton(AF_INET, s, h->ip) == 1) {
		h->type = HN_IP;
		h->iplen = 4;
	} else if (strchr(s, ':') && inet_pton(AF_INET6, s, h->ip) == 1) {
		h->type = HN_IP;
		h->iplen = 16;
	} else {
		strcpy(h->text, s);
		if (dns_name_check(h->text) < 0)
			return -1;
		h->type = HN_DNS;
		return 0;
	}
	ip_canonical(h);
	inet_ntop(h->iplen == 4 ? AF_INET : AF_INET6, h->ip, h->text, sizeof h->text);
	return 0;
}

static int
hostname_from_ip(hostname *h, const unsigned char *v, size_t len)
{
	memset(h, 0, sizeof *h);
	if (len != 4 && len != 16)
		return -1;
	h->type = HN_IP;
	h->iplen = len;
	memcpy(h->ip, v, len);
	ip_canonical(h);
	inet_ntop(h->iplen == 4 ? AF_INET : AF_INET6, h->ip, h->text, sizeof h->text);
	return 0;
}

static int
hostname_eq(const hostname *a, const hostname *b)
{
	return a->type == b->type && strcmp(a->text, b->text) == 0;
}

/* ---- UUIDs ---- */

HOSTCA_API int
hostca_uuid_check(const char *s)
{
	size_t i;

	if (strlen(s) != HOSTCA_UUID_LEN)
		return 0;
	for (i = 0; i < HOSTCA_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (hex_digit((unsigned char)s[i]) < 0) {
			return 0;
		}
	}
	return 1;
}

static void
uuid_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static void
uuid_from_random(char out[37], rng_state *rng)
{
	unsigned char b[16];

	rng_bytes(rng, b, 16);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
	hex_encode(out, b, 4, 0, 0);
	out[8] = '-';
	hex_encode(out + 9, b + 4, 2, 0, 0);
	out[13] = '-';
	hex_encode(out + 14, b + 6, 2, 0, 0);
	out[18] = '-';
	hex_encode(out + 19, b + 8, 2, 0, 0);
	out[23] = '-';
	hex_encode(out + 24, b + 10, 6, 0, 0);
}

HOSTCA_API int
hostca_random(void *out, size_t len)
{
	rng_state rng;
	int err;

	if ((err = rng_init_system(&rng)) < 0)
		return err;
	rng_bytes(&rng, out, len);
	hostca_wipe(&rng, sizeof rng);
	return 0;
}

HOSTCA_API int
hostca_uuid_generate(char out[HOSTCA_UUID_LEN + 1])
{
	rng_state rng;
	int err;

	if ((err = rng_init_system(&rng)) < 0)
		return err;
	uuid_from_random(out, &rng);
	hostca_wipe(&rng, sizeof rng);
	return 0;
}

/*
 * GeneralNames as we write them:
 *   SEQUENCE { [2] dNSName IA5String, [7] iPAddress OCTET STRING, ...,
 *              [6] uniformResourceIdentifier "urn:uuid:<hostid>" }
 */
static void
dw_general_names(derw *w, const hostname *names, size_t n, const char *hostid)
{
	char uri[9 + HOSTCA_UUID_LEN + 1];
	size_t i;

	dw_open(w, 0x30);
	for (i = 0; i < n; i++) {
		if (names[i].type == HN_DNS)
			dw_tlv(w, 0x82, names[i].text, strlen(names[i].text));
		else
			dw_tlv(w, 0x87, names[i].ip, names[i].iplen);
	}
	if (hostid != NULL) {
		snprintf(uri, sizeof uri, "urn:uuid:%s", hostid);
		dw_tlv(w, 0x86, uri, strlen(uri));
	}
	dw_close(w);
}

/*
 * Reads GeneralNames. DNS and IP names go to names (deduplicated); a
 * urn:uuid: URI to hostid. Other kinds are refused: the CA signs nothing
 * it does not understand.
 */
static int
general_names_decode(const unsigned char *der, size_t len, hostname *names,
	size_t *nnames, char hostid[37], char *why)
{
	derr r, s;
	derel e;
	char buf[HOSTCA_MAX_NAME_LEN + 1];

	dr_init(&r, der, len);
	dr_enter(&r, 0x30, &s);
	if (dr_end(&r) < 0) {
		set_why(why, "malformed subjectAltName");
		return HOSTCA_ERR_DER;
	}
	while (dr_more(&s)) {
		hostname h;
		size_t i;
		if (dr_get(&s, &e) < 0)
			break;
		switch (e.tag) {
		case 0x82:   /* dNSName */
			if (e.len == 0 || e.len > HOSTCA_MAX_NAME_LEN || !text_clean(e.v, e.len)) {
				set_why(why, "DNS name in subjectAltName is empty, too long or has control characters");
				return HOSTCA_ERR_NAME;
			}
			memcpy(buf, e.v, e.len);
			buf[e.len] = 0;
			memset(&h, 0, sizeof h);
			strcpy(h.text, buf);
			h.type = HN_DNS;
			if (dns_name_check(h.text) < 0) {
				set_why(why, "DNS name '%s' in subjectAltName is not a valid host name", buf);
				return HOSTCA_ERR_NAME;
			}
			break;
		case 0x87:   /* iPAddress */
			if (hostname_from_ip(&h, e.v, e.len) < 0) {
				set_why(why, "IP address in subjectAltName has %zu bytes", e.len);
				return HOSTCA_ERR_NAME;
			}
			break;
		case 0x86:   /* URI */
			if (e.len == 9 + HOSTCA_UUID_LEN && memcmp(e.v, "urn:uuid:", 9) == 0) {
				char u[37];
				memcpy(u, e.v + 9, HOSTCA_UUID_LEN);
				u[36] = 0;
				if (!hostca_uuid_check(u)) {
					set_why(why, "urn:uuid: name is not a UUID");
					return HOSTCA_ERR_HOSTID;
				}
				uuid_lower(u);
				if (hostid[0] && strcmp(hostid, u) != 0) {
					set_why(why, "two different urn:uuid: names");
					return HOSTCA_ERR_HOSTID;
				}
				strcpy(hostid, u);
				continue;
			}
			set_why(why, "URI names other than urn:uuid:<host ID> are not supported");
			return HOSTCA_ERR_NAME;
		default:
			set_why(why, "subjectAltName of type [%u] is not supported (DNS, IP and urn:uuid only)",
				e.tag & 0x1f);
			return HOSTCA_ERR_NAME;
		}
		for (i = 0; i < *nnames; i++)
			if (hostname_eq(&names[i], &h))
				break;
		if (i < *nnames)
			continue;
		if (*nnames >= HOSTCA_MAX_NAMES) {
			set_why(why, "more than %d names", HOSTCA_MAX_NAMES);
			return HOSTCA_ERR_LIMIT;
		}
		names[(*nnames)++] = h;
	}
	if (s.err) {
		set_why(why, "malformed subjectAltName");
		return HOSTCA_ERR_DER;
	}
	return 0;
}

/* ---- Signed objects ----
 *
 * Certificate, CertificationRequest and CertificateList share a shape:
 *   SEQUENCE { body, signatureAlgorithm AlgorithmIdentifier,
 *              signature BIT STRING }
 */
typedef struct {
	const unsigned char *body;
	size_t body_len;
	int alg;
	const unsigned char *sig;
	size_t sig_len;
} signed_obj;

static void
enc_signed(derw *w, const void *ctx)
{
	const signed_obj *o = ctx;

	dw_open(w, 0x30);
	dw_put(w, o->body, o->body_len);
	dw_algid(w, o->alg);
	dw_header(w, 0x03, o->sig_len + 1);
	dw_byte(w, 0);
	dw_put(w, o->sig, o->sig_len);
	dw_close(w);
}

/* Signs an encoded body; the signed object in a fresh allocation. */
static unsigned char *
signed_build(const unsigned char *body, size_t n, const hostca_key *key,
	size_t *out_len)
{
	signed_obj o;
	unsigned char *out, sig[512];

	o.body = body;
	o.body_len = n;
	o.alg = key_sig_alg(key);
	o.sig = sig;
	o.sig_len = key_sign(key, body, n, sig);
	out = NULL;
	if (o.sig_len > 0 && (n = der_encode2(NULL, enc_signed, &o)) > 0
		&& (out = mem_alloc(n)) != NULL) {
		if (der_encode2(out, enc_signed, &o) != n) {
			mem_free(out);
			out = NULL;
		} else {
			*out_len = n;
		}
	}
	return out;
}


/*
 * Encodes a body with fn/ctx, signs it with key and returns the whole
 * signed object in a fresh allocation (NULL on error).
 */
static unsigned char *
sign_object(derw_fn fn, const void *ctx, const hostca_key *key, size_t *out_len)
{
	unsigned char *body, *out;
	size_t n;

	n = der_encode2(NULL, fn, ctx);
	if (n == 0 || (body = mem_alloc(n)) == NULL)
		return NULL;
	out = der_encode2(body, fn, ctx) == n ? signed_build(body, n, key, out_len) : NULL;
	mem_free(body);
	return out;
}

/* Splits a signed object; checks strictness of the outer layer. */
static int
signed_decode(signed_obj *o, derel *body, const unsigned char *der,
	size_t len, char *why)
{
	derr r, s;
	derel alg, bits;

	dr_init(&r, der, len);
	dr_enter(&r, 0x30, &s);
	dr_end(&r);
	dr_get(&s, body);
	dr_get(&s, &alg);
	dr_expect(&s, 0x03, &bits);
	dr_end(&s);
	if (r.err || s.err || body->tag != 0x30) {
		set_why(why, "malformed: not strict DER");
		return HOSTCA_ERR_DER;
	}
	o->body = body->raw;
	o->body_len = body->raw_len;
	if (der_bits_whole(&bits, &o->sig, &o->sig_len) < 0 || o->sig_len == 0) {
		set_why(why, "malformed signature");
		return HOSTCA_ERR_DER;
	}
	/* body is valid even on this error: the caller may say more */
	if ((o->alg = algid_decode(&alg, why)) == 0)
		return HOSTCA_ERR_SIG_ALG;
	return 0;
}

/* Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE,
 *                          extnValue OCTET STRING } -- open/close pair */
static void
dw_ext_open(derw *w, const unsigned char *oid, int critical)
{
	dw_open(w, 0x30);
	dw_oid(w, oid);
	if (critical)
		dw_bool_true(w);
	dw_open(w, 0x04);
}

static void
dw_ext_close(derw *w)
{
	dw_close(w);
	dw_close(w);
}

/*
 * Reads one Extension strictly: critical, when present, is TRUE (DER
 * leaves out the default FALSE); the value is strict DER as well.
 */
static int
dr_extension(derr *r, derel *oid, int *critical, derel *val)
{
	derr ext;
	derel crit;

	*critical = 0;
	dr_enter(r, 0x30, &ext);
	dr_expect(&ext, 0x06, oid);
	if (dr_peek(&ext) == 0x01) {
		dr_get(&ext, &crit);
		if (crit.len != 1 || crit.v[0] != 0xff)
			ext.err = HOSTCA_ERR_DER;
		*critical = 1;
	}
	dr_expect(&ext, 0x04, val);
	dr_end(&ext);
	if (r->err || ext.err || der_check_tree(val->v, val->len, 2) < 0)
		return -1;
	return 0;
}

/* ---- Certificate requests (PKCS#10) ---- */

typedef struct {
	const unsigned char *der;
	size_t der_len;
	const unsigned char *spki;
	size_t spki_len;
	pubkey pub;
	int sig_alg;
	char cn[HOSTCA_MAX_NAME_LEN + 1];
	int has_cn;
	char subject[256];
	char challenge[MAX_CHALLENGE + 1];
	int has_challenge;
	char hostid[HOSTCA_UUID_LEN + 1];
	hostname names[HOSTCA_MAX_NAMES];
	size_t nnames;
	char crit_ignored[64];       /* a critical extension asked for, not signed */
} csr_info;

#ifndef HOSTCA_NO_MAIN /* the CA only: reading requests */

/* Reads one Extensions SEQUENCE; only subjectAltName is taken. */
static int
csr_extensions(csr_info *c, const derel *exts, char *why)
{
	derr r;
	derel oid, val;
	int err, seen_san = 0, critical;

	dr_init(&r, exts->v, exts->len);
	while (dr_more(&r)) {
		if (dr_extension(&r, &oid, &critical, &val) < 0) {
			set_why(why, "malformed extension in the request");
			return HOSTCA_ERR_DER;
		}
		if (oid_is(&oid, OID_SAN)) {
			if (seen_san++) {
				set_why(why, "two subjectAltName extensions");
				return HOSTCA_ERR_DER;
			}
			err = general_names_decode(val.v, val.len, c->names,
				&c->nnames, c->hostid, why);
			if (err < 0)
				return err;
		}
		/* Other requested extensions (key usage, basic constraints...)
		 * are the CA's decision, not the requester's: ignored; a
		 * critical one is named in the verdict (README "Limits"). */
		else if (critical && !c->crit_ignored[0])
			oid_text(c->crit_ignored, sizeof c->crit_ignored, oid.v, oid.len);
	}
	if (r.err) {
		set_why(why, "malformed extensions in the request");
		return HOSTCA_ERR_DER;
	}
	return 0;
}

/*
 * CertificationRequest ::= SEQUENCE {
 *     certificationRequestInfo SEQUENCE {
 *         version INTEGER (0), subject Name,
 *         subjectPKInfo SubjectPublicKeyInfo,
 *         attributes [0] SET OF Attribute },
 *     signatureAlgorithm AlgorithmIdentifier,
 *     signature BIT STRING }
 *
 * Strict DER throughout; the signature must verify; the key must be one
 * hostca issues for. Host ID and names are collected (SPEC: a urn:uuid:
 * SAN or a UUID CN; DNS/IP SANs and a host-name-like CN).
 */
static int
csr_decode(csr_info *c, const unsigned char *der, size_t len, char *why)
{
	signed_obj o;
	derel body, ver, subj, spki, attrs;
	derr r;
	int err;

	memset(c, 0, sizeof *c);
	c->der = der;
	c->der_len = len;
	if (len > HOSTCA_MAX_DER) {
		set_why(why, "request larger than %d bytes", HOSTCA_MAX_DER);
		return HOSTCA_ERR_LIMIT;
	}
	if (der_check_tree(der, len, 0) < 0) {
		set_why(why, "malformed: not strict DER");
		return HOSTCA_ERR_DER;
	}
	err = signed_decode(&o, &body, der, len, why);
	if (err == HOSTCA_ERR_SIG_ALG) {
		/* An unsupported algorithm usually means an unsupported key:
		 * name the key type when the request says it. */
		derr b;
		derel e1, e2, sp;
		pubkey pk;
		char kw[WHY_CAP];
		dr_init(&b, body.v, body.len);
		dr_get(&b, &e1);
		dr_get(&b, &e2);
		if (dr_expect(&b, 0x30, &sp) == 0 && e1.tag == 0x02
			&& spki_decode(&pk, sp.raw, sp.raw_len, kw) == HOSTCA_ERR_KEY_TYPE) {
			set_why(why, "%s", kw);
			return HOSTCA_ERR_KEY_TYPE;
		}
	}
	if (err < 0)
		return err;
	dr_init(&r, body.v, body.len);
	if (dr_peek(&r) == 0xa0) {
		set_why(why, "this is a certificate, not a certificate request");
		return HOSTCA_ERR_NOT_CSR;
	}
	dr_expect(&r, 0x02, &ver);
	dr_expect(&r, 0x30, &subj);
	dr_expect(&r, 0x30, &spki);
	dr_expect(&r, 0xa0, &attrs);
	dr_end(&r);
	if (r.err) {
		set_why(why, "not a certificate request (PKCS#10)");
		return HOSTCA_ERR_NOT_CSR;
	}
	if (ver.len != 1 || ver.v[0] != 0) {
		set_why(why, "request version is not 1 (0)");
		return HOSTCA_ERR_NOT_CSR;
	}
	if ((err = spki_decode(&c->pub, spki.raw, spki.raw_len, why)) < 0)
		return err;
	c->spki = spki.raw;
	c->spki_len = spki.raw_len;
	c->sig_alg = o.alg;
	if (sig_verify(&c->pub, o.alg, o.body, o.body_len, o.sig, o.sig_len) < 0) {
		set_why(why, "the request's signature does not verify (forged or damaged)");
		return HOSTCA_ERR_SIGNATURE;
	}
	/* Subject. */
	err = name_decode(subj.raw, subj.raw_len, c->cn, sizeof c->cn,
		&c->has_cn, c->subject, sizeof c->subject);
	if (err < 0) {
		set_why(why, "malformed subject name");
		return err;
	}
	if (name_has_ctrl(subj.raw, subj.raw_len)) {
		set_why(why, "the subject has control characters (a forged request?)");
		return HOSTCA_ERR_NAME;
	}
	if (c->has_cn && strpbrk(c->cn, "/\\") != NULL) {
		set_why(why, "the common name has a path separator");
		return HOSTCA_ERR_NAME;
	}
	/* Attributes. */
	dr_init(&r, attrs.v, attrs.len);
	while (dr_more(&r)) {
		derr a, set;
		derel oid, v;
		dr_enter(&r, 0x30, &a);
		dr_expect(&a, 0x06, &oid);
		dr_enter(&a, 0x31, &set);
		dr_end(&a);
		if (a.err) {
			set_why(why, "malformed request attribute");
			return HOSTCA_ERR_DER;
		}
		if (oid_is(&oid, OID_CHALLENGE)) {
			dr_get(&set, &v);
			dr_end(&set);
			if (set.err || !string_tag_ok(v.tag) || v.len > MAX_CHALLENGE
				|| !text_clean(v.v, v.len) || c->has_challenge) {
				set_why(why, "malformed challengePassword");
				return HOSTCA_ERR_DER;
			}
			memcpy(c->challenge, v.v, v.len);
			c->challenge[v.len] = 0;
			c->has_challenge = 1;
		} else if (oid_is(&oid, OID_EXT_REQ)) {
			dr_expect(&set, 0x30, &v);
			dr_end(&set);
			if (set.err) {
				set_why(why, "malformed extensionRequest");
				return HOSTCA_ERR_DER;
			}
			if ((err = csr_extensions(c, &v, why)) < 0)
				return err;
		}
	}
	if (r.err) {
		set_why(why, "malformed request attributes");
		return HOSTCA_ERR_DER;
	}
	/* The CN: a host ID, a host name, or neither (ignored). */
	if (c->has_cn && strchr(c->cn, '*') != NULL) {
		set_why(why, "wildcard names are not issued (common name '%s')", c->cn);
		return HOSTCA_ERR_NAME;
	}
	if (c->has_cn) {
		char tmp[HOSTCA_MAX_NAME_LEN + 1];
		hostname h;
		strcpy(tmp, c->cn);
		if (hostca_uuid_check(tmp)) {
			uuid_lower(tmp);
			if (c->hostid[0] && strcmp(c->hostid, tmp) != 0) {
				set_why(why, "the CN host ID and the urn:uuid: name differ");
				return HOSTCA_ERR_HOSTID;
			}
			strcpy(c->hostid, tmp);
		} else if (text_clean((unsigned char *)tmp, strlen(tmp))
			&& hostname_parse(&h, tmp) == 0) {
			size_t i;
			for (i = 0; i < c->nnames; i++)
				if (hostname_eq(&c->names[i], &h))
					break;
			if (i == c->nnames) {
				if (c->nnames >= HOSTCA_MAX_NAMES) {
					set_why(why, "more than %d names", HOSTCA_MAX_NAMES);
					return HOSTCA_ERR_LIMIT;
				}
				memmove(c->names + 1, c->names, c->nnames * sizeof c->names[0]);
				c->names[0] = h;
				c->nnames++;
			}
		}
	}
	return 0;
}

#endif /* HOSTCA_NO_MAIN */

/* The request body we write (host side). */
typedef struct {
	const pubkey *pub;
	const char *hostid;
	const hostname *names;
	size_t nnames;
	const unsigned char *attr[3];
	size_t attr_len[3];
	size_t nattr;
} csr_params;

/* Attribute ::= SEQUENCE { type OID, values SET { value } } */
typedef struct {
	const unsigned char *oid;
	unsigned tag;
	const void *v;
	size_t len;
} attr_params;

static void
enc_attr(derw *w, const void *ctx)
{
	const attr_params *a = ctx;

	dw_open(w, 0x30);
	dw_oid(w, a->oid);
	dw_open(w, 0x31);
	dw_tlv(w, a->tag, a->v, a->len);
	dw_close(w);
	dw_close(w);
}

/* extensionRequest: SET { Extensions { subjectAltName } } */
static void
enc_attr_extreq(derw *w, const void *ctx)
{
	const csr_params *p = ctx;

	dw_open(w, 0x30);
	dw_oid(w, OID_EXT_REQ);
	dw_open(w, 0x31);
	dw_open(w, 0x30);
	dw_ext_open(w, OID_SAN, 0);
	dw_general_names(w, p->names, p->nnames, p->hostid);
	dw_ext_close(w);
	dw_close(w);
	dw_close(w);
	dw_close(w);
}

/*
 * CertificationRequestInfo as hostca writes it: subject CN=<host ID>,
 * attributes extensionRequest (SAN), randomNonce (RFC 2985: every request
 * differs, so a renewal is never mistaken for a replay of an earlier
 * request) and challengePassword (the token) when there is one. The
 * attributes are a SET OF: DER orders them by their encodings.
 */
static void
enc_csr_info(derw *w, const void *ctx)
{
	const csr_params *p = ctx;
	size_t i;

	dw_open(w, 0x30);
	dw_tlv(w, 0x02, "\0", 1);
	dw_name_cn(w, p->hostid);
	dw_spki(w, p->pub);
	dw_open(w, 0xa0);
	for (i = 0; i < p->nattr; i++)
		dw_put(w, p->attr[i], p->attr_len[i]);
	dw_close(w);
	dw_close(w);
}

/* DER SET OF order: compare encodings, the shorter padded with zeros. */
static int
der_set_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = memcmp(a, b, n);

	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl;
}

/* Builds a signed request; returns a fresh allocation. */
static unsigned char *
csr_build(const hostca_key *key, const char *hostid, const hostname *names,
	size_t nnames, const char *challenge, const unsigned char nonce[16],
	size_t *out_len)
{
	csr_params p;
	attr_params ap;
	pubkey pub;
	unsigned char *blob[3] = { NULL, NULL, NULL }, *out = NULL;
	size_t bl[3] = { 0, 0, 0 }, n = 0, i, k;

	key_pubkey(key, &pub);
	memset(&p, 0, sizeof p);
	p.pub = &pub;
	p.hostid = hostid;
	p.names = names;
	p.nnames = nnames;
	bl[n] = der_encode2(NULL, enc_attr_extreq, &p);
	if (bl[n] == 0 || (blob[n] = mem_alloc(bl[n])) == NULL)
		goto done;
	der_encode2(blob[n++], enc_attr_extreq, &p);
	ap.oid = OID_NONCE;
	ap.tag = 0x04;
	ap.v = nonce;
	ap.len = 16;
	bl[n] = der_encode2(NULL, enc_attr, &ap);
	if (bl[n] == 0 || (blob[n] = mem_alloc(bl[n])) == NULL)
		goto done;
	der_encode2(blob[n++], enc_attr, &ap);
	if (challenge != NULL) {
		ap.oid = OID_CHALLENGE;
		ap.tag = 0x0c;
		ap.v = challenge;
		ap.len = strlen(challenge);
		bl[n] = der_encode2(NULL, enc_attr, &ap);
		if (bl[n] == 0 || (blob[n] = mem_alloc(bl[n])) == NULL)
			goto done;
		der_encode2(blob[n++], enc_attr, &ap);
	}
	/* sort the (at most three) attributes */
	for (i = 0; i < n; i++) {
		for (k = i + 1; k < n; k++) {
			if (der_set_cmp(blob[k], bl[k], blob[i], bl[i]) < 0) {
				unsigned char *tb = blob[i];
				size_t tl = bl[i];
				blob[i] = blob[k], bl[i] = bl[k];
				blob[k] = tb, bl[k] = tl;
			}
		}
	}
	for (i = 0; i < n; i++) {
		p.attr[i] = blob[i];
		p.attr_len[i] = bl[i];
	}
	p.nattr = n;
	out = sign_object(enc_csr_info, &p, key, out_len);
done:
	for (i = 0; i < 3; i++) {
		if (blob[i] != NULL) {
			hostca_wipe(blob[i], bl[i]);   /* may hold the token */
			mem_free(blob[i]);
		}
	}
	return out;
}

HOSTCA_API size_t
hostca_csr_encode(void *dest, const hostca_key *key, const char *hostid,
	const char *const *names, size_t nnames, const char *challenge,
	const unsigned char nonce[16])
{
	hostname hn[HOSTCA_MAX_NAMES];
	unsigned char *der;
	size_t i, n = 0;

	if (key == NULL || hostid == NULL || !hostca_uuid_check(hostid)
		|| nnames > HOSTCA_MAX_NAMES)
		return 0;
	for (i = 0; i < nnames; i++)
		if (hostname_parse(&hn[i], names[i]) < 0)
			return 0;
	if (challenge != NULL && (strlen(challenge) > MAX_CHALLENGE
		|| !text_clean((const unsigned char *)challenge, strlen(challenge))))
		return 0;
	if (nonce == NULL)
		return 0;
	der = csr_build(key, hostid, hn, nnames, challenge, nonce, &n);
	if (der == NULL)
		return 0;
	if (dest != NULL)
		memcpy(dest, der, n);
	mem_free(der);
	return n;
}

/* ---- Token proofs ----
 *
 * A token never travels on the media. The host proves that it knows it
 * with a MAC over the request's CertificationRequestInfo (which holds its
 * public key, host ID, names and random nonce), keyed by a key derived
 * from the token; the CA finds the token by a short identifier derived
 * from it. The proof rides in the request file as a second PEM block,
 * "HOSTCA TOKEN PROOF", after the CSR:
 *
 *   letters = the 16 letters, upper-case (spaces and dashes dropped)
 *   id      = HMAC-SHA256(key = letters, "hostca token id v2")[0..7]
 *   K       = HMAC-SHA256(key = letters, "hostca token key v2")
 *   mac     = HMAC-SHA256(key = K, "hostca token proof v2" ||
 *                         SHA-256(CertificationRequestInfo DER))
 *
 *   TokenProof ::= SEQUENCE { version INTEGER (2),
 *                             id OCTET STRING (SIZE (8)),
 *                             mac OCTET STRING (SIZE (32)) }
 *
 * Changing the key, host ID, names or nonce changes the info, and the MAC
 * no longer verifies: nothing on the media lets anyone use the token with
 * another request. An offline guess from a MAC is a search of 26^16
 * (75 bits).
 */

#define TOKEN_ID_LEN    8
#define TOKEN_PROOF_LEN 49

/* The token text as typed: letters, case-insensitive, spaces and dashes
 * ignored; exactly 16 letters. */
static int
token_normalize(const char *in, char out[TOKEN_LETTERS + 1])
{
	size_t n = 0;

	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;
		if (c == ' ' || c == '-' || c == '\t')
			continue;
		if (!isalpha(c) || c > 0x7f || n >= TOKEN_LETTERS)
			return -1;
		out[n++] = (char)toupper(c);
	}
	out[n] = 0;
	return n == TOKEN_LETTERS ? 0 : -1;
}

static void
hmac_sha256(const void *key, size_t kl, const void *a, size_t al,
	const void *b, size_t bl, unsigned char out[32])
{
	br_hmac_key_context kc;
	br_hmac_context hc;

	br_hmac_key_init(&kc, &br_sha256_vtable, key, kl);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, a, al);
	if (b != NULL)
		br_hmac_update(&hc, b, bl);
	br_hmac_out(&hc, out);
	hostca_wipe(&kc, sizeof kc);
	hostca_wipe(&hc, sizeof hc);
}

/* id and K from the letters (normalized). */
static void
token_derive(const char letters[TOKEN_LETTERS], unsigned char id[TOKEN_ID_LEN],
	unsigned char k[32])
{
	unsigned char t[32];

	hmac_sha256(letters, TOKEN_LETTERS, "hostca token id v2", 18, NULL, 0, t);
	memcpy(id, t, TOKEN_ID_LEN);
	hmac_sha256(letters, TOKEN_LETTERS, "hostca token key v2", 19, NULL, 0, k);
	hostca_wipe(t, sizeof t);
}

static void
token_proof_mac(const unsigned char k[32], const unsigned char info_hash[32],
	unsigned char out[32])
{
	hmac_sha256(k, 32, "hostca token proof v2", 21, info_hash, 32, out);
}

/* SHA-256 of a CSR's CertificationRequestInfo; -1 if no CSR shape. This
 * is also a request's identity at the CA (I9: a request is its signed
 * content, so a copy with a re-encoded signature is the same request). */
static int
csr_info_hash(const unsigned char *der, size_t len, unsigned char out[32])
{
	derr r, in;
	derel outer, info;

	dr_init(&r, der, len);
	dr_expect(&r, 0x30, &outer);
	if (r.err)
		return -1;
	dr_init(&in, outer.v, outer.len);
	dr_expect(&in, 0x30, &info);
	if (in.err)
		return -1;
	sha256_once(out, info.raw, info.raw_len);
	return 0;
}

static const unsigned char token_proof_head[5] = { 0x30, 0x2f, 0x02, 0x01, 0x02 };

HOSTCA_API size_t
hostca_token_proof_encode(void *dest, const char *token, const void *csr,
	size_t csr_len)
{
	char letters[TOKEN_LETTERS + 1];
	unsigned char id[TOKEN_ID_LEN], k[32], h[32], mac[32], *o = dest;

	if (token == NULL || csr == NULL || token_normalize(token, letters) < 0
		|| csr_info_hash(csr, csr_len, h) < 0) {
		hostca_wipe(letters, sizeof letters);
		return 0;
	}
	if (dest == NULL) {
		hostca_wipe(letters, sizeof letters);
		return TOKEN_PROOF_LEN;
	}
	token_derive(letters, id, k);
	token_proof_mac(k, h, mac);
	memcpy(o, token_proof_head, 5);
	o[5] = 0x04;
	o[6] = TOKEN_ID_LEN;
	memcpy(o + 7, id, TOKEN_ID_LEN);
	o[15] = 0x04;
	o[16] = 32;
	memcpy(o + 17, mac, 32);
	hostca_wipe(letters, sizeof letters);
	hostca_wipe(k, sizeof k);
	return TOKEN_PROOF_LEN;
}

#ifndef HOSTCA_NO_MAIN /* the CA only: reading proofs */
/* A TokenProof, strict DER: 0, or -1. */
static int
token_proof_decode(const unsigned char *der, size_t len, unsigned char id[TOKEN_ID_LEN],
	unsigned char mac[32])
{
	if (len != TOKEN_PROOF_LEN || memcmp(der, token_proof_head, 5) != 0
		|| der[5] != 0x04 || der[6] != TOKEN_ID_LEN || der[15] != 0x04 || der[16] != 32)
		return -1;
	memcpy(id, der + 7, TOKEN_ID_LEN);
	memcpy(mac, der + 17, 32);
	return 0;
}
#endif /* HOSTCA_NO_MAIN */

/* ---- Certificates ---- */

/* What a certificate says, as far as hostca cares. Points into the DER. */
typedef struct {
	const unsigned char *der;
	size_t der_len;
	const unsigned char *tbs;
	size_t tbs_len;
	const unsigned char *serial;
	size_t serial_len;
	int sig_alg;
	const unsigned char *issuer, *subject, *spki;
	size_t issuer_len, subject_len, spki_len;
	int64_t nb, na;
	pubkey pub;
	const unsigned char *sig;
	size_t sig_len;
	int is_ca, has_bc, pathlen, has_ku, eku_server, eku_client;
	unsigned ku;
	unsigned char ski[64], aki[64];
	size_t ski_len, aki_len;
	char cn[HOSTCA_MAX_NAME_LEN + 1];
	int has_cn;
	char subject_text[256], issuer_text[256];
	char hostid[HOSTCA_UUID_LEN + 1];
	hostname names[HOSTCA_MAX_NAMES];
	size_t nnames;
} x509_info;

/* Certificate parameters for the encoder. */
typedef struct {
	const unsigned char *serial;
	size_t serial_len;
	int sig_alg;
	const unsigned char *issuer;      /* issuer Name DER; NULL: self-issued */
	size_t issuer_len;
	int64_t nb, na;
	const char *cn;
	const pubkey *pub;
	int is_ca;
	unsigned char ski[20];
	const unsigned char *aki;         /* 20 bytes */
	const char *hostid;
	const hostname *names;
	size_t nnames;
} tbs_params;

#ifndef HOSTCA_NO_MAIN /* the CA only: writing certificates */

/*
 * TBSCertificate ::= SEQUENCE {
 *     version [0] EXPLICIT INTEGER (2),        -- v3
 *     serialNumber INTEGER,                    -- >= 64 random bits
 *     signature AlgorithmIdentifier,
 *     issuer Name, validity SEQUENCE { notBefore, notAfter },
 *     subject Name,                            -- CN=<host ID> or CN=<CA name>
 *     subjectPublicKeyInfo,
 *     extensions [3] EXPLICIT SEQUENCE {
 *         basicConstraints (critical)  CA:TRUE pathlen 0 | CA:FALSE
 *         keyUsage (critical)          keyCertSign+cRLSign |
 *                                      digitalSignature (+keyEncipherment, RSA)
 *         extKeyUsage                  serverAuth, clientAuth (hosts)
 *         subjectAltName               DNS/IP names, URI urn:uuid: (hosts)
 *         subjectKeyIdentifier, authorityKeyIdentifier [0] keyIdentifier } }
 */
static void
enc_tbs(derw *w, const void *ctx)
{
	const tbs_params *t = ctx;

	dw_open(w, 0x30);
	dw_open(w, 0xa0);
	dw_tlv(w, 0x02, "\2", 1);
	dw_close(w);
	dw_uint(w, t->serial, t->serial_len);
	dw_algid(w, t->sig_alg);
	if (t->issuer != NULL)
		dw_put(w, t->issuer, t->issuer_len);
	else
		dw_name_cn(w, t->cn);
	dw_open(w, 0x30);
	dw_time(w, t->nb);
	dw_time(w, t->na);
	dw_close(w);
	dw_name_cn(w, t->cn);
	dw_spki(w, t->pub);
	dw_open(w, 0xa3);
	dw_open(w, 0x30);

	dw_ext_open(w, OID_BC, 1);
	dw_open(w, 0x30);
	if (t->is_ca) {
		dw_bool_true(w);
		dw_tlv(w, 0x02, "\0", 1);
	}
	dw_close(w);
	dw_ext_close(w);

	dw_ext_open(w, OID_KU, 1);
	if (t->is_ca)
		dw_tlv(w, 0x03, "\x01\x06", 2);        /* keyCertSign, cRLSign */
	else if (t->pub->kind == PK_RSA)
		dw_tlv(w, 0x03, "\x05\xa0", 2);        /* digitalSignature, keyEncipherment */
	else
		dw_tlv(w, 0x03, "\x07\x80", 2);        /* digitalSignature */
	dw_ext_close(w);

	if (!t->is_ca) {
		dw_ext_open(w, OID_EKU, 0);
		dw_open(w, 0x30);
		dw_oid(w, OID_SERVER_AUTH);
		dw_oid(w, OID_CLIENT_AUTH);
		dw_close(w);
		dw_ext_close(w);

		dw_ext_open(w, OID_SAN, 0);
		dw_general_names(w, t->names, t->nnames, t->hostid);
		dw_ext_close(w);
	}

	dw_ext_open(w, OID_SKI, 0);
	dw_tlv(w, 0x04, t->ski, 20);
	dw_ext_close(w);

	dw_ext_open(w, OID_AKI, 0);
	dw_open(w, 0x30);
	dw_tlv(w, 0x80, t->aki, 20);
	dw_close(w);
	dw_ext_close(w);

	dw_close(w);
	dw_close(w);
	dw_close(w);
}

#endif /* HOSTCA_NO_MAIN */

/* Reads the extensions of a certificate. Unknown critical ones refuse. */
static int
cert_extensions(x509_info *c, const derel *exts, char *why)
{
	derr r, s;
	derel oid, val;
	int critical, err;
	unsigned seen = 0;

	dr_init(&r, exts->v, exts->len);
	dr_enter(&r, 0x30, &s);
	dr_end(&r);
	while (dr_more(&s)) {
		unsigned bit = 0;
		if (dr_extension(&s, &oid, &critical, &val) < 0) {
			set_why(why, "malformed certificate extension");
			return HOSTCA_ERR_DER;
		}
		if (oid_is(&oid, OID_BC)) {
			derr b, bs;
			derel e;
			bit = 1;
			dr_init(&b, val.v, val.len);
			dr_enter(&b, 0x30, &bs);
			dr_end(&b);
			c->has_bc = 1;
			c->pathlen = -1;
			if (dr_peek(&bs) == 0x01) {
				dr_get(&bs, &e);
				c->is_ca = 1;
				if (e.len != 1 || e.v[0] != 0xff)
					bs.err = HOSTCA_ERR_DER;
			}
			if (dr_peek(&bs) == 0x02) {
				uint32_t pl;
				dr_get(&bs, &e);
				if (der_small(&e, 0x02, &pl) < 0)
					bs.err = HOSTCA_ERR_DER;
				c->pathlen = (int)pl;
			}
			if (dr_end(&bs) < 0 || b.err) {
				set_why(why, "malformed basicConstraints");
				return HOSTCA_ERR_DER;
			}
		} else if (oid_is(&oid, OID_KU)) {
			derr b;
			derel e;
			bit = 2;
			dr_init(&b, val.v, val.len);
			dr_expect(&b, 0x03, &e);
			dr_end(&b);
			if (b.err || e.len < 2 || e.len > 3 || e.v[0] > 7) {
				set_why(why, "malformed keyUsage");
				return HOSTCA_ERR_DER;
			}
			c->ku = (unsigned)e.v[1] | (e.len > 2 ? (unsigned)e.v[2] << 8 : 0);
			c->has_ku = 1;
		} else if (oid_is(&oid, OID_SKI)) {
			derr b;
			derel e;
			bit = 4;
			dr_init(&b, val.v, val.len);
			dr_expect(&b, 0x04, &e);
			dr_end(&b);
			if (b.err || e.len == 0 || e.len > sizeof c->ski) {
				set_why(why, "malformed subjectKeyIdentifier");
				return HOSTCA_ERR_DER;
			}
			memcpy(c->ski, e.v, e.len);
			c->ski_len = e.len;
		} else if (oid_is(&oid, OID_AKI)) {
			derr b, bs;
			derel e;
			bit = 8;
			dr_init(&b, val.v, val.len);
			dr_enter(&b, 0x30, &bs);
			dr_end(&b);
			while (dr_more(&bs)) {
				dr_get(&bs, &e);
				if (e.tag == 0x80 && e.len > 0 && e.len <= sizeof c->aki) {
					memcpy(c->aki, e.v, e.len);
					c->aki_len = e.len;
				}
			}
			if (b.err || bs.err) {
				set_why(why, "malformed authorityKeyIdentifier");
				return HOSTCA_ERR_DER;
			}
		} else if (oid_is(&oid, OID_SAN)) {
			bit = 16;
			err = general_names_decode(val.v, val.len, c->names,
				&c->nnames, c->hostid, why);
			if (err < 0)
				return err;
		} else if (oid_is(&oid, OID_EKU)) {
			derr b, bs;
			derel e;
			bit = 32;
			dr_init(&b, val.v, val.len);
			dr_enter(&b, 0x30, &bs);
			dr_end(&b);
			while (dr_more(&bs)) {
				dr_expect(&bs, 0x06, &e);
				if (oid_is(&e, OID_SERVER_AUTH))
					c->eku_server = 1;
				if (oid_is(&e, OID_CLIENT_AUTH))
					c->eku_client = 1;
			}
			if (b.err || bs.err) {
				set_why(why, "malformed extKeyUsage");
				return HOSTCA_ERR_DER;
			}
		} else if (critical) {
			char t[64];
			oid_text(t, sizeof t, oid.v, oid.len);
			set_why(why, "unknown critical extension %s", t);
			return HOSTCA_ERR_DER;
		}
		if (bit & seen) {
			set_why(why, "an extension appears twice");
			return HOSTCA_ERR_DER;
		}
		seen |= bit;
	}
	if (s.err || r.err) {
		set_why(why, "malformed certificate extensions");
		return HOSTCA_ERR_DER;
	}
	return 0;
}

/*
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
 *                            signatureValue BIT STRING }
 * Reads a v3 certificate strictly. Does not check the signature.
 */
static int
cert_decode(x509_info *c, const unsigned char *der, size_t len, char *why)
{
	signed_obj o;
	derel body, ver, serial, alg, issuer, validity, subj, spki, e;
	derr r, v, vr;
	int err;

	memset(c, 0, sizeof *c);
	c->der = der;
	c->der_len = len;
	c->pathlen = -1;
	if (len > HOSTCA_MAX_DER) {
		set_why(why, "certificate larger than %d bytes", HOSTCA_MAX_DER);
		return HOSTCA_ERR_LIMIT;
	}
	if (der_check_tree(der, len, 0) < 0) {
		set_why(why, "malformed: not strict DER");
		return HOSTCA_ERR_DER;
	}
	if ((err = signed_decode(&o, &body, der, len, why)) < 0)
		return err;
	c->tbs = o.body;
	c->tbs_len = o.body_len;
	c->sig_alg = o.alg;
	c->sig = o.sig;
	c->sig_len = o.sig_len;
	dr_init(&r, body.v, body.len);
	if (dr_peek(&r) != 0xa0) {
		set_why(why, "not a v3 certificate");
		return HOSTCA_ERR_NOT_CERT;
	}
	dr_enter(&r, 0xa0, &v);
	dr_expect(&v, 0x02, &ver);
	dr_end(&v);
	dr_expect(&r, 0x02, &serial);
	dr_expect(&r, 0x30, &alg);
	dr_expect(&r, 0x30, &issuer);
	dr_expect(&r, 0x30, &validity);
	dr_expect(&r, 0x30, &subj);
	dr_expect(&r, 0x30, &spki);
	if (r.err || v.err || ver.len != 1 || ver.v[0] != 2) {
		set_why(why, "not a v3 certificate");
		return HOSTCA_ERR_NOT_CERT;
	}
	if (algid_decode(&alg, why) != o.alg) {
		set_why(why, "inner and outer signature algorithms differ");
		return HOSTCA_ERR_DER;
	}
	if (der_uint(&serial, &c->serial, &c->serial_len, 0) < 0 || c->serial_len > 20) {
		set_why(why, "serial number is not a positive integer of at most 20 bytes");
		return HOSTCA_ERR_DER;
	}
	c->issuer = issuer.raw;
	c->issuer_len = issuer.raw_len;
	c->subject = subj.raw;
	c->subject_len = subj.raw_len;
	c->spki = spki.raw;
	c->spki_len = spki.raw_len;
	dr_init(&vr, validity.v, validity.len);
	dr_get(&vr, &e);
	if (vr.err || der_time(&e, &c->nb) < 0) {
		set_why(why, "malformed notBefore");
		return HOSTCA_ERR_DER;
	}
	dr_get(&vr, &e);
	if (vr.err || der_time(&e, &c->na) < 0 || dr_end(&vr) < 0) {
		set_why(why, "malformed notAfter");
		return HOSTCA_ERR_DER;
	}
	if ((err = name_decode(subj.raw, subj.raw_len, c->cn, sizeof c->cn,
		&c->has_cn, c->subject_text, sizeof c->subject_text)) < 0
		|| (err = name_decode(issuer.raw, issuer.raw_len, NULL, 256,
		&(int){ 0 }, c->issuer_text, sizeof c->issuer_text)) < 0) {
		set_why(why, "malformed name");
		return err;
	}
	if ((err = spki_decode(&c->pub, spki.raw, spki.raw_len, why)) < 0)
		return err;
	/* issuerUniqueID/subjectUniqueID are not used by anyone: refuse. */
	if (dr_peek(&r) == 0xa3) {
		dr_get(&r, &e);
		if ((err = cert_extensions(c, &e, why)) < 0)
			return err;
	}
	if (dr_end(&r) < 0) {
		set_why(why, "unexpected fields in the certificate");
		return HOSTCA_ERR_DER;
	}
	if (c->has_cn && hostca_uuid_check(c->cn)) {
		char u[HOSTCA_UUID_LEN + 1];
		strcpy(u, c->cn);
		uuid_lower(u);
		if (c->hostid[0] == 0)
			strcpy(c->hostid, u);
	}
	return 0;
}

#ifndef HOSTCA_NO_MAIN /* the CA only */

/* Issues a certificate: encodes the TBS, signs with key. */
static unsigned char *
cert_build(const tbs_params *t, const hostca_key *key, size_t *out_len)
{
	return sign_object(enc_tbs, t, key, out_len);
}

#endif /* HOSTCA_NO_MAIN */

HOSTCA_API int
hostca_cert_info_decode(hostca_cert_info *info, const void *der, size_t len)
{
	x509_info *c;
	char why[WHY_CAP];
	size_t i;
	int err;

	memset(info, 0, sizeof *info);
	if ((c = mem_alloc(sizeof *c)) == NULL)
		return HOSTCA_ERR_NOMEM;
	err = cert_decode(c, der, len, why);
	if (err == 0) {
		memcpy(info->serial, c->serial, c->serial_len);
		info->serial_len = c->serial_len;
		info->not_before = c->nb;
		info->not_after = c->na;
		strcpy(info->hostid, c->hostid);
		info->nnames = c->nnames;
		for (i = 0; i < c->nnames; i++)
			strcpy(info->names[i], c->names[i].text);
		pubkey_fingerprint(&c->pub, info->key_fp);
		info->is_ca = c->is_ca;
	}
	mem_free(c);
	return err;
}

/* ---- CRLs ---- */

typedef struct {
	unsigned char serial[20];
	size_t serial_len;
	int64_t when;
	int reason;                  /* RFC 5280 code; 0 = unspecified (omitted) */
} crl_entry;

typedef struct {
	int sig_alg;
	const unsigned char *issuer;
	size_t issuer_len;
	int64_t this_update, next_update;
	const crl_entry *entries;
	size_t n;
	const unsigned char *aki;    /* 20 bytes */
	uint64_t number;
} crl_params;

#ifndef HOSTCA_NO_MAIN /* the CA only: writing CRLs */

static size_t
tlv_size(size_t content)
{
	return 1 + der_len_size(content) + content;
}

static size_t
time_size(int64_t t)
{
	return t >= UTCTIME_FIRST && t < UTCTIME_END ? 15 : 17;
}

/* Content length of one revokedCertificates entry. */
static size_t
crl_entry_content(const crl_entry *e)
{
	size_t n = tlv_size(e->serial_len + (e->serial[0] & 0x80 ? 1 : 0))
		+ time_size(e->when);

	if (e->reason != 0)
		n += tlv_size(tlv_size(5 + tlv_size(3)));  /* SEQ{SEQ{OID, OCTET{ENUM}}} */
	return n;
}

/*
 * One revokedCertificates entry (a short-form SEQUENCE: its content is
 * under 128 bytes):
 *   SEQUENCE { INTEGER serial, UTCTime|GeneralizedTime revocationDate,
 *              [ SEQUENCE { SEQUENCE { OID reasonCode (2.5.29.21),
 *                                      OCTET STRING { ENUMERATED r } } } ] }
 */
static size_t
crl_entry_write(unsigned char *o, const crl_entry *e, int64_t *last_when,
	unsigned char last_text[15])
{
	unsigned char *p = o;
	size_t sl = e->serial_len + (e->serial[0] & 0x80 ? 1 : 0);
	tm_utc u;
	int gen = e->when < UTCTIME_FIRST || e->when >= UTCTIME_END;

	*p++ = 0x30;
	*p++ = (unsigned char)crl_entry_content(e);
	*p++ = 0x02;
	*p++ = (unsigned char)sl;
	if (sl > e->serial_len)
		*p++ = 0;
	memcpy(p, e->serial, e->serial_len);
	p += e->serial_len;
	*p++ = gen ? 0x18 : 0x17;
	*p++ = gen ? 15 : 13;
	if (e->when != *last_when) {
		/* revocations often come in batches: format each second once */
		unsigned char *q = last_text;
		time_split(e->when, &u);
		if (gen)
			q = (unsigned char *)put2((char *)q, (unsigned)(u.year / 100));
		q = (unsigned char *)put2((char *)q, (unsigned)(u.year % 100));
		q = (unsigned char *)put2((char *)q, u.mon);
		q = (unsigned char *)put2((char *)q, u.day);
		q = (unsigned char *)put2((char *)q, u.hour);
		q = (unsigned char *)put2((char *)q, u.min);
		q = (unsigned char *)put2((char *)q, u.sec);
		*q = 'Z';
		*last_when = e->when;
	}
	memcpy(p, last_text, gen ? 15 : 13);
	p += gen ? 15 : 13;
	if (e->reason != 0) {
		static const unsigned char ext[] = { 0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03,
			0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01 };
		memcpy(p, ext, sizeof ext);
		p += sizeof ext;
		*p++ = (unsigned char)e->reason;
	}
	return (size_t)(p - o);
}

/*
 * TBSCertList ::= SEQUENCE {
 *     version INTEGER (1),                     -- v2
 *     signature AlgorithmIdentifier, issuer Name,
 *     thisUpdate Time, nextUpdate Time,
 *     revokedCertificates SEQUENCE OF SEQUENCE {
 *         userCertificate INTEGER, revocationDate Time,
 *         crlEntryExtensions SEQUENCE { reasonCode ENUMERATED } -- not for
 *     } OPTIONAL,                                 -- unspecified (RFC 5280)
 *     crlExtensions [0] EXPLICIT SEQUENCE {
 *         authorityKeyIdentifier, cRLNumber INTEGER } }
 *
 * Entries are written with lengths computed arithmetically, so that a
 * CRL of 100,000 entries needs no per-entry bookkeeping.
 */
static void
enc_crl_tbs(derw *w, const void *ctx)
{
	const crl_params *p = ctx;
	unsigned char num[8];
	size_t i, total = 0;
	int k;

	dw_open(w, 0x30);
	dw_tlv(w, 0x02, "\1", 1);
	dw_algid(w, p->sig_alg);
	dw_put(w, p->issuer, p->issuer_len);
	dw_time(w, p->this_update);
	dw_time(w, p->next_update);
	if (p->n > 0) {
		for (i = 0; i < p->n; i++)
			total += tlv_size(crl_entry_content(&p->entries[i]));
		dw_header(w, 0x30, total);
		if (w->buf == NULL) {
			w->len += total;        /* sizing: nothing to write */
		} else {
			/* Entries are written byte by byte: a CRL has 100,000. */
			int64_t last_when = INT64_MIN;
			unsigned char last_text[15];
			for (i = 0; i < p->n; i++)
				w->len += crl_entry_write(w->buf + w->len, &p->entries[i],
					&last_when, last_text);
		}
	}
	dw_open(w, 0xa0);
	dw_open(w, 0x30);
	dw_ext_open(w, OID_AKI, 0);
	dw_open(w, 0x30);
	dw_tlv(w, 0x80, p->aki, 20);
	dw_close(w);
	dw_ext_close(w);
	dw_ext_open(w, OID_CRL_NUMBER, 0);
	for (k = 0; k < 8; k++)
		num[k] = (unsigned char)(p->number >> (56 - 8 * k));
	dw_uint(w, num, 8);
	dw_ext_close(w);
	dw_close(w);
	dw_close(w);
	dw_close(w);
}

static unsigned char *
crl_build(const crl_params *p, const hostca_key *key, size_t *out_len)
{
	return sign_object(enc_crl_tbs, p, key, out_len);
}

#endif /* HOSTCA_NO_MAIN */

/* What a CRL says. Points into the DER. */
typedef struct {
	const unsigned char *tbs;
	size_t tbs_len;
	int sig_alg;
	const unsigned char *issuer;
	size_t issuer_len;
	int64_t this_update, next_update;
	const unsigned char *entries;     /* content of revokedCertificates */
	size_t entries_len;
	size_t count;
	unsigned char number[20];
	size_t number_len;
	unsigned char aki[64];
	size_t aki_len;
	const unsigned char *sig;
	size_t sig_len;
} crl_info;

/* Reads one entry; reason -1 when absent. */
static int
crl_entry_decode(derr *r, const unsigned char **serial, size_t *serial_len,
	int64_t *when, int *reason)
{
	derr e, exts, ov;
	derel s, t, oid, val, en;

	*reason = -1;
	dr_enter(r, 0x30, &e);
	dr_expect(&e, 0x02, &s);
	dr_get(&e, &t);
	if (e.err || der_uint(&s, serial, serial_len, 0) < 0 || der_time(&t, when) < 0)
		return -1;
	if (dr_more(&e)) {
		dr_enter(&e, 0x30, &exts);
		while (dr_more(&exts)) {
			int critical;
			if (dr_extension(&exts, &oid, &critical, &val) < 0)
				return -1;
			if (oid_is(&oid, OID_CRL_REASON)) {
				uint32_t x;
				dr_init(&ov, val.v, val.len);
				dr_get(&ov, &en);
				if (dr_end(&ov) < 0 || der_small(&en, 0x0a, &x) < 0 || x > 10)
					return -1;
				*reason = (int)x;
			}
		}
		if (exts.err)
			return -1;
	}
	return dr_end(&e);
}

static int
crl_decode(crl_info *c, const unsigned char *der, size_t len, char *why)
{
	signed_obj o;
	derel body, ver, alg, issuer, t1, t2, e;
	derr r;
	int err;

	memset(c, 0, sizeof *c);
	if ((err = signed_decode(&o, &body, der, len, why)) < 0)
		return err;
	c->tbs = o.body;
	c->tbs_len = o.body_len;
	c->sig_alg = o.alg;
	c->sig = o.sig;
	c->sig_len = o.sig_len;
	dr_init(&r, body.v, body.len);
	dr_expect(&r, 0x02, &ver);
	dr_expect(&r, 0x30, &alg);
	dr_expect(&r, 0x30, &issuer);
	dr_get(&r, &t1);
	if (r.err || ver.len != 1 || ver.v[0] != 1) {
		set_why(why, "not a v2 CRL");
		return HOSTCA_ERR_CRL;
	}
	if (algid_decode(&alg, why) != o.alg || der_time(&t1, &c->this_update) < 0) {
		set_why(why, "malformed CRL");
		return HOSTCA_ERR_DER;
	}
	c->issuer = issuer.raw;
	c->issuer_len = issuer.raw_len;
	if (dr_peek(&r) == 0x17 || dr_peek(&r) == 0x18) {
		dr_get(&r, &t2);
		if (der_time(&t2, &c->next_update) < 0) {
			set_why(why, "malformed CRL nextUpdate");
			return HOSTCA_ERR_DER;
		}
	} else {
		set_why(why, "CRL has no nextUpdate");
		return HOSTCA_ERR_CRL;
	}
	if (dr_peek(&r) == 0x30) {
		derr en;
		dr_enter(&r, 0x30, &en);
		c->entries = en.p;
		c->entries_len = en.len;
		while (dr_more(&en)) {
			const unsigned char *s;
			size_t sl;
			int64_t w;
			int rs;
			if (crl_entry_decode(&en, &s, &sl, &w, &rs) < 0) {
				set_why(why, "malformed CRL entry");
				return HOSTCA_ERR_DER;
			}
			c->count++;
		}
		if (en.err || c->count == 0) {
			set_why(why, "malformed CRL entries");
			return HOSTCA_ERR_DER;
		}
	}
	if (dr_peek(&r) == 0xa0) {
		derr x, xs;
		derel oid, val;
		dr_enter(&r, 0xa0, &x);
		dr_enter(&x, 0x30, &xs);
		dr_end(&x);
		while (dr_more(&xs)) {
			int critical;
			if (dr_extension(&xs, &oid, &critical, &val) < 0) {
				set_why(why, "malformed CRL extension");
				return HOSTCA_ERR_DER;
			}
			if (oid_is(&oid, OID_CRL_NUMBER)) {
				derr nv;
				const unsigned char *nb;
				size_t nl;
				dr_init(&nv, val.v, val.len);
				dr_get(&nv, &e);
				if (dr_end(&nv) < 0 || der_uint(&e, &nb, &nl, 1) < 0 || nl > 20) {
					set_why(why, "malformed CRL number");
					return HOSTCA_ERR_DER;
				}
				memcpy(c->number, nb, nl);
				c->number_len = nl;
			} else if (oid_is(&oid, OID_AKI)) {
				derr b, bs;
				dr_init(&b, val.v, val.len);
				dr_enter(&b, 0x30, &bs);
				while (dr_more(&bs)) {
					dr_get(&bs, &e);
					if (e.tag == 0x80 && e.len > 0 && e.len <= sizeof c->aki) {
						memcpy(c->aki, e.v, e.len);
						c->aki_len = e.len;
					}
				}
			} else if (critical) {
				set_why(why, "CRL has an unknown critical extension");
				return HOSTCA_ERR_CRL;
			}
		}
		if (xs.err || x.err) {
			set_why(why, "malformed CRL extensions");
			return HOSTCA_ERR_DER;
		}
	}
	if (dr_end(&r) < 0) {
		set_why(why, "malformed CRL");
		return HOSTCA_ERR_DER;
	}
	if (c->number_len == 0) {
		set_why(why, "CRL has no CRL number");
		return HOSTCA_ERR_CRL;
	}
	return 0;
}

/* Looks a serial up in a decoded CRL; 1 when listed. */
static int
crl_find(const crl_info *c, const unsigned char *serial, size_t serial_len,
	int *reason, int64_t *when)
{
	derr r;

	dr_init(&r, c->entries, c->entries_len);
	while (dr_more(&r)) {
		const unsigned char *s;
		size_t sl;
		if (crl_entry_decode(&r, &s, &sl, when, reason) < 0)
			return 0;
		if (sl == serial_len && memcmp(s, serial, sl) == 0)
			return 1;
	}
	return 0;
}

#ifndef HOSTCA_NO_MAIN /* the CLI only */

/* Compares two big-endian unsigned numbers. */
static int
bignum_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
	while (al > 0 && *a == 0)
		a++, al--;
	while (bl > 0 && *b == 0)
		b++, bl--;
	if (al != bl)
		return al < bl ? -1 : 1;
	return memcmp(a, b, al);
}

#endif /* HOSTCA_NO_MAIN */

/* ======================================================================
 * 5. Verification (host side and `verify`)
 * ====================================================================== */

/* 1 when CA certificate a issued c (its name and its signature). */
static int
cert_signed_by(const x509_info *c, const x509_info *a)
{
	return c->issuer_len == a->subject_len
		&& memcmp(c->issuer, a->subject, c->issuer_len) == 0
		&& sig_verify(&a->pub, c->sig_alg, c->tbs, c->tbs_len, c->sig, c->sig_len) == 0;
}

/*
 * Chain check with BearSSL's X.509 engine: the certificate must be signed
 * by the CA (one trust anchor, the pinned CA certificate) and be within
 * its validity at `now`. BearSSL also refuses unknown critical extensions.
 */
static int
chain_check(const x509_info *cert, const x509_info *ca, int64_t now, char *why)
{
	br_x509_minimal_context *xc;
	br_x509_trust_anchor ta;
	unsigned err;
	int64_t days;

	if (!ca->is_ca) {
		set_why(why, "the trusted certificate is not a CA certificate");
		return HOSTCA_ERR_UNTRUSTED;
	}
	memset(&ta, 0, sizeof ta);
	ta.dn.data = (unsigned char *)ca->subject;
	ta.dn.len = ca->subject_len;
	ta.flags = BR_X509_TA_CA;
	if (ca->pub.kind == PK_EC) {
		ta.pkey.key_type = BR_KEYTYPE_EC;
		ta.pkey.key.ec.curve = ca->pub.curve;
		ta.pkey.key.ec.q = (unsigned char *)ca->pub.q;
		ta.pkey.key.ec.qlen = ca->pub.qlen;
	} else {
		ta.pkey.key_type = BR_KEYTYPE_RSA;
		ta.pkey.key.rsa.n = (unsigned char *)ca->pub.n;
		ta.pkey.key.rsa.nlen = ca->pub.nlen;
		ta.pkey.key.rsa.e = (unsigned char *)ca->pub.e;
		ta.pkey.key.rsa.elen = ca->pub.elen;
	}
	if ((xc = mem_alloc(sizeof *xc)) == NULL)
		return HOSTCA_ERR_NOMEM;
	br_x509_minimal_init_full(xc, &ta, 1);
	br_x509_minimal_set_ecdsa(xc, br_ec_get_default(), ecdsa_vrfy_asn1);
	days = now >= 0 ? now / 86400 : (now - 86399) / 86400;
	br_x509_minimal_set_time(xc, (uint32_t)(days + 719528),
		(uint32_t)(now - days * 86400));
	xc->vtable->start_chain(&xc->vtable, NULL);
	xc->vtable->start_cert(&xc->vtable, (uint32_t)cert->der_len);
	xc->vtable->append(&xc->vtable, cert->der, cert->der_len);
	xc->vtable->end_cert(&xc->vtable);
	err = xc->vtable->end_chain(&xc->vtable);
	mem_free(xc);
	if (err == 0)
		return 0;
	if (err == BR_ERR_X509_EXPIRED) {
		char t[32];
		if (now < cert->nb) {
			set_why(why, "not valid before %s", time_iso(t, cert->nb));
			return HOSTCA_ERR_NOT_YET_VALID;
		}
		set_why(why, "expired on %s", time_iso(t, cert->na));
		return HOSTCA_ERR_EXPIRED;
	}
	if (err == BR_ERR_X509_NOT_TRUSTED || err == BR_ERR_X509_BAD_SIGNATURE) {
		set_why(why, "not issued by the trusted CA");
		return HOSTCA_ERR_UNTRUSTED;
	}
	set_why(why, "rejected by the X.509 engine (BearSSL error %u)", err);
	return HOSTCA_ERR_UNTRUSTED;
}

/* The CRL must be signed by the CA and name it as issuer. */
static int
crl_verify_sig(const crl_info *crl, const x509_info *ca, char *why)
{
	if (crl->issuer_len != ca->subject_len
		|| memcmp(crl->issuer, ca->subject, ca->subject_len) != 0
		|| sig_verify(&ca->pub, crl->sig_alg, crl->tbs, crl->tbs_len,
			crl->sig, crl->sig_len) < 0) {
		set_why(why, "the CRL is not signed by this CA");
		return HOSTCA_ERR_CRL;
	}
	return 0;
}

static int
cert_decode_alloc(x509_info **out, const void *der, size_t len, char *why)
{
	int err;

	if ((*out = mem_alloc(sizeof **out)) == NULL)
		return HOSTCA_ERR_NOMEM;
	if ((err = cert_decode(*out, der, len, why)) < 0) {
		mem_free(*out);
		*out = NULL;
	}
	return err;
}

/* Full check: chain, time, and (with a CRL) revocation. */
static int
cert_verify_full(const void *cert, size_t cert_len, const void *ca, size_t ca_len,
	const void *crl, size_t crl_len, int64_t now, int *reason, char *why)
{
	x509_info *c = NULL, *a = NULL;
	crl_info cl;
	int err, rs = -1;
	int64_t when;

	if (reason)
		*reason = -1;
	if ((err = cert_decode_alloc(&a, ca, ca_len, why)) < 0)
		goto done;
	if ((err = cert_decode_alloc(&c, cert, cert_len, why)) < 0)
		goto done;
	if ((err = chain_check(c, a, now, why)) < 0)
		goto done;
	if (now > a->na) {
		char t[32];
		set_why(why, "the CA certificate expired on %s", time_iso(t, a->na));
		err = HOSTCA_ERR_EXPIRED;
		goto done;
	}
	if (crl != NULL) {
		if ((err = crl_decode(&cl, crl, crl_len, why)) < 0
			|| (err = crl_verify_sig(&cl, a, why)) < 0)
			goto done;
		/* I11: nobody accepts an expired CRL (nor OpenSSL's -crl_check) */
		if (cl.next_update < now) {
			char t[32];
			set_why(why, "the CRL expired on %s (its nextUpdate): get a fresh one",
				time_iso(t, cl.next_update));
			err = HOSTCA_ERR_EXPIRED;
			goto done;
		}
		if (cl.this_update > now) {
			char t[32];
			set_why(why, "the CRL is not valid before %s (its thisUpdate)",
				time_iso(t, cl.this_update));
			err = HOSTCA_ERR_CRL;
			goto done;
		}
		if (crl_find(&cl, c->serial, c->serial_len, &rs, &when)) {
			char t[32];
			if (reason)
				*reason = rs;
			set_why(why, "revoked on %s", time_iso(t, when));
			err = HOSTCA_ERR_REVOKED;
		}
	}
done:
	mem_free(c);
	mem_free(a);
	return err;
}

HOSTCA_API int
hostca_cert_verify(const void *cert, size_t cert_len, const void *ca,
	size_t ca_len, const void *crl, size_t crl_len, int64_t now, int *reason)
{
	char why[WHY_CAP];

	return cert_verify_full(cert, cert_len, ca, ca_len, crl, crl_len, now,
		reason, why);
}

HOSTCA_API int
hostca_crl_check(const void *crl, size_t crl_len, const void *ca, size_t ca_len,
	unsigned char number[20], size_t *number_len, int64_t *this_update,
	int64_t *next_update)
{
	x509_info *a;
	crl_info cl;
	char why[WHY_CAP];
	int err;

	if ((err = cert_decode_alloc(&a, ca, ca_len, why)) < 0)
		return err;
	err = crl_decode(&cl, crl, crl_len, why);
	if (err == 0)
		err = crl_verify_sig(&cl, a, why);
	if (err == 0) {
		memcpy(number, cl.number, cl.number_len);
		*number_len = cl.number_len;
		*this_update = cl.this_update;
		*next_update = cl.next_update;
	}
	mem_free(a);
	return err;
}

/* A response is for us: signed by the pinned CA, for our key, valid. */
static int
response_check(const x509_info *c, const x509_info *ca, const hostca_key *key,
	char hostid[37], int allow_adopt, int64_t now, char *why)
{
	unsigned char fp1[32], fp2[32];
	int err;

	if ((err = chain_check(c, ca, now, why)) < 0)
		return err;
	if (hostca_key_fingerprint(key, fp1) < 0 || pubkey_fingerprint(&c->pub, fp2) < 0
		|| !ct_equal(fp1, fp2, 32)) {
		set_why(why, "the certificate is for another key");
		return HOSTCA_ERR_KEY_MISMATCH;
	}
	if (c->hostid[0] == 0) {
		set_why(why, "the certificate carries no host ID");
		return HOSTCA_ERR_HOSTID;
	}
	if (hostid[0] != 0 && strcmp(hostid, c->hostid) != 0 && !allow_adopt) {
		set_why(why, "the certificate is for host %s, this host is %s",
			c->hostid, hostid);
		return HOSTCA_ERR_HOSTID;
	}
	strcpy(hostid, c->hostid);
	return 0;
}

HOSTCA_API int
hostca_response_check(const void *cert, size_t cert_len, const void *ca,
	size_t ca_len, const hostca_key *key, char hostid[HOSTCA_UUID_LEN + 1],
	int allow_adopt, int64_t now, int64_t time_floor)
{
	x509_info *c = NULL, *a = NULL;
	char why[WHY_CAP];
	int err;

	if ((err = cert_decode_alloc(&a, ca, ca_len, why)) == 0
		&& (err = cert_decode_alloc(&c, cert, cert_len, why)) == 0)
		err = response_check(c, a, key, hostid, allow_adopt,
			now > time_floor ? now : time_floor, why);
	mem_free(c);
	mem_free(a);
	return err;
}

/* ======================================================================
 * 6. Files: atomic writes, safe reads, directories
 * ====================================================================== */

#ifndef HOSTCA_NO_MAIN /* files: the CLI only; the library does no I/O */

#ifdef HOSTCA_TEST_HOOKS
/* Fault points for crash tests: HOSTCA_FAULT=name:n kills the process
 * (SIGKILL, no clean-up) at the n-th passage through the named point. */
static void
fault_point(const char *name)
{
	static int count;
	const char *f = getenv("HOSTCA_FAULT");
	size_t n = strlen(name);

	if (f == NULL || strncmp(f, name, n) != 0 || f[n] != ':')
		return;
	if (++count == strtol(f + n + 1, NULL, 10))
		kill(getpid(), SIGKILL);
}
#else
#define fault_point(name) ((void)0)
#endif

static int
write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t k = write(fd, p, len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

/* Directory part of a path ("." when none), into buf. */
static const char *
path_dir(char *buf, size_t cap, const char *path)
{
	const char *s = strrchr(path, '/');

	if (s == NULL)
		snprintf(buf, cap, ".");
	else if (s == path)
		snprintf(buf, cap, "/");
	else
		snprintf(buf, cap, "%.*s", (int)(s - path), path);
	return buf;
}

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	if (r < 0 && (errno == EINVAL || errno == EROFS))
		r = 0;   /* file systems that cannot sync directories */
	close(fd);
	return r;
}

static int
fsync_parent(const char *path)
{
	char d[PATH_MAX];

	return fsync_dir(path_dir(d, sizeof d, path));
}

/*
 * Writes a temporary file next to path with the data, fsynced and closed.
 * tmp receives its name.
 */
#define SYNC_FULL  2     /* file and directory: the change is durable */
#define SYNC_DATA  1     /* file only: never a partial file under the name */
#define SYNC_NONE  0     /* rename only: derived data that recovery rewrites */

static int
tmp_write(char *tmp, size_t tcap, const char *path, const void *data,
	size_t len, mode_t mode, int sync)
{
	int fd, e;

	/* ".<name>.tmp-" and six random characters: readers of media skip names that start
	 * with a dot, so a half-written file never looks like a request. */
	const char *base = strrchr(path, '/');
	size_t dl = base ? (size_t)(base - path) + 1 : 0;

	base = base ? base + 1 : path;
	if ((size_t)snprintf(tmp, tcap, "%.*s.%s.tmp-" MKSTEMP_X, (int)dl, path, base) >= tcap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkstemp(tmp)) < 0)
		return -1;
	if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0
		|| (sync != SYNC_NONE && fsync(fd) < 0)) {
		e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	if (close(fd) < 0) {
		e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}

/*
 * The one way state changes reach a disk: temporary file in the same
 * directory, full write, fsync, checked close, rename over the target,
 * fsync of the directory. A crash leaves the old file or the new one.
 */
static int
atomic_write_sync(const char *path, const void *data, size_t len, mode_t mode,
	int sync)
{
	char tmp[PATH_MAX];
	int e;

	if (tmp_write(tmp, sizeof tmp, path, data, len, mode, sync) < 0)
		return -1;
	fault_point("atomic-rename");
	if (rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return sync == SYNC_FULL ? fsync_parent(path) : 0;
}

static int
atomic_write(const char *path, const void *data, size_t len, mode_t mode)
{
	return atomic_write_sync(path, data, len, mode, SYNC_FULL);
}

/*
 * Like atomic_write, but refuses to replace an existing file: the
 * temporary file is hard-linked to the target name, which fails with
 * EEXIST if anything is there. Keys are written this way.
 */
static int
exclusive_write(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	int e, r;

	if (tmp_write(tmp, sizeof tmp, path, data, len, mode, SYNC_DATA) < 0)
		return -1;
	fault_point("key-link");
	r = link(tmp, path);
	e = errno;
	unlink(tmp);
	if (r < 0) {
		errno = e;
		return -1;
	}
	return fsync_parent(path);
}

/*
 * Reads a whole regular file of at most max bytes. Symbolic links are not
 * followed (O_NOFOLLOW), FIFOs and devices are refused without blocking.
 * dirfd may be AT_FDCWD. Returns 0, or -1 with errno set (EFBIG when too
 * large, EFTYPE-like EINVAL for non-regular files).
 */
static int
file_read_at(int dirfd, const char *name, size_t max, unsigned char **out,
	size_t *out_len)
{
	struct stat st;
	unsigned char *buf;
	size_t got = 0;
	int fd, e;

	*out = NULL;
	*out_len = 0;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return -1;
	}
	if ((uintmax_t)st.st_size > max) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	buf[got] = 0;
	*out = buf;
	*out_len = got;
	return 0;
}

static int
file_read(const char *path, size_t max, unsigned char **out, size_t *out_len)
{
	return file_read_at(AT_FDCWD, path, max, out, out_len);
}

static const char *
read_errstr(int e)
{
	switch (e) {
	case EFBIG: return "file too large";
	case EINVAL: return "not a regular file";
	case ELOOP: return "is a symbolic link (not followed)";
	case EISDIR: return "is a directory";
	}
	return strerror(e);
}

static int
path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* mkdir that accepts an existing directory (not a link to one). */
static int
mkdir_ok(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return fsync_parent(path);
	if (errno == EEXIST && lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (errno == EEXIST)
		errno = ENOTDIR;
	return -1;
}

/* Joins dir and a fixed name of ours (never a name taken from media). */
static const char *
path_join(char *buf, size_t cap, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap)
		snprintf(buf, cap, "%s", "/nonexistent/path-too-long");
	return buf;
}

#endif /* HOSTCA_NO_MAIN */

/* ======================================================================
 * 7. The CA: messages, journal, state, policy, signing, revocation
 * ====================================================================== */

#ifndef HOSTCA_NO_MAIN

/* ---- Messages and global options ---- */

static struct {
	const char *ca_dir, *host_dir, *passphrase_file;
	int json, quiet;
	int64_t now;
	const char *cmd;              /* "ca sign", for messages and the lock */
} g;

static int msg_mute;     /* a probe whose failure is no news */
static int grow(void **p, size_t *cap, size_t need, size_t size);

/* With --json, every message is kept for the document's "messages", and
 * the last error for its "error" (see json_end). */
static struct {
	char **v;
	size_t n, cap;
	unsigned char *e;            /* v[i] is an error */
	size_t ecap;
	char err[1300];
} jm;

static void
vmsg2(int error, const char *what, const char *fmt, va_list ap)
{
	char text[1024];
	int n;

	if (msg_mute)
		return;
	n = vsnprintf(text, sizeof text, fmt, ap);
	if (n < 0)
		text[0] = 0;
	if (strcmp(what, "hostca") == 0)
		what = "";
	fprintf(stderr, "hostca: %s%s%s\n", what, *what ? ": " : "", text);
	if (!g.json)
		return;
	if (error && strcmp(what, "warning") != 0)
		snprintf(jm.err, sizeof jm.err, "%.255s%s%.1023s", what, *what ? ": " : "", text);
	if (grow((void **)&jm.v, &jm.cap, jm.n + 1, sizeof *jm.v) == 0
		&& grow((void **)&jm.e, &jm.ecap, jm.n + 1, 1) == 0) {
		size_t l = strlen(what) + strlen(text) + 3;
		jm.e[jm.n] = (unsigned char)(error && strcmp(what, "warning") != 0);
		if ((jm.v[jm.n] = malloc(l)) != NULL)
			snprintf(jm.v[jm.n++], l, "%s%s%s", what, *what ? ": " : "", text);
	}
}

static void
vmsg(const char *what, const char *fmt, va_list ap)
{
	vmsg2(0, what, fmt, ap);
}

/* hostca: <what>: <why> on stderr. */
static void
msg(const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg2(1, what, fmt, ap);
	va_end(ap);
}

/* The same about the command as a whole: "hostca: ca sign: ..." */
static void
cmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg2(1, g.cmd, fmt, ap);
	va_end(ap);
}

/* strcat() */
static void
str_append(char *s, const char *t)
{
	strcpy(s + strlen(s), t);
}

/* msg(what, "DOING: <what errno says>"), for a failed system call. */
static void
msg_errno(const char *what, const char *doing)
{
	msg(what, "%s: %s", doing, strerror(errno));
}

/* Informational: silenced by -q. */
static void
note(const char *what, const char *fmt, ...)
{
	va_list ap;

	if (g.quiet)
		return;
	va_start(ap, fmt);
	vmsg(what, fmt, ap);
	va_end(ap);
}

/* The same about the command as a whole. */
static void
cnote(const char *fmt, ...)
{
	va_list ap;

	if (g.quiet)
		return;
	va_start(ap, fmt);
	vmsg(g.cmd, fmt, ap);
	va_end(ap);
}

#define EXIT_REFUSED 1
#define EXIT_USAGE   2

static int64_t
now_time(void)
{
#ifdef HOSTCA_TEST_HOOKS
	const char *s = getenv("HOSTCA_NOW");
	if (s != NULL && *s)
		return strtoll(s, NULL, 10);
#endif
	return (int64_t)time(NULL);
}

static int
rng_open(rng_state *r)
{
#ifdef HOSTCA_TEST_HOOKS
	const char *s = getenv("HOSTCA_TEST_SEED");
	if (s != NULL && *s)
		return rng_init_seed(r, s, strlen(s));
#endif
	return rng_init_system(r);
}

/* A name from untrusted input, made safe to print. */
static const char *
safe_text(char *buf, size_t cap, const char *s)
{
	size_t o = 0;

	for (; *s && o + 5 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x7f) {
			buf[o++] = (char)c;
		} else {
			snprintf(buf + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	buf[o] = 0;
	return buf;
}

static void json_str(const char *s);

/*
 * --json: one document per run, whatever happens (schema/hostca.schema.json):
 *   {"schema_version":1,"command":"ca sign", PAYLOAD..., "ok":true,"exit":0,
 *    "messages":[...]}            (and "error":{"message":...} when not ok)
 * The head is printed when the first payload key is (json_key), or at the
 * end; main() prints the end with the exit status.
 */
#define JSON_SCHEMA_VERSION 1
static int json_open;

static void
json_head(void)
{
	if (json_open)
		return;
	json_open = 1;
	printf("{\"schema_version\":%d,\"command\":", JSON_SCHEMA_VERSION);
	json_str(g.cmd);
}

/* ,"key": -- the value follows. */
static void
json_key(const char *key)
{
	json_head();
	printf(",\"%s\":", key);
}

/* The error messages so far, as a JSON array (ca check's "problems"). */
static void
json_errors(void)
{
	size_t i, n = 0;

	putchar('[');
	for (i = 0; i < jm.n; i++)
		if (jm.e[i]) {
			if (n++)
				putchar(',');
			json_str(jm.v[i]);
		}
	putchar(']');
}

static int
json_end(int rc)
{
	size_t i;

	if (!g.json)
		return rc;
	json_head();
	printf(",\"ok\":%s,\"exit\":%d", rc == 0 ? "true" : "false", rc);
	if (rc != 0) {
		printf(",\"error\":{\"message\":");
		json_str(jm.err[0] ? jm.err : rc == EXIT_REFUSED ? "refused" : "failed");
		putchar('}');
	}
	printf(",\"messages\":[");
	for (i = 0; i < jm.n; i++) {
		if (i > 0)
			putchar(',');
		json_str(jm.v[i]);
		free(jm.v[i]);
	}
	printf("]}\n");
	free(jm.v);
	free(jm.e);
	jm.v = NULL;
	jm.e = NULL;
	jm.n = jm.cap = jm.ecap = 0;
	fflush(stdout);
	return rc;
}

/* JSON string (escaped) to stdout. */
static void
json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putchar('"');
	while (*p) {
		unsigned char c = *p;
		size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef
			? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0, i;
		/* well-formed UTF-8 only (RFC 3629: no overlongs, surrogates or
		 * code points past U+10FFFF); anything else is U+FFFD */
		for (i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				n = 0;
		if (n == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)))
			n = 0;
		if (n == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90)))
			n = 0;
		if (n == 0) {
			printf("\\ufffd");
			p++;
		} else if (c == '"' || c == '\\') {
			printf("\\%c", c);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			printf("\\u%04x", c);
			p++;
		} else {
			fwrite(p, 1, n, stdout);
			p += n;
		}
	}
	putchar('"');
}

/* ---- Text for journal values: percent-escaping ---- */

static int
esc_plain(int c)
{
	return isalnum(c) || (c && strchr("-._~:/@+,", c) != NULL);
}

/* Escapes s into out (cap >= 3*strlen+1). */
static char *
esc(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	for (; *s && o + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (esc_plain(c)) {
			out[o++] = (char)c;
		} else {
			snprintf(out + o, 4, "%%%02X", c);
			o += 3;
		}
	}
	out[o] = 0;
	return out;
}

/* Unescapes in place; -1 on a bad escape. */
static int
unesc(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%') {
			int a = hex_digit((unsigned char)s[1]), b;
			if (a < 0 || (b = hex_digit((unsigned char)s[2])) < 0)
				return -1;
			*o++ = (char)(a << 4 | b);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
	return 0;
}

/* ---- CA records ---- */

#define SEC_MEDIUM     1
#define SEC_HIGH       2
#define SEC_VERY_HIGH  3

static const char *const security_names[] = { "", "medium", "high", "very-high" };

#define TOK_AUTH     1
#define TOK_REISSUE  2

#define KIND_NEW      1
#define KIND_RENEWAL  2
#define KIND_REISSUE  3
static const char *const kind_names[] = { "", "new", "renewal", "reissue" };

typedef struct {
	unsigned char serial[20];
	size_t serial_len;
	char hostid[HOSTCA_UUID_LEN + 1];
	int64_t nb, na, issued, rev_at;
	int revoked, reason, kind;
	unsigned char keyfp[32], req[32];
	char *names;                 /* "a,b" (allocated) */
	int token;                   /* index or -1 */
	size_t host;                 /* index into hosts */
	size_t prev_of_host;         /* previous cert of the same host, or SIZE_MAX */
	const char *b64;             /* base64 DER inside the journal buffer */
	size_t b64_len;
	uint64_t b64_off;            /* or its offset in the journal file */
	unsigned char *der;          /* or the DER itself (certs of this run) */
	size_t der_len;
	uint64_t seq, line_off;      /* the issue entry: number, file offset */
	int from_snap;               /* loaded from the index, not new */
	int ehash_ok;                /* ehash known (index records carry it) */
	unsigned char ehash[16];     /* SHA-256 of the issue entry, truncated */
} cert_rec;

typedef struct {
	char hostid[HOSTCA_UUID_LEN + 1];
	size_t last;                 /* newest cert */
	size_t ncerts;
	int from_snap;
} host_rec;

typedef struct {
	char name[MAX_TOKEN_NAME + 1];
	int kind;
	int v2;                      /* id + wrapped K (proofs), not salt + hash */
	unsigned char salt[16], hash[32];
	unsigned char id[TOKEN_ID_LEN], wk[32];
	unsigned max, uses;
	int64_t created, expires;
	char hostid[HOSTCA_UUID_LEN + 1];
	int deleted;
	int consumed;                /* a reissue of its host used it up (I7) */
	int forgotten;               /* removed by cleanup: hidden, name free */
	char reason[MAX_REASON_TEXT + 1];
} token_rec;

/* A small open-addressing index: key bytes -> record index. */
typedef struct {
	size_t *slot;                /* index + 1; 0 = empty */
	size_t cap, n;
} imap;

typedef const unsigned char *(*imap_key_fn)(const void *ctx, size_t i, size_t *len);

static uint32_t
fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static int imap_put(imap *m, const unsigned char *k, size_t kl, size_t v,
	imap_key_fn kf, const void *ctx);

static int
imap_grow(imap *m, imap_key_fn kf, const void *ctx)
{
	imap old = *m;
	size_t i;

	m->cap = old.cap ? old.cap * 2 : 64;
	m->n = 0;
	if ((m->slot = calloc(m->cap, sizeof *m->slot)) == NULL) {
		*m = old;
		return -1;
	}
	for (i = 0; i < old.cap; i++) {
		if (old.slot[i]) {
			size_t kl;
			const unsigned char *k = kf(ctx, old.slot[i] - 1, &kl);
			imap_put(m, k, kl, old.slot[i] - 1, kf, ctx);
		}
	}
	free(old.slot);
	return 0;
}

static int
imap_put(imap *m, const unsigned char *k, size_t kl, size_t v,
	imap_key_fn kf, const void *ctx)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap && imap_grow(m, kf, ctx) < 0)
		return -1;
	for (i = fnv1a(k, kl) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->slot[i] == 0) {
			m->slot[i] = v + 1;
			m->n++;
			return 0;
		} else {
			size_t ol;
			const unsigned char *ok = kf(ctx, m->slot[i] - 1, &ol);
			if (ol == kl && memcmp(ok, k, kl) == 0) {
				m->slot[i] = v + 1;
				return 0;
			}
		}
	}
}

/* Record index, or SIZE_MAX. */
static size_t
imap_get(const imap *m, const unsigned char *k, size_t kl, imap_key_fn kf,
	const void *ctx)
{
	size_t i;

	if (m->cap == 0)
		return SIZE_MAX;
	for (i = fnv1a(k, kl) & (m->cap - 1); m->slot[i]; i = (i + 1) & (m->cap - 1)) {
		size_t ol;
		const unsigned char *ok = kf(ctx, m->slot[i] - 1, &ol);
		if (ol == kl && memcmp(ok, k, kl) == 0)
			return m->slot[i] - 1;
	}
	return SIZE_MAX;
}

/* A set of SHA-256 values (bad keys, refused requests), all in memory. */
typedef struct {
	unsigned char (*v)[32];
	size_t n, cap;
	imap ix;
} hashset;

static const unsigned char *
key_hashset(const void *ctx, size_t i, size_t *len)
{
	const hashset *hs = ctx;
	*len = 32;
	return hs->v[i];
}

static int
hashset_has(const hashset *hs, const unsigned char h[32])
{
	return imap_get(&hs->ix, h, 32, key_hashset, hs) != SIZE_MAX;
}

static int grow(void **p, size_t *cap, size_t need, size_t size);

static int
hashset_add(hashset *hs, const unsigned char h[32])
{
	if (hashset_has(hs, h))
		return 0;
	if (grow((void **)&hs->v, &hs->cap, hs->n + 1, sizeof *hs->v) < 0)
		return -1;
	memcpy(hs->v[hs->n], h, 32);
	if (imap_put(&hs->ix, h, 32, hs->n, key_hashset, hs) < 0)
		return -1;
	hs->n++;
	return 0;
}

static void
hashset_free(hashset *hs)
{
	free(hs->v);
	free(hs->ix.slot);
}

typedef struct {
	const char *dir;
	int lock_fd, writing;
	int dir_fd;                  /* the CA directory, flock()ed */
	/* configuration */
	char name[MAX_CA_NAME + 1];
	int key_type, security;
	int64_t cert_days, crl_days, token_valid, backdate;
	/* CA certificate and key */
	unsigned char *ca_der;
	size_t ca_len;
	x509_info ca;
	unsigned char ca_fp[32];
	hostca_key key;
	int have_key;
	unsigned char kek[32];       /* wraps the tokens' MAC keys (from the key) */
	int have_kek;
	/* journal.head: the last acknowledged entry, signed by the CA key */
	uint64_t head_seq;
	unsigned char head_hash[32];
	/* journal */
	unsigned char *jbuf;
	size_t jlen;
	uint64_t seq;
	unsigned char head[32];
	char *pend;                  /* lines not written yet */
	size_t pend_len, pend_cap;
	int64_t created;
	/* state: the fold of the journal */
	cert_rec *certs;
	size_t ncerts, certs_cap;
	host_rec *hosts;
	size_t nhosts, hosts_cap;
	token_rec *tokens;
	size_t ntokens, tokens_cap;
	imap by_serial, by_req, by_host, by_name;
	struct name_key { char *name; size_t host, next; } *name_keys;
	size_t nname_keys, name_keys_cap;
	int names_ready;             /* by_name built (lazily) */
	uint64_t crl_number;
	int64_t crl_this, crl_next;
	int64_t crl_at;              /* when the last CRL was made */
	int crl_dirty;               /* revocations since the last CRL event */
	size_t nrevoked;
	rng_state rng;
	/* the index (a cache of the fold up to snap.seq; see section 7b) */
	struct snap {
		int ok;
		uint64_t seq, off;          /* covers entries 1..seq, bytes 0..off */
		unsigned char hash[32];
		size_t ncerts, nhosts, nrevoked;
		unsigned char *map[5];      /* the index files, read block by block */
		size_t len[5];
		int fd[5];
		unsigned char *bh[5];       /* each block's SHA-256, from index/state */
		unsigned char *vok[5];      /* block read and checked */
	} snap;
	int jfd;                     /* the journal, for reading entries */
	/* reissue windows (I6): few, so all of them in memory */
	struct window {
		char hostid[HOSTCA_UUID_LEN + 1];
		int64_t until;
		int level;               /* the security level it was opened at */
		int has_key;
		unsigned char keyfp[32]; /* the key it vouches for (besides the
		                          * key of the host's newest certificate) */
	} *windows;
	size_t nwindows, windows_cap;
	hashset refused;             /* requests refused already: recorded once */
	hashset badkeys;             /* keys revoked as compromised (I1) */
	int64_t crl_keep;            /* entries of certificates expired before
	                              * this time left the CRL already */
	/* the CA certificate the journal records (init, then ca renew):
	 * ca.pem must be it; renew_der is the renewed one, for recovery */
	unsigned char ca_fp_rec[32];
	int have_fp_rec;
	unsigned char *renew_der;
	size_t renew_len;
	/* key rollover (section 7g): every link certificate so far (the
	 * next CA key and name, signed by the key before it), and while a
	 * rollover is in progress the retiring CA (prev.pem, prev.key) */
	struct link {
		unsigned char *der, *crl; /* crl: a retired key's last CRL */
		size_t len, crl_len;
	} *links, *olds;
	size_t nlinks, links_cap;
	size_t nolds, olds_cap;      /* olds: every CA certificate rolled
	                              * over from, oldest first */
	int rolling;                 /* a rollover not finished */
	uint64_t roll_seq;           /* its entry: certificates before it
	                              * are the retiring key's */
	unsigned char prev_fp[32];
	unsigned char *prev_der;     /* the retiring CA certificate */
	size_t prev_len;
	x509_info *prev;             /* decoded (lazily) */
	hostca_key prev_key;
	int have_prev_key;
	unsigned char *roll_der;     /* the new CA certificate (recovery) */
	size_t roll_len;
	/* shared names (I5's exception: ca share): few, all in memory */
	struct share {
		char name[HOSTCA_MAX_NAME_LEN + 1];
		char *hosts;             /* "ID,ID" */
	} *shares;
	size_t nshares, shares_cap;
	uint64_t jsize;              /* its committed length */
	size_t new_certs, new_hosts; /* not in the index */
	int index_ok;                /* the fold is complete enough to index */
	int unclean;                 /* the last writer did not finish */
	/* batch signing: events applied now, written once signed (7c) */
	int defer;
	int preview;                 /* ca sign --list: applied, never written */
	struct deferred { char *line; size_t cert; } *dq;
	size_t ndq, dq_cap;
} ca_ctx;

static const unsigned char *
key_serial(const void *ctx, size_t i, size_t *len)
{
	const ca_ctx *ca = ctx;
	*len = ca->certs[i].serial_len;
	return ca->certs[i].serial;
}

static const unsigned char *
key_req(const void *ctx, size_t i, size_t *len)
{
	const ca_ctx *ca = ctx;
	*len = 32;
	return ca->certs[i].req;
}

static const unsigned char *
key_host(const void *ctx, size_t i, size_t *len)
{
	const ca_ctx *ca = ctx;
	*len = HOSTCA_UUID_LEN;
	return (const unsigned char *)ca->hosts[i].hostid;
}


static const unsigned char *
key_name(const void *ctx, size_t i, size_t *len)
{
	const ca_ctx *ca = ctx;
	*len = strlen(ca->name_keys[i].name);
	return (const unsigned char *)ca->name_keys[i].name;
}

/*
 * The name index: name -> every host whose certificates carried it (a
 * chain through name_keys). Who *holds* a name is decided by looking at
 * each candidate's newest certificate.
 */
static int
ca_index_names(ca_ctx *ca, size_t ci)
{
	const cert_rec *c = &ca->certs[ci];
	const char *p = c->names;

	while (*p) {
		size_t n = strcspn(p, ","), head, e;
		struct name_key *k;
		int dup = 0;
		head = imap_get(&ca->by_name, (const unsigned char *)p, n, key_name, ca);
		for (e = head; e != SIZE_MAX; e = ca->name_keys[e].next)
			if (ca->name_keys[e].host == c->host)
				dup = 1;
		if (!dup) {
			if (grow((void **)&ca->name_keys, &ca->name_keys_cap,
				ca->nname_keys + 1, sizeof *ca->name_keys) < 0)
				return -1;
			k = &ca->name_keys[ca->nname_keys];
			if ((k->name = malloc(n + 1)) == NULL)
				return -1;
			memcpy(k->name, p, n);
			k->name[n] = 0;
			k->host = c->host;
			k->next = head;
			if (imap_put(&ca->by_name, (const unsigned char *)k->name, n,
				ca->nname_keys, key_name, ca) < 0) {
				free(k->name);
				return -1;
			}
			ca->nname_keys++;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int snap_load_host(ca_ctx *ca, const char *hostid);
static int serial_parse(const char *hex, unsigned char *out, size_t *len);
static int snap_load_serial(ca_ctx *ca, const unsigned char *s, size_t len);
static int snap_load_req(ca_ctx *ca, const unsigned char req[32]);

static int snap_load_serial(ca_ctx *ca, const unsigned char *s, size_t len);
static int snap_load_host(ca_ctx *ca, const char *hostid);
static int snap_load_req(ca_ctx *ca, const unsigned char req[32]);
static void snap_stop(ca_ctx *ca);

/* What a load from the index gave: 1 found, 0 not there; a failure (a
 * record or entry that does not check, half a host loaded) ends the
 * command rather than let it decide on part of the truth. */
static int
snap_load_ok(ca_ctx *ca, int r)
{
	if (r < 0)
		snap_stop(ca);
	return r > 0;
}

/* Lookups: the state in memory first; with an index, what is not in
 * memory yet is loaded from it (and then is in memory). */
static size_t
ca_find_serial(ca_ctx *ca, const unsigned char *s, size_t len)
{
	size_t i = imap_get(&ca->by_serial, s, len, key_serial, ca);

	if (i == SIZE_MAX && ca->snap.ok && snap_load_ok(ca, snap_load_serial(ca, s, len)))
		i = imap_get(&ca->by_serial, s, len, key_serial, ca);
	return i;
}

static size_t
ca_find_host(ca_ctx *ca, const char *hostid)
{
	size_t i;

	if (strlen(hostid) != HOSTCA_UUID_LEN)
		return SIZE_MAX;
	i = imap_get(&ca->by_host, (const unsigned char *)hostid,
		HOSTCA_UUID_LEN, key_host, ca);
	if (i == SIZE_MAX && ca->snap.ok && snap_load_ok(ca, snap_load_host(ca, hostid)))
		i = imap_get(&ca->by_host, (const unsigned char *)hostid,
			HOSTCA_UUID_LEN, key_host, ca);
	return i;
}

static size_t
ca_find_req(ca_ctx *ca, const unsigned char req[32])
{
	size_t i = imap_get(&ca->by_req, req, 32, key_req, ca);

	if (i == SIZE_MAX && ca->snap.ok && snap_load_ok(ca, snap_load_req(ca, req)))
		i = imap_get(&ca->by_req, req, 32, key_req, ca);
	return i;
}

/* Any token by name, forgotten ones included (certificates name them). */
static size_t
ca_find_token_any(const ca_ctx *ca, const char *name)
{
	size_t i;

	for (i = 0; i < ca->ntokens; i++)
		if (strcmp(ca->tokens[i].name, name) == 0)
			return i;
	return SIZE_MAX;
}

static size_t
ca_find_token(const ca_ctx *ca, const char *name)
{
	size_t i;

	for (i = 0; i < ca->ntokens; i++)
		if (!ca->tokens[i].forgotten && strcmp(ca->tokens[i].name, name) == 0)
			return i;
	return SIZE_MAX;
}

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	void *q;
	size_t nc;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap * 2 : 16;
	while (nc < need)
		nc *= 2;
	if ((q = realloc(*p, nc * size)) == NULL)
		return -1;
	*p = q;
	*cap = nc;
	return 0;
}

/* The DER of a certificate record (decoded from the journal on demand). */
static const unsigned char *
ca_cert_der(ca_ctx *ca, size_t i, size_t *len)
{
	cert_rec *c = &ca->certs[i];

	if (c->der == NULL && c->b64 == NULL && c->b64_len > 0 && ca->jfd >= 0) {
		char *t = malloc(c->b64_len);
		unsigned char *d = malloc(c->b64_len / 4 * 3 + 3);
		long n = -1;
		if (t != NULL && d != NULL
			&& pread(ca->jfd, t, c->b64_len, (off_t)c->b64_off) == (ssize_t)c->b64_len)
			n = b64_decode(d, c->b64_len / 4 * 3 + 3, t, c->b64_len, 0);
		free(t);
		if (n <= 0) {
			free(d);
			return NULL;
		}
		c->der = d;
		c->der_len = (size_t)n;
	}
	if (c->der == NULL && c->b64 != NULL) {
		unsigned char *d = malloc(c->b64_len / 4 * 3 + 3);
		long n;
		if (d == NULL)
			return NULL;
		n = b64_decode(d, c->b64_len / 4 * 3 + 3, c->b64, c->b64_len, 0);
		if (n <= 0) {
			free(d);
			return NULL;
		}
		c->der = d;
		c->der_len = (size_t)n;
	}
	*len = c->der_len;
	return c->der;
}

static int
cert_is_valid(const cert_rec *c, int64_t now)
{
	return !c->revoked && c->na >= now;
}

/* The reissue window of a host, open or not, or NULL. */
static struct window *
window_find(ca_ctx *ca, const char *hostid)
{
	size_t i;

	for (i = 0; i < ca->nwindows; i++)
		if (strcmp(ca->windows[i].hostid, hostid) == 0)
			return &ca->windows[i];
	return NULL;
}

/* A window that authorizes now: open, and neither opened nor used at
 * very-high (a window recorded at very-high stays inert for ever). */
static int
window_open(const ca_ctx *ca, const struct window *w)
{
	return w != NULL && w->until >= g.now && w->level != SEC_VERY_HIGH
		&& ca->security != SEC_VERY_HIGH;
}

static int
window_put(ca_ctx *ca, const struct window *w)
{
	struct window *o = window_find(ca, w->hostid);

	if (o == NULL) {
		if (grow((void **)&ca->windows, &ca->windows_cap, ca->nwindows + 1,
			sizeof *ca->windows) < 0)
			return -1;
		o = &ca->windows[ca->nwindows++];
	}
	*o = *w;
	return 0;
}

/* The share of a name, or NULL. */
static struct share *
share_find(ca_ctx *ca, const char *name)
{
	size_t i;

	for (i = 0; i < ca->nshares; i++)
		if (strcmp(ca->shares[i].name, name) == 0)
			return &ca->shares[i];
	return NULL;
}

static int names_has(const char *list, const char *name);

/* 1 when a name is shared by the host (ca share). */
static int
share_has(ca_ctx *ca, const char *name, const char *hostid)
{
	struct share *sh = share_find(ca, name);

	return sh != NULL && names_has(sh->hosts, hostid);
}

/* Sets the hosts that share a name ("" ends the share). */
static int
share_put(ca_ctx *ca, const char *name, const char *hosts)
{
	struct share *sh = share_find(ca, name);
	char *copy;

	if (strlen(name) > HOSTCA_MAX_NAME_LEN)
		return -1;
	if (*hosts == 0) {
		if (sh != NULL) {
			free(sh->hosts);
			*sh = ca->shares[--ca->nshares];
		}
		return 0;
	}
	if ((copy = strdup(hosts)) == NULL)
		return -1;
	if (sh == NULL) {
		if (grow((void **)&ca->shares, &ca->shares_cap, ca->nshares + 1,
			sizeof *ca->shares) < 0) {
			free(copy);
			return -1;
		}
		sh = &ca->shares[ca->nshares++];
		strcpy(sh->name, name);
		sh->hosts = NULL;
	}
	free(sh->hosts);
	sh->hosts = copy;
	return 0;
}

static void
window_drop(ca_ctx *ca, const char *hostid)
{
	struct window *w = window_find(ca, hostid);

	if (w != NULL)
		*w = ca->windows[--ca->nwindows];
}

#define REASON_KEY_COMPROMISE  1
#define REVOKE_PER_EVENT     1000      /* serials in one revoke event */
#define CRL_BACKDATE_MAX    86400      /* thisUpdate at most a day back */
#define REASON_SUPERSEDED      4

/*
 * Revokes one certificate in the state (I2): a revoked certificate keeps
 * its date, but its reason can be raised to keyCompromise; a key revoked
 * as compromised joins the bad keys (I1).
 */
static int
cert_revoke(ca_ctx *ca, size_t k, int reason, int64_t when)
{
	cert_rec *c = &ca->certs[k];

	if (!c->revoked) {
		c->revoked = 1;
		c->reason = reason;
		c->rev_at = when;
		ca->nrevoked++;
		ca->crl_dirty = 1;
	} else if (reason == REASON_KEY_COMPROMISE && c->reason != reason) {
		c->reason = reason;
		ca->crl_dirty = 1;
	}
	if (c->reason == REASON_KEY_COMPROMISE)
		return hashset_add(&ca->badkeys, c->keyfp);
	return 0;
}

/* Applies a list of serials "S,S,..." (a copy is cut, any length). */
static int
serials_revoke(ca_ctx *ca, const char *list, int reason, int64_t when)
{
	char *buf, *t, *save = NULL;
	int r = 0;

	if ((buf = strdup(list)) == NULL)
		return -1;
	for (t = strtok_r(buf, ",", &save); t && r == 0; t = strtok_r(NULL, ",", &save)) {
		unsigned char sb[20];
		size_t sl, k;
		if (serial_parse(t, sb, &sl) < 0 || (k = ca_find_serial(ca, sb, sl)) == SIZE_MAX
			|| cert_revoke(ca, k, reason, when) < 0)
			r = -1;
	}
	free(buf);
	return r;
}

/* ---- Journal ----
 *
 * One line per event:  SEQ TIME EVENT key=value ... h=HASH
 * HASH = SHA-256(previous HASH (raw) || the line up to " h="), hex; the
 * first line chains from 32 zero bytes. Values are percent-escaped. The
 * journal is at once the database (its fold is the CA's state), the
 * audit log and the crash-recovery log: a torn last line fails its hash
 * and was never acknowledged.
 */

#define MAX_FIELDS 24

typedef struct {
	uint64_t seq;
	int64_t time;
	char *event;
	char *k[MAX_FIELDS], *v[MAX_FIELDS];
	size_t n;
	/* offsets of raw values within the line (for cert=) */
	size_t voff[MAX_FIELDS], vlen[MAX_FIELDS];
} jline;

static const char *
jget(const jline *l, const char *k)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->k[i], k) == 0)
			return l->v[i];
	return NULL;
}

static int64_t
jnum(const jline *l, const char *k, int64_t dflt)
{
	const char *v = jget(l, k);
	char *end;
	long long x;

	if (v == NULL)
		return dflt;
	errno = 0;
	x = strtoll(v, &end, 10);
	if (errno || *end || end == v)
		return dflt;
	return x;
}

/*
 * Splits a line (copied into work, NUL-terminated, without " h=...").
 * The cert= value is kept as an offset into the original line and not
 * copied (it can be long).
 */
static int
jline_parse(jline *l, char *work)
{
	char *p = work, *tok, *save = NULL;
	size_t i = 0;

	memset(l, 0, sizeof *l);
	for (tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save), i++) {
		if (i == 0) {
			if (strspn(tok, "0123456789") != strlen(tok))
				return -1;
			l->seq = strtoull(tok, NULL, 10);
		} else if (i == 1) {
			if (strspn(tok, "-0123456789") != strlen(tok))
				return -1;
			l->time = strtoll(tok, NULL, 10);
		} else if (i == 2) {
			l->event = tok;
		} else {
			char *eq = strchr(tok, '=');
			size_t k;
			if (eq == NULL || l->n >= MAX_FIELDS)
				return -1;
			*eq = 0;
			for (k = 0; k < l->n; k++)
				if (strcmp(l->k[k], tok) == 0)
					return -1;      /* a key twice: not a line we wrote */
			l->k[l->n] = tok;
			l->v[l->n] = eq + 1;
			l->voff[l->n] = (size_t)(eq + 1 - work);
			l->vlen[l->n] = strlen(eq + 1);
			if (strcmp(tok, "cert") != 0 && unesc(eq + 1) < 0)
				return -1;
			l->n++;
		}
	}
	return i >= 3 ? 0 : -1;
}

static void
chain_hash(const unsigned char prev[32], const char *line, size_t len,
	unsigned char out[32])
{
	br_sha256_context h;

	br_sha256_init(&h);
	br_sha256_update(&h, prev, 32);
	br_sha256_update(&h, line, len);
	br_sha256_out(&h, out);
}

static int
names_parse(const char *s, hostname *out, size_t *n)
{
	char buf[HOSTCA_MAX_NAMES * (HOSTCA_MAX_NAME_LEN + 1) + 1], *tok, *save = NULL;

	*n = 0;
	if (strlen(s) >= sizeof buf)
		return -1;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (*n >= HOSTCA_MAX_NAMES || hostname_parse(&out[*n], tok) < 0)
			return -1;
		(*n)++;
	}
	return 0;
}

static char *
names_join(const hostname *names, size_t n)
{
	size_t i, len = 1;
	char *s;

	for (i = 0; i < n; i++)
		len += strlen(names[i].text) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = 0;
	for (i = 0; i < n; i++) {
		if (i)
			str_append(s, ",");
		str_append(s, names[i].text);
	}
	return s;
}

/* A serial number in hex (colons allowed, odd length allowed: tools
 * print serials without their leading zero), without leading zero bytes. */
static int
serial_parse(const char *hex, unsigned char *out, size_t *len)
{
	char buf[2 * 20 + 20 + 2];
	size_t i, n = 0, k;
	long got;

	for (i = 0; hex[i]; i++)
		if (hex[i] != ':')
			n++;
	if (n == 0 || n > 40 || strlen(hex) >= sizeof buf - 1)
		return -1;
	k = 0;
	if (n % 2)
		buf[k++] = '0';
	strcpy(buf + k, hex);
	got = hex_decode(out, 20, buf);
	if (got <= 0)
		return -1;
	for (i = 0; i + 1 < (size_t)got && out[i] == 0; i++)
		;
	memmove(out, out + i, (size_t)got - i);
	*len = (size_t)got - i;
	return 0;
}

/*
 * The issue event. src says where the line lives: SRC_NEW (this run:
 * the DER is decoded now), SRC_JOURNAL (the journal in memory: the base64
 * stays there), SRC_INDEX (a certificate loaded through the index: its
 * revocation comes from the index, its token use is counted already).
 */
#define SRC_NEW      0
#define SRC_JOURNAL  1
#define SRC_INDEX    2

static void entry_hash(const char *line, size_t len, unsigned char out[16]);

static int
ca_apply_issue(ca_ctx *ca, const jline *l, const char *line, int src,
	uint64_t line_off)
{
	cert_rec *c;
	host_rec *h;
	const char *serial = jget(l, "serial"), *host = jget(l, "host");
	const char *names = jget(l, "names"), *keyfp = jget(l, "keyfp");
	const char *req = jget(l, "req"), *tok = jget(l, "token");
	const char *kind = jget(l, "kind"), *sup = jget(l, "supersedes");
	unsigned char sb[20];
	size_t i, hi, sl, ti = SIZE_MAX;

	if (serial == NULL || host == NULL || names == NULL || keyfp == NULL
		|| req == NULL || kind == NULL || !hostca_uuid_check(host)
		|| serial_parse(serial, sb, &sl) < 0)
		return -1;
	/* Superseded certificates are revoked by the same event. */
	if (src != SRC_INDEX && sup != NULL && *sup) {
		if (serials_revoke(ca, sup, REASON_SUPERSEDED, l->time) < 0)
			return -1;
	}
	/* A serial is never reused. (Loading from the index, the host is
	 * being loaded and the serial is known to be its own.) */
	if (src != SRC_INDEX && ca_find_serial(ca, sb, sl) != SIZE_MAX)
		return -1;
	if (tok != NULL && strcmp(tok, "-") != 0) {
		ti = src == SRC_INDEX ? ca_find_token_any(ca, tok) : ca_find_token(ca, tok);
		if (ti == SIZE_MAX)
			return -1;
	}
	/* The host (loading it from the index first, if it is there). */
	hi = ca_find_host(ca, host);
	if (hi == SIZE_MAX) {
		if (grow((void **)&ca->hosts, &ca->hosts_cap, ca->nhosts + 1,
			sizeof *ca->hosts) < 0)
			return -1;
		hi = ca->nhosts++;
		h = &ca->hosts[hi];
		memset(h, 0, sizeof *h);
		strcpy(h->hostid, host);
		h->last = SIZE_MAX;
		ca->new_hosts++;
		if (imap_put(&ca->by_host, (const unsigned char *)h->hostid,
			HOSTCA_UUID_LEN, hi, key_host, ca) < 0)
			return -1;
	}
	if (grow((void **)&ca->certs, &ca->certs_cap, ca->ncerts + 1,
		sizeof *ca->certs) < 0)
		return -1;
	c = &ca->certs[ca->ncerts];
	memset(c, 0, sizeof *c);
	memcpy(c->serial, sb, sl);
	c->serial_len = sl;
	if (hex_decode(c->keyfp, 32, keyfp) != 32 || hex_decode(c->req, 32, req) != 32)
		return -1;
	strcpy(c->hostid, host);
	c->nb = jnum(l, "nb", 0);
	c->na = jnum(l, "na", 0);
	c->issued = l->time;
	c->seq = l->seq;
	c->line_off = line_off;
	c->from_snap = src == SRC_INDEX;
	/* The entry's hash for its serial record (section 7b), from the bytes
	 * the fold has just checked against the chain: never read back. */
	if (src == SRC_JOURNAL) {
		entry_hash(line, strlen(line), c->ehash);
		c->ehash_ok = 1;
	}
	c->kind = strcmp(kind, "renewal") == 0 ? KIND_RENEWAL
		: strcmp(kind, "reissue") == 0 ? KIND_REISSUE : KIND_NEW;
	c->token = -1;
	if (ti != SIZE_MAX) {
		if (src != SRC_INDEX)
			ca->tokens[ti].uses++;
		c->token = (int)ti;
	}
	if ((c->names = strdup(names)) == NULL)
		return -1;
	for (i = 0; i < l->n; i++) {
		if (strcmp(l->k[i], "cert") != 0)
			continue;
		if (src == SRC_JOURNAL) {
			c->b64 = line + l->voff[i];
			c->b64_len = l->vlen[i];
		} else if (src == SRC_INDEX) {
			c->b64_off = line_off + l->voff[i];
			c->b64_len = l->vlen[i];
		} else {
			long n;
			c->der = malloc(l->vlen[i] / 4 * 3 + 3);
			if (c->der == NULL)
				return -1;
			n = b64_decode(c->der, l->vlen[i] / 4 * 3 + 3,
				line + l->voff[i], l->vlen[i], 0);
			if (n <= 0) {
				free(c->der);
				c->der = NULL;
			} else {
				c->der_len = (size_t)n;
			}
		}
	}
	if (c->b64 == NULL && c->der == NULL && c->b64_len == 0 && !ca->defer) {
		free(c->names);
		return -1;
	}
	h = &ca->hosts[hi];
	c->host = hi;
	c->prev_of_host = h->last;
	h->last = ca->ncerts;
	h->ncerts++;
	if (c->kind == KIND_REISSUE && src != SRC_INDEX) {
		/* I7: one reissue, one authorization: it consumes the host's
		 * window and every reissue token still bound to it. */
		window_drop(ca, host);
		for (i = 0; i < ca->ntokens; i++) {
			token_rec *t = &ca->tokens[i];
			if (t->kind == TOK_REISSUE && strcmp(t->hostid, host) == 0
				&& (int)i != c->token && t->uses < t->max)
				t->consumed = 1;
		}
	}
	ca->ncerts++;
	if (src != SRC_INDEX)
		ca->new_certs++;
	if (ca->names_ready && ca_index_names(ca, ca->ncerts - 1) < 0)
		return -1;
	if (imap_put(&ca->by_serial, c->serial, c->serial_len, ca->ncerts - 1,
		key_serial, ca) < 0
		|| imap_put(&ca->by_req, c->req, 32, ca->ncerts - 1, key_req, ca) < 0)
		return -1;
	return 0;
}

/* base64 text -> DER (allocated). 0, or -1. */
static int
b64_dup(const char *b64, unsigned char **out, size_t *len)
{
	size_t n = strlen(b64), cap = n / 4 * 3 + 3;
	long got;

	if ((*out = malloc(cap)) == NULL)
		return -1;
	got = b64_decode(*out, cap, b64, n, 0);
	if (got <= 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	*len = (size_t)got;
	return 0;
}

/* Applies one event to the state (see ca_apply_issue for src). */
static int
ca_apply(ca_ctx *ca, const jline *l, const char *line, int src, uint64_t line_off)
{
	const char *ev = l->event;

	if (strcmp(ev, "init") == 0) {
		const char *name = jget(l, "name"), *kt = jget(l, "key");
		if (name == NULL || kt == NULL || strlen(name) > MAX_CA_NAME)
			return -1;
		strcpy(ca->name, name);
		ca->key_type = hostca_key_type_parse(kt);
		if (ca->key_type == 0 && strcmp(kt, "-") != 0)
			return -1;
		ca->security = (int)jnum(l, "security", SEC_HIGH);
		ca->cert_days = jnum(l, "cert-days", 365);
		ca->crl_days = jnum(l, "crl-days", 7);
		ca->token_valid = jnum(l, "token-valid", 7 * 86400);
		ca->backdate = jnum(l, "backdate", 3600);
		ca->created = l->time;
		{
			const char *fp = jget(l, "fp");
			ca->have_fp_rec = fp != NULL && hex_decode(ca->ca_fp_rec, 32, fp) == 32;
		}
		return 0;
	}
	if (strcmp(ev, "ca-renew") == 0) {
		/* a new CA certificate for the same key and subject */
		const char *fp = jget(l, "fp"), *b64 = jget(l, "cert");
		unsigned char h[32], d[32], *der;
		size_t n;
		if (fp == NULL || b64 == NULL || hex_decode(h, 32, fp) != 32
			|| b64_dup(b64, &der, &n) < 0)
			return -1;
		sha256_once(d, der, n);
		if (!ct_equal(d, h, 32)) {
			free(der);
			return -1;
		}
		free(ca->renew_der);
		ca->renew_der = der;
		ca->renew_len = n;
		memcpy(ca->ca_fp_rec, h, 32);
		ca->have_fp_rec = 1;
		return 0;
	}
	if (strcmp(ev, "ca-rollover") == 0 || strcmp(ev, "ca-link") == 0) {
		/* a key rollover (ca rollover); the index writes each link and
		 * old CA certificate as ca-link, and a rollover in progress
		 * without its new certificate (settled by then) */
		const char *fp = jget(l, "fp"), *cert = jget(l, "cert");
		const char *link = jget(l, "link"), *prev = jget(l, "prev");
		const char *pc = jget(l, "prevcert"), *od = jget(l, "old");
		const char *rw = jget(l, "rewrap");
		int index = src != SRC_JOURNAL && jget(l, "rseq") != NULL;
		unsigned char h[32];
		if (ev[3] == 'l' ? src == SRC_JOURNAL || (link == NULL) == (od == NULL)
			: ca->rolling || prev == NULL || pc == NULL
			|| (!index && (fp == NULL || cert == NULL || link == NULL)))
			return -1;                /* not the journal's own events */
		if (link != NULL) {
			struct link k;
			memset(&k, 0, sizeof k);
			if (grow((void **)&ca->links, &ca->links_cap, ca->nlinks + 1,
				sizeof *ca->links) < 0 || b64_dup(link, &k.der, &k.len) < 0)
				return -1;
			ca->links[ca->nlinks++] = k;
		}
		if (od != NULL) {
			struct link k;
			const char *oc = jget(l, "crl");
			memset(&k, 0, sizeof k);
			if (grow((void **)&ca->olds, &ca->olds_cap, ca->nolds + 1,
				sizeof *ca->olds) < 0 || b64_dup(od, &k.der, &k.len) < 0)
				return -1;
			if (oc != NULL && b64_dup(oc, &k.crl, &k.crl_len) < 0) {
				free(k.der);
				return -1;
			}
			ca->olds[ca->nolds++] = k;
		}
		if (ev[3] == 'l')
			return 0;
		if (hex_decode(ca->prev_fp, 32, prev) != 32)
			return -1;
		free(ca->prev_der);
		free(ca->prev);
		ca->prev = NULL;
		if (b64_dup(pc, &ca->prev_der, &ca->prev_len) < 0)
			return -1;
		sha256_once(h, ca->prev_der, ca->prev_len);
		if (!ct_equal(h, ca->prev_fp, 32))
			return -1;
		if (!index) {
			/* the retiring certificate joins the old ones */
			struct link k;
			memset(&k, 0, sizeof k);
			if (grow((void **)&ca->olds, &ca->olds_cap, ca->nolds + 1,
				sizeof *ca->olds) < 0 || (k.der = malloc(ca->prev_len)) == NULL)
				return -1;
			memcpy(k.der, ca->prev_der, ca->prev_len);
			k.len = ca->prev_len;
			ca->olds[ca->nolds++] = k;
			free(ca->roll_der);
			ca->roll_der = NULL;
			if (hex_decode(ca->ca_fp_rec, 32, fp) != 32
				|| b64_dup(cert, &ca->roll_der, &ca->roll_len) < 0)
				return -1;
			sha256_once(h, ca->roll_der, ca->roll_len);
			if (!ct_equal(h, ca->ca_fp_rec, 32))
				return -1;
			ca->have_fp_rec = 1;
			free(ca->renew_der);      /* a renewal before is the old key's */
			ca->renew_der = NULL;
			ca->crl_dirty = 1;        /* a CRL of each key, by the next writer */
		}
		/* the tokens' MAC keys, wrapped under the new key: "ID:WK,..." */
		while (rw != NULL && *rw) {
			unsigned char id[TOKEN_ID_LEN], wk[32];
			char a[2 * TOKEN_ID_LEN + 1], b[65];
			size_t t, al = strcspn(rw, ":"), bl;
			if (al != 2 * TOKEN_ID_LEN || rw[al] != ':')
				return -1;
			bl = strcspn(rw + al + 1, ",");
			if (bl != 64)
				return -1;
			memcpy(a, rw, al);
			a[al] = 0;
			memcpy(b, rw + al + 1, bl);
			b[bl] = 0;
			if (hex_decode(id, TOKEN_ID_LEN, a) != TOKEN_ID_LEN || hex_decode(wk, 32, b) != 32)
				return -1;
			for (t = 0; t < ca->ntokens; t++)
				if (ca->tokens[t].v2 && memcmp(ca->tokens[t].id, id, TOKEN_ID_LEN) == 0)
					memcpy(ca->tokens[t].wk, wk, 32);
			rw += al + 1 + bl;
			if (*rw == ',')
				rw++;
		}
		{
			const char *nm = jget(l, "name"), *kt = jget(l, "key");
			if (nm != NULL && strlen(nm) > MAX_CA_NAME)
				return -1;
			if (nm != NULL)
				strcpy(ca->name, nm);
			if (kt != NULL && (ca->key_type = hostca_key_type_parse(kt)) == 0)
				return -1;
		}
		ca->roll_seq = index ? (uint64_t)jnum(l, "rseq", 0) : l->seq;
		ca->rolling = 1;
		return 0;
	}
	if (strcmp(ev, "ca-retire") == 0) {
		/* the end of a rollover: the retiring key is gone */
		const char *prev = jget(l, "prev");
		unsigned char h[32];
		const char *rc = jget(l, "crl");
		if (!ca->rolling || prev == NULL || hex_decode(h, 32, prev) != 32
			|| !ct_equal(h, ca->prev_fp, 32) || ca->nolds == 0)
			return -1;
		if (rc != NULL) {
			struct link *o = &ca->olds[ca->nolds - 1];
			free(o->crl);
			o->crl = NULL;
			if (b64_dup(rc, &o->crl, &o->crl_len) < 0)
				return -1;
		}
		ca->rolling = 0;
		free(ca->prev_der);
		free(ca->prev);
		ca->prev_der = NULL;
		ca->prev = NULL;
		ca->prev_len = 0;
		return 0;
	}
	if (strcmp(ev, "config") == 0) {
		const char *k = jget(l, "key");
		int64_t v = jnum(l, "value", -1);
		if (k == NULL || v < 0)
			return -1;
		if (strcmp(k, "security") == 0 && v >= 1 && v <= 3)
			ca->security = (int)v;
		else if (strcmp(k, "cert-days") == 0)
			ca->cert_days = v;
		else if (strcmp(k, "crl-days") == 0)
			ca->crl_days = v;
		else if (strcmp(k, "token-valid") == 0)
			ca->token_valid = v;
		else if (strcmp(k, "backdate") == 0)
			ca->backdate = v;
		else
			return -1;
		return 0;
	}
	if (strcmp(ev, "token") == 0) {
		token_rec *t;
		const char *name = jget(l, "name"), *kind = jget(l, "kind");
		const char *hash = jget(l, "hash"), *salt = jget(l, "salt");
		const char *host = jget(l, "host"), *reason = jget(l, "reason");
		const char *id = jget(l, "id"), *wk = jget(l, "wk");
		if (name == NULL || kind == NULL || ((hash == NULL || salt == NULL)
			&& (id == NULL || wk == NULL)) || strlen(name) > MAX_TOKEN_NAME
			|| ca_find_token(ca, name) != SIZE_MAX
			|| grow((void **)&ca->tokens, &ca->tokens_cap, ca->ntokens + 1,
				sizeof *ca->tokens) < 0)
			return -1;
		t = &ca->tokens[ca->ntokens];
		memset(t, 0, sizeof *t);
		strcpy(t->name, name);
		t->kind = strcmp(kind, "reissue") == 0 ? TOK_REISSUE : TOK_AUTH;
		if (id != NULL) {
			t->v2 = 1;
			if (hex_decode(t->id, TOKEN_ID_LEN, id) != TOKEN_ID_LEN
				|| hex_decode(t->wk, 32, wk) != 32)
				return -1;
		} else if (hex_decode(t->hash, 32, hash) != 32
			|| hex_decode(t->salt, 16, salt) != 16) {
			return -1;
		}
		t->max = (unsigned)jnum(l, "max", 1);
		t->expires = jnum(l, "expires", 0);
		t->created = l->time;
		if (host != NULL) {
			if (!hostca_uuid_check(host))
				return -1;
			strcpy(t->hostid, host);
		}
		if (reason != NULL)
			snprintf(t->reason, sizeof t->reason, "%s", reason);
		/* the index's copy of a token carries its state */
		t->uses = (unsigned)jnum(l, "uses", 0);
		t->deleted = (int)jnum(l, "deleted", 0);
		t->forgotten = (int)jnum(l, "forgotten", 0);
		t->consumed = (int)jnum(l, "consumed", 0);
		ca->ntokens++;
		return 0;
	}
	if (strcmp(ev, "token-delete") == 0 || strcmp(ev, "token-cleanup") == 0) {
		const char *name = jget(l, "name");
		size_t i = name ? ca_find_token(ca, name) : SIZE_MAX;
		if (i == SIZE_MAX)
			return -1;
		if (ev[6] == 'd')
			ca->tokens[i].deleted = 1;
		else
			ca->tokens[i].forgotten = 1;   /* certificates still name it */
		return 0;
	}
	if (strcmp(ev, "issue") == 0)
		return ca_apply_issue(ca, l, line, src, line_off);
	if (strcmp(ev, "revoke") == 0) {
		const char *list = jget(l, "serials");
		int reason = (int)jnum(l, "reason", 0);
		if (list == NULL || reason < 0 || reason > 10
			|| serials_revoke(ca, list, reason, l->time) < 0)
			return -1;
		ca->crl_dirty = 1;
		return 0;
	}
	if (strcmp(ev, "crl") == 0) {
		ca->crl_number = (uint64_t)jnum(l, "number", 0);
		ca->crl_this = jnum(l, "this", 0);
		ca->crl_next = jnum(l, "next", 0);
		ca->crl_dirty = (int)jnum(l, "dirty", 0);
		/* older journals: entries left at their expiry */
		ca->crl_keep = jnum(l, "keep", ca->crl_this);
		ca->crl_at = jnum(l, "at", l->time);
		return 0;
	}
	if (strcmp(ev, "allow-reissue") == 0) {
		/* (in index/state, level= keeps the level it was opened at) */
		const char *host = jget(l, "host"), *key = jget(l, "key");
		struct window w;
		memset(&w, 0, sizeof w);
		if (host == NULL || !hostca_uuid_check(host)
			|| (l->seq != 0 && ca_find_host(ca, host) == SIZE_MAX))
			return -1;
		strcpy(w.hostid, host);
		w.until = jnum(l, "until", 0);
		w.level = (int)jnum(l, "level", ca->security);
		if (key != NULL) {
			if (hex_decode(w.keyfp, 32, key) != 32)
				return -1;
			w.has_key = 1;
		}
		return window_put(ca, &w);
	}
	if (strcmp(ev, "share") == 0) {
		/* a name that these hosts hold together ("-": none any more) */
		const char *name = jget(l, "name"), *hosts = jget(l, "hosts");
		const char *p;
		if (name == NULL || hosts == NULL)
			return -1;
		if (strcmp(hosts, "-") == 0)
			hosts = "";
		for (p = hosts; *p; p += HOSTCA_UUID_LEN + (p[HOSTCA_UUID_LEN] == ',')) {
			char id[HOSTCA_UUID_LEN + 1];
			if (strlen(p) < HOSTCA_UUID_LEN
				|| (p[HOSTCA_UUID_LEN] != ',' && p[HOSTCA_UUID_LEN] != 0))
				return -1;
			memcpy(id, p, HOSTCA_UUID_LEN);
			id[HOSTCA_UUID_LEN] = 0;
			if (!hostca_uuid_check(id) || (l->seq != 0 && ca_find_host(ca, id) == SIZE_MAX))
				return -1;
		}
		return share_put(ca, name, hosts);
	}
	if (strcmp(ev, "badkey") == 0) {
		/* index/state only: a key revoked as compromised */
		unsigned char fp[32];
		const char *k = jget(l, "keyfp");
		if (l->seq != 0 || k == NULL || hex_decode(fp, 32, k) != 32)
			return -1;
		return hashset_add(&ca->badkeys, fp);
	}
	if (strcmp(ev, "refuse") == 0) {
		/* history, and which requests were refused already */
		const char *rq = jget(l, "req");
		unsigned char h[32];
		if (rq == NULL)
			return 0;
		if (hex_decode(h, 32, rq) != 32)
			return -1;
		return hashset_add(&ca->refused, h);
	}
	if (strcmp(ev, "note") == 0)
		return 0;              /* history only */
	return -1;
}

static int ca_write_head(ca_ctx *ca);

/* Cuts the journal at off (what follows was never acknowledged), durably. */
static int
journal_cut(const char *path, uint64_t off)
{
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)off) < 0 || fsync(fd) < 0) {
		msg_errno(path, "cannot remove unacknowledged entries");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Loads the journal: checks the hash chain line by line and folds the
 * events. A damaged line in the middle is tampering or corruption: the
 * CA refuses to work. A damaged or unterminated *last* line is a write
 * that a crash interrupted: it was never acknowledged, and a writer
 * removes it (saying so).
 */
static int
ca_journal_load(ca_ctx *ca, int repair)
{
	char path[PATH_MAX];
	size_t pos = 0, good_end = 0;
	unsigned char prev[32];
	char *work = NULL;
	size_t work_cap = 0;
	unsigned long long head_seq = ca->head_seq;
	const unsigned char *head_hash = ca->head_hash;
	size_t tail = 0, ntail = 0;

	path_join(path, sizeof path, ca->dir, "journal");
	if (ca->jfd < 0)
		ca->jfd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (ca->jfd < 0) {
		msg(path, "%s", errno == ENOENT ? "missing: this directory holds no CA"
			: read_errstr(errno));
		return EXIT_USAGE;
	}
	/* With an index, only the entries after it (the tail) are read. */
	{
		struct stat st;
		uint64_t start = ca->snap.ok ? ca->snap.off : 0;
		size_t got = 0;
		if (fstat(ca->jfd, &st) < 0 || !S_ISREG(st.st_mode)
			|| (uint64_t)st.st_size < start) {
			msg(path, "not a journal");
			return EXIT_USAGE;
		}
		ca->jlen = (size_t)((uint64_t)st.st_size - start);
		if ((ca->jbuf = malloc(ca->jlen + 1)) == NULL) {
			msg(path, "out of memory");
			return EXIT_USAGE;
		}
		while (got < ca->jlen) {
			ssize_t k = pread(ca->jfd, ca->jbuf + got, ca->jlen - got,
				(off_t)(start + got));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			got += (size_t)k;
		}
		ca->jlen = got;
		ca->jbuf[got] = 0;
	}
	memset(prev, 0, 32);
	ca->seq = 0;
	if (ca->snap.ok) {
		memcpy(prev, ca->snap.hash, 32);
		ca->seq = ca->snap.seq;
	}
	while (pos < ca->jlen) {
		char *line = (char *)ca->jbuf + pos;
		char *nl = memchr(line, '\n', ca->jlen - pos);
		size_t len, body;
		char *h;
		unsigned char want[32], got[32];
		jline l;

		if (nl == NULL)
			break;                        /* torn: no newline */
		len = (size_t)(nl - line);
		*nl = 0;
		h = len > 67 ? line + len - 67 : NULL;
		if (h == NULL || memcmp(h, " h=", 3) != 0
			|| hex_decode(want, 32, h + 3) != 32) {
			*nl = '\n';
			break;
		}
		body = (size_t)(h - line);
		chain_hash(prev, line, body, got);
		if (!ct_equal(got, want, 32)) {
			*nl = '\n';
			break;
		}
		if (grow((void **)&work, &work_cap, body + 1, 1) < 0) {
			msg(path, "out of memory");
			free(work);
			return EXIT_USAGE;
		}
		memcpy(work, line, body);
		work[body] = 0;
		if (jline_parse(&l, work) < 0 || l.seq != ca->seq + 1) {
			*nl = '\n';
			break;
		}
		if (l.seq > head_seq) {
			/* after the signed head: never acknowledged */
			*nl = '\n';
			if (ntail++ == 0)
				tail = pos;
			memcpy(prev, want, 32);
			pos += len + 1;
			good_end = pos;
			continue;
		}
		/* cert= offsets are relative to work; rebase them onto line. */
		if (ca_apply(ca, &l, line, SRC_JOURNAL, ca->snap.off + pos) < 0) {
			*nl = '\n';
			msg(path, "line %llu: event does not apply to the state"
				" (the journal was edited); run 'hostca ca audit --verify'",
				(unsigned long long)l.seq);
			free(work);
			return EXIT_USAGE;
		}
		if (l.seq == head_seq && !ct_equal(want, head_hash, 32)) {
			msg(path, "entry %llu differs from the one recorded in journal.head:"
				" the journal was edited; see 'hostca ca audit --verify'",
				(unsigned long long)l.seq);
			free(work);
			return EXIT_USAGE;
		}
		memcpy(prev, want, 32);
		ca->seq = l.seq;
		pos += len + 1;
		good_end = pos;
	}
	free(work);
	if (ntail > 0 || (good_end < ca->jlen && ca->seq == head_seq)) {
		/* Entries (or a torn piece) after the signed head: written by a
		 * command that never acknowledged them -- or appended by someone
		 * without the CA key. Either way they are not history: a writer
		 * cuts them, a reader leaves them out. */
		size_t cut = ntail > 0 ? tail : good_end;
		if (repair) {
			if (journal_cut(path, ca->snap.off + cut) < 0)
				return EXIT_USAGE;
			msg(path, "recovered: removed %s after entry %llu (the signed end of"
				" the history): an interrupted command never acknowledged %s",
				ntail ? "entries" : "an incomplete entry", head_seq,
				ntail ? "them" : "it");
		} else if (ntail > 0) {
			note(path, "%zu entr%s after the signed end of the history (entry"
				" %llu) left out: never acknowledged", ntail, ntail == 1 ? "y" : "ies",
				head_seq);
		}
		good_end = ca->jlen = cut;
		/* the chain hash at the head */
		memcpy(prev, head_hash, 32);
	}
	memcpy(ca->head, prev, 32);
	if (good_end < ca->jlen) {
		/* Is the bad part only the last line? */
		const unsigned char *rest = ca->jbuf + good_end;
		size_t rl = ca->jlen - good_end;
		const unsigned char *nl = memchr(rest, '\n', rl);
		if (nl != NULL && (size_t)(nl - rest) + 1 < rl) {
			msg(path, "entry %llu is damaged or was edited, and entries"
				" follow it; the CA refuses to work from a tampered journal"
				" (see 'hostca ca audit --verify')",
				(unsigned long long)ca->seq + 1);
			return EXIT_USAGE;
		}
		if (ca->seq < head_seq && head_seq != UINT64_MAX) {
			/* the damaged entry is one the signed head acknowledged */
			msg(path, "entry %llu is damaged or was edited, and journal.head"
				" acknowledged it: the CA refuses to work from a tampered journal"
				" (see 'hostca ca audit --verify')", (unsigned long long)ca->seq + 1);
			return EXIT_USAGE;
		}
		if (repair) {
			if (journal_cut(path, ca->snap.off + good_end) < 0)
				return EXIT_USAGE;
			msg(path, "recovered: removed an incomplete last entry left by an"
				" interrupted command (it was never acknowledged)");
		}
		ca->jlen = good_end;
	}
	ca->jsize = ca->snap.off + ca->jlen;
	if (ca->seq == head_seq && !ct_equal(ca->head, head_hash, 32)) {
		msg(path, "entry %llu differs from the one journal.head signs: the"
			" journal was edited; see 'hostca ca audit --verify'",
			(unsigned long long)ca->seq);
		return EXIT_USAGE;
	}
	if (ca->seq < head_seq && head_seq != UINT64_MAX) {
		msg(path, "the journal ends at entry %llu but journal.head records entry"
			" %llu: entries were removed; see 'hostca ca audit --verify'",
			(unsigned long long)ca->seq, (unsigned long long)head_seq);
		return EXIT_USAGE;
	}
	if (ca->seq == 0 || ca->name[0] == 0) {
		msg(path, "journal has no init entry: not a CA directory");
		return EXIT_USAGE;
	}
	return 0;
}

/*
 * Adds an event: formats the line, chains its hash, applies it to the
 * state (the same code that loads the journal), and queues it for
 * journal_commit(). fields is "k=v k=v" with values already escaped.
 */
static int
journal_add(ca_ctx *ca, const char *event, const char *fields)
{
	size_t need = strlen(fields) + strlen(event) + 128;
	char *line, *work;
	unsigned char h[32];
	char hex[65];
	int n;
	jline l;

	if (ca->defer) {
		/* Applied now (the next request's decision depends on it),
		 * written by journal_flush_deferred once the certificate is
		 * signed. */
		struct deferred *d;
		if (grow((void **)&ca->dq, &ca->dq_cap, ca->ndq + 1, sizeof *ca->dq) < 0
			|| (line = malloc(need)) == NULL)
			return -1;
		n = snprintf(line, need, "%llu %lld %s%s%s", (unsigned long long)ca->seq + 1,
			(long long)g.now, event, *fields ? " " : "", fields);
		if (n < 0 || (size_t)n >= need || (work = malloc((size_t)n + 1)) == NULL) {
			free(line);
			return -1;
		}
		memcpy(work, line, (size_t)n + 1);
		if (jline_parse(&l, work) < 0 || ca_apply(ca, &l, work, SRC_NEW, 0) < 0) {
			free(work);
			free(line);
			return -1;
		}
		free(work);
		d = &ca->dq[ca->ndq++];
		d->line = line;
		d->cert = SIZE_MAX;
		ca->seq++;
		return 0;
	}
	if (grow((void **)&ca->pend, &ca->pend_cap, ca->pend_len + need, 1) < 0)
		return -1;
	line = ca->pend + ca->pend_len;
	n = snprintf(line, need, "%llu %lld %s%s%s", (unsigned long long)ca->seq + 1,
		(long long)g.now, event, *fields ? " " : "", fields);
	if (n < 0 || (size_t)n >= need || (size_t)n > MAX_JOURNAL_LINE)
		return -1;
	chain_hash(ca->head, line, (size_t)n, h);
	if ((work = malloc((size_t)n + 1)) == NULL)
		return -1;
	memcpy(work, line, (size_t)n + 1);
	if (jline_parse(&l, work) < 0
		|| ca_apply(ca, &l, work, SRC_NEW, ca->jsize + ca->pend_len) < 0) {
		free(work);
		return -1;
	}
	free(work);
	hex_encode(hex, h, 32, 0, 0);
	n += snprintf(line + n, need - (size_t)n, " h=%s\n", hex);
	/* an issue event: its certificate's entry hash, as written */
	if (strcmp(event, "issue") == 0 && ca->ncerts > 0
		&& ca->certs[ca->ncerts - 1].line_off == ca->jsize + ca->pend_len) {
		entry_hash(line, (size_t)n - 1, ca->certs[ca->ncerts - 1].ehash);
		ca->certs[ca->ncerts - 1].ehash_ok = 1;
	}
	ca->pend_len += (size_t)n;
	memcpy(ca->head, h, 32);
	ca->seq++;
	return 0;
}

/*
 * Writes the deferred events into the queue, in order, each issue event
 * now with its signed certificate, and chains their hashes.
 */
static int
journal_flush_deferred(ca_ctx *ca)
{
	size_t i;
	int r = 0;

	for (i = 0; i < ca->ndq; i++) {
		struct deferred *d = &ca->dq[i];
		size_t ll = strlen(d->line), need, n;
		cert_rec *c = d->cert != SIZE_MAX ? &ca->certs[d->cert] : NULL;
		unsigned char h[32];
		char hex[65], *line;

		if (r == 0 && c != NULL && c->der == NULL)
			r = -1;               /* a certificate that was not signed */
		need = ll + (c && c->der ? c->der_len / 3 * 4 + 16 : 0) + 80;
		if (r == 0 && grow((void **)&ca->pend, &ca->pend_cap, ca->pend_len + need, 1) < 0)
			r = -1;
		if (r == 0) {
			line = ca->pend + ca->pend_len;
			memcpy(line, d->line, ll);
			n = ll;
			if (c != NULL) {
				memcpy(line + n, " cert=", 6);
				n += 6;
				n += b64_encode(line + n, c->der, c->der_len);
				c->line_off = ca->jsize + ca->pend_len;
			}
			chain_hash(ca->head, line, n, h);
			hex_encode(hex, h, 32, 0, 0);
			n += (size_t)snprintf(line + n, need - n, " h=%s\n", hex);
			if (c != NULL) {
				entry_hash(line, n - 1, c->ehash);   /* as written */
				c->ehash_ok = 1;
			}
			ca->pend_len += n;
			memcpy(ca->head, h, 32);
		}
		free(d->line);
	}
	ca->ndq = 0;
	return r;
}

/*
 * journal.head: "SEQ HASH SIG" -- the number and chain hash of the last
 * acknowledged entry, and the CA key's signature over
 * "hostca journal head v2 SEQ HASH". The hash chain alone is unkeyed:
 * anyone who can write the directory could edit an entry and re-chain
 * everything after it. The signed head pins the whole chain to the CA
 * key. It is written (and fsynced) before a command acknowledges
 * anything, so entries after it were never acknowledged.
 */
#define HEAD_MAX 2800       /* two RSA-4096 signatures (a rollover's switch) */

static size_t
head_message(char *out, size_t cap, uint64_t seq, const unsigned char hash[32])
{
	char hex[65];

	hex_encode(hex, hash, 32, 0, 0);
	return (size_t)snprintf(out, cap, "hostca journal head v2 %llu %s",
		(unsigned long long)seq, hex);
}

/*
 * Writes journal.head signed by the CA key, and also by also when given:
 * a rollover signs the head with both keys before ca.pem changes from one
 * to the other, so that it verifies with ca.pem's key whichever ca.pem is
 * (ca_head_load takes either signature; each must be ca.pem's key's).
 */
static int
ca_write_head2(ca_ctx *ca, const hostca_key *also)
{
	char path[PATH_MAX], line[HEAD_MAX], m[128], hex[65];
	unsigned char sig[512];
	size_t ml, sl;
	int n, k;

	path_join(path, sizeof path, ca->dir, "journal.head");
	if (!ca->have_key) {
		msg(path, "cannot sign without the CA key");
		return -1;
	}
	ml = head_message(m, sizeof m, ca->seq, ca->head);
	hex_encode(hex, ca->head, 32, 0, 0);
	n = snprintf(line, sizeof line, "%llu %s", (unsigned long long)ca->seq, hex);
	for (k = 0; k < (also != NULL ? 2 : 1); k++) {
		if ((sl = key_sign(k ? also : &ca->key, m, ml, sig)) == 0) {
			msg(path, "cannot sign");
			return -1;
		}
		line[n++] = ' ';
		hex_encode(line + n, sig, sl, 0, 0);
		n += (int)(2 * sl);
	}
	line[n++] = '\n';
	if (atomic_write_sync(path, line, (size_t)n, 0600, SYNC_FULL) < 0) {
		msg_errno(path, "cannot write");
		return -1;
	}
	ca->head_seq = ca->seq;
	memcpy(ca->head_hash, ca->head, 32);
	return 0;
}

static int
ca_write_head(ca_ctx *ca)
{
	return ca_write_head2(ca, NULL);
}

/*
 * Reads journal.head and checks its signature with ca.pem's key: every
 * command does, before it trusts the journal. 0, or an exit status.
 */
static int
ca_head_load(ca_ctx *ca)
{
	char path[PATH_MAX], hx[65], sx[1100], sx2[1100], m[128];
	unsigned char *hb, sig[550], sig2[550];
	size_t hl, ml;
	unsigned long long seq;
	long sl, sl2 = 0;
	int f;

	path_join(path, sizeof path, ca->dir, "journal.head");
	if (file_read(path, HEAD_MAX, &hb, &hl) < 0) {
		msg(path, "%s: the CA cannot tell that its history is whole (if the"
			" journal is yours, 'hostca ca repair --sign-head' signs its end)",
			errno == ENOENT ? "missing" : read_errstr(errno));
		return EXIT_USAGE;
	}
	f = sscanf((char *)hb, "%llu %64s %1099s %1099s", &seq, hx, sx, sx2);
	free(hb);
	if (f == 2) {
		msg(path, "not signed (written by an older hostca, or by someone without"
			" the CA key): check the history ('hostca ca audit'), and if it is"
			" yours, sign its end with 'hostca ca repair --sign-head'");
		return EXIT_USAGE;
	}
	if ((f != 3 && f != 4) || hex_decode(ca->head_hash, 32, hx) != 32
		|| (sl = hex_decode(sig, sizeof sig, sx)) <= 0
		|| (f == 4 && (sl2 = hex_decode(sig2, sizeof sig2, sx2)) <= 0)) {
		msg(path, "damaged (see 'hostca ca repair')");
		return EXIT_USAGE;
	}
	ml = head_message(m, sizeof m, (uint64_t)seq, ca->head_hash);
	if (sig_verify(&ca->ca.pub, ca->ca.sig_alg, m, ml, sig, (size_t)sl) != 0
		&& (f != 4 || sig_verify(&ca->ca.pub, ca->ca.sig_alg, m, ml, sig2,
			(size_t)sl2) != 0)) {
		msg(path, "its signature does not verify with ca.pem: the history was"
			" rewritten without the CA key (or ca.pem was replaced); the CA"
			" refuses to work from it (see 'hostca ca audit --verify')");
		return EXIT_USAGE;
	}
	ca->head_seq = (uint64_t)seq;
	return 0;
}

static int snap_write(ca_ctx *ca);

static uint64_t
index_every(void)
{
#ifdef HOSTCA_TEST_HOOKS
	const char *e = getenv("HOSTCA_INDEX_EVERY");
	long v = e != NULL ? strtol(e, NULL, 10) : 0;
	if (v > 0)
		return (uint64_t)v;
#endif
	return INDEX_EVERY;
}

/* Makes the queued events durable: one append, one fsync. On failure
 * the journal is cut back to its old length: nothing half-written. */
static int
journal_commit(ca_ctx *ca)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	if (ca->pend_len == 0)
		return 0;
	path_join(path, sizeof path, ca->dir, "journal");
	fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		msg_errno(path, "cannot open for writing");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fault_point("journal-append");
	if (write_all(fd, ca->pend, ca->pend_len) < 0 || fsync(fd) < 0) {
		int e = errno;
		if (ftruncate(fd, st.st_size) == 0)
			(void)fsync(fd);
		close(fd);
		msg(path, "cannot write: %s; nothing was changed", strerror(e));
		return -1;
	}
	if (close(fd) < 0) {
		msg_errno(path, "cannot write");
		return -1;
	}
	fault_point("journal-committed");
	ca->jsize += ca->pend_len;
	ca->pend_len = 0;
	/* Acknowledged only once the signed head says so: a head that
	 * cannot be written (a full disk) leaves entries that the next
	 * writer removes, and the command fails. */
	if (ca_write_head(ca) < 0) {
		msg(path, "the change is not acknowledged (journal.head could not be"
			" written); the next command removes it");
		return -1;
	}
	/* Renew the index now and then (a cache: failing is not an error). */
	if (ca->index_ok && ca->seq - ca->snap.seq >= index_every() && snap_write(ca) == 0)
		ca->index_ok = 0;   /* once per command */
	return 0;
}

/* ======================================================================
 * 7b. The index: the fold of the journal, cached for large CAs
 *
 * A CA of a million certificates has a journal of a gigabyte: folding it
 * for every command would take seconds. Every INDEX_EVERY entries, a
 * writer saves the fold to index/: sorted, fixed-width text records (one
 * line each, so `cat` and `grep` read them) that a command maps and
 * binary-searches, plus index/state with the small parts of the state.
 * A command then reads only the journal after the index (its tail) and
 * loads from the index just the hosts and certificates it touches.
 *
 * The index is a cache, never the truth: index/state names the journal
 * entry it covers and that entry's hash; if they disagree, or a file is
 * missing or malformed, the command folds the whole journal instead and
 * the next writer rewrites the index. Renewing the index merges the old
 * files with what is in memory (new certificates, changed ones), so its
 * cost is a sequential rewrite, not a fold.
 *
 *   serial   SERIAL(40) OFFSET(14) V|R REASON(2) REVOKED-AT(12) NOT-AFTER(12)
 *            ENTRY-SHA256(32)
 *   req      REQUEST-SHA256(64) SERIAL(40)
 *   host     HOSTID(36) SEQ(14) SERIAL(40)
 *   name     FNV64(NAME)(16) HOSTID(36)
 *   revoked  SERIAL(40) REVOKED-AT(12) REASON(2) NOT-AFTER(12)
 *
 * Nothing of it is believed unchecked, though only a writer holds the
 * key: index/state is signed by the CA key and gives, for every 4 KiB
 * block of each file, its SHA-256 (16 bytes). A block is read and checked the first
 * time a search touches it, so a command still reads only what it needs,
 * and a block that does not match ends the command (and drops the
 * index, so that the next one folds the journal). A serial record
 * carries the SHA-256 (16 bytes) of its issue entry, which is checked
 * when the entry is read by its offset. Someone who can write the CA
 * directory but lacks the key can make the index useless, never wrong.
 * ====================================================================== */

#define IX_BLOCK 4096         /* bytes checked at once */
#define IX_BH    16           /* bytes of SHA-256 kept per block */

#define IX_SERIAL   0
#define IX_REQ      1
#define IX_HOST     2
#define IX_NAME     3
#define IX_REVOKED  4
#define IX_COUNT    5

static const char *const ix_names[IX_COUNT] = { "serial", "req", "host", "name", "revoked" };
static const size_t ix_width[IX_COUNT] = { 120, 106, 93, 54, 70 };

static size_t
ix_count(const ca_ctx *ca, int ix)
{
	return ca->snap.len[ix] / ix_width[ix];
}

static void ix_damaged(ca_ctx *ca, int ix, size_t b);

/* Reads block b of index file ix and checks it against index/state. */
static int
ix_block(ca_ctx *ca, int ix, size_t b)
{
	size_t off = b * IX_BLOCK, n = ca->snap.len[ix] - off, got = 0;
	unsigned char h[32];
	br_sha256_context c;

	if (n > IX_BLOCK)
		n = IX_BLOCK;
	while (got < n) {
		ssize_t k = pread(ca->snap.fd[ix], ca->snap.map[ix] + off + got, n - got,
			(off_t)(off + got));
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	br_sha256_init(&c);
	br_sha256_update(&c, ca->snap.map[ix] + off, n);
	br_sha256_out(&c, h);
	if (!ct_equal(h, ca->snap.bh[ix] + IX_BH * b, IX_BH))
		return -1;
	ca->snap.vok[ix][b] = 1;
	return 0;
}

/* Record i of index file ix, its blocks read and checked. */
static const char *
ix_rec(ca_ctx *ca, int ix, size_t i)
{
	size_t a = i * ix_width[ix], b;

	for (b = a / IX_BLOCK; b <= (a + ix_width[ix] - 1) / IX_BLOCK; b++)
		if (!ca->snap.vok[ix][b] && ix_block(ca, ix, b) < 0)
			ix_damaged(ca, ix, b);
	return (const char *)ca->snap.map[ix] + a;
}

/* Every block of every file (ca check); -1 at the first bad one. */
static int
ix_check_all(ca_ctx *ca, int *ix_out, size_t *b_out)
{
	int ix;
	size_t b;

	for (ix = 0; ix < IX_COUNT; ix++)
		for (b = 0; b * IX_BLOCK < ca->snap.len[ix]; b++)
			if (!ca->snap.vok[ix][b] && ix_block(ca, ix, b) < 0) {
				*ix_out = ix;
				*b_out = b;
				return -1;
			}
	return 0;
}

/* The first record whose key is not below key. */
static size_t
ix_lower(ca_ctx *ca, int ix, const char *key, size_t klen)
{
	size_t lo = 0, hi = ix_count(ca, ix);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(ix_rec(ca, ix, mid), key, klen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The record with exactly this key, or NULL. */
static const char *
ix_find(ca_ctx *ca, int ix, const char *key, size_t klen)
{
	size_t i = ix_lower(ca, ix, key, klen);

	if (i < ix_count(ca, ix) && memcmp(ix_rec(ca, ix, i), key, klen) == 0)
		return ix_rec(ca, ix, i);
	return NULL;
}

/* A fixed-width decimal field (zero-padded). */
static int64_t
ix_num(const char *p, size_t n)
{
	int64_t v = 0;
	int neg = 0;

	for (; n > 0; n--, p++) {
		if (*p == '-')
			neg = 1;
		else if (*p >= '0' && *p <= '9')
			v = v * 10 + (*p - '0');
	}
	return neg ? -v : v;
}

/* An index key back into a serial (leading zero bytes dropped). */
static int
ix_serial(const char *k, unsigned char out[20], size_t *len)
{
	size_t i, z = 0;
	int seen = 0;

	/* the index writes uppercase hex only: anything else is damage */
	static const signed char val[128] = {
		['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
		['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10, ['A'] = 11, ['B'] = 12,
		['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16 };

	for (i = 0; i < 20; i++) {
		unsigned char ca = (unsigned char)k[2 * i], cb = (unsigned char)k[2 * i + 1];
		int a, b;
		if (ca >= 128 || cb >= 128 || val[ca] == 0 || val[cb] == 0)
			return -1;
		a = val[ca] - 1;
		b = val[cb] - 1;
		if (!seen && a == 0 && b == 0 && i < 19)
			continue;
		seen = 1;
		out[z++] = (unsigned char)(a << 4 | b);
	}
	*len = z;
	return 0;
}

/* Serial as its index key: 40 hex digits, zero-padded. */
static void
serial_key(char out[41], const unsigned char *s, size_t len)
{
	unsigned char b[20];

	memset(b, 0, sizeof b);
	memcpy(b + 20 - len, s, len);
	hex_encode(out, b, 20, 1, 0);
}

static uint64_t
fnv64(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	while (n--)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

/* The SHA-256 (16 bytes) of an entry as the index records it: over the
 * line, its chain hash included, without the newline. */
static void
entry_hash(const char *line, size_t len, unsigned char out[16])
{
	unsigned char h[32];
	br_sha256_context c;

	br_sha256_init(&c);
	br_sha256_update(&c, line, len);
	br_sha256_out(&c, h);
	memcpy(out, h, 16);
}

/* Reads the journal entry that starts at off (without its hash) into a
 * fresh NUL-terminated buffer, if its SHA-256 is want (hex, 32 digits:
 * the serial record's; NULL: not checked, for the index's writer). */
static char *
journal_read_entry(ca_ctx *ca, uint64_t off, const char *want, unsigned char got[16])
{
	size_t cap = MAX_JOURNAL_LINE + 80;
	char *b = malloc(cap + 1), *nl;
	unsigned char w[16], h[16];
	ssize_t k;

	if (b == NULL)
		return NULL;
	k = pread(ca->jfd, b, cap, (off_t)off);
	if (k <= 0 || (nl = memchr(b, '\n', (size_t)k)) == NULL || nl - b < 68) {
		free(b);
		return NULL;
	}
	entry_hash(b, (size_t)(nl - b), h);
	if (want != NULL) {
		char hx[33];
		memcpy(hx, want, 32);
		hx[32] = 0;
		if (hex_decode(w, 16, hx) != 16 || !ct_equal(w, h, 16)) {
			free(b);
			return NULL;
		}
	}
	if (got != NULL)
		memcpy(got, h, 16);
	nl[-67] = 0;                    /* cut " h=HASH" */
	return b;
}

/* An entry read through the index that is not the one its record names. */
static int
snap_entry_bad(const ca_ctx *ca, uint64_t off)
{
	msg(ca->dir, "journal entry at byte %llu is not the one index/serial.%llu"
		" names (the journal was edited); run 'hostca ca audit --verify'",
		(unsigned long long)off, (unsigned long long)ca->snap.seq);
	return -1;
}

/* Loads a host and all its certificates from the index; 1 if found. */
static int
snap_load_host(ca_ctx *ca, const char *hostid)
{
	size_t i = ix_lower(ca, IX_HOST, hostid, HOSTCA_UUID_LEN), n = ix_count(ca, IX_HOST), hi;
	host_rec *h;

	if (i >= n || memcmp(ix_rec(ca, IX_HOST, i), hostid, HOSTCA_UUID_LEN) != 0)
		return 0;
	/* The host first, so that loading its certificates finds it. */
	if (grow((void **)&ca->hosts, &ca->hosts_cap, ca->nhosts + 1, sizeof *ca->hosts) < 0)
		return -1;
	hi = ca->nhosts++;
	h = &ca->hosts[hi];
	memset(h, 0, sizeof *h);
	memcpy(h->hostid, hostid, HOSTCA_UUID_LEN);
	h->last = SIZE_MAX;
	h->from_snap = 1;
	if (imap_put(&ca->by_host, (const unsigned char *)h->hostid, HOSTCA_UUID_LEN,
		hi, key_host, ca) < 0)
		return -1;
	for (; i < n && memcmp(ix_rec(ca, IX_HOST, i), hostid, HOSTCA_UUID_LEN) == 0; i++) {
		const char *sr = ix_find(ca, IX_SERIAL, ix_rec(ca, IX_HOST, i) + 52, 40);
		char *line;
		jline l;
		uint64_t off;
		cert_rec *c;
		if (sr == NULL)
			return -1;
		off = (uint64_t)ix_num(sr + 41, 14);
		if ((line = journal_read_entry(ca, off, sr + 87, NULL)) == NULL)
			return snap_entry_bad(ca, off);
		if (jline_parse(&l, line) < 0 || strcmp(l.event, "issue") != 0
			|| ca_apply_issue(ca, &l, line, SRC_INDEX, off) < 0) {
			free(line);
			return -1;
		}
		free(line);
		c = &ca->certs[ca->ncerts - 1];
		{
			char hx[33];
			memcpy(hx, sr + 87, 32);
			hx[32] = 0;
			c->ehash_ok = hex_decode(c->ehash, 16, hx) == 16;
		}
		if (sr[56] == 'R') {
			c->revoked = 1;
			c->reason = (int)ix_num(sr + 58, 2);
			c->rev_at = ix_num(sr + 61, 12);
		}
	}
	return 1;
}

static int
snap_load_serial(ca_ctx *ca, const unsigned char *s, size_t len)
{
	char key[41], *line, *hp;
	const char *sr;
	int r = 0;

	serial_key(key, s, len);
	if ((sr = ix_find(ca, IX_SERIAL, key, 40)) == NULL)
		return 0;
	if ((line = journal_read_entry(ca, (uint64_t)ix_num(sr + 41, 14), sr + 87, NULL)) == NULL)
		return snap_entry_bad(ca, (uint64_t)ix_num(sr + 41, 14));
	if ((hp = strstr(line, " host=")) != NULL) {
		hp[6 + HOSTCA_UUID_LEN] = 0;
		if (hostca_uuid_check(hp + 6)
			&& imap_get(&ca->by_host, (const unsigned char *)hp + 6,
				HOSTCA_UUID_LEN, key_host, ca) == SIZE_MAX)
			r = snap_load_host(ca, hp + 6);
	}
	free(line);
	return r;
}

static int
snap_load_req(ca_ctx *ca, const unsigned char req[32])
{
	char key[65];
	unsigned char s[20];
	size_t sl;
	const char *rr;
	char sk[41];

	hex_encode(key, req, 32, 0, 0);
	if ((rr = ix_find(ca, IX_REQ, key, 64)) == NULL)
		return 0;
	memcpy(sk, rr + 65, 40);
	sk[40] = 0;
	if (serial_parse(sk, s, &sl) < 0)
		return -1;
	return snap_load_serial(ca, s, sl);
}

/* Loads every host the index lists under this name (candidates). */
static void
snap_load_name(ca_ctx *ca, const char *name)
{
	char key[17], id[HOSTCA_UUID_LEN + 1];
	size_t i, n;

	if (!ca->snap.ok)
		return;
	snprintf(key, sizeof key, "%016llx", (unsigned long long)fnv64(name, strlen(name)));
	n = ix_count(ca, IX_NAME);
	for (i = ix_lower(ca, IX_NAME, key, 16); i < n
		&& memcmp(ix_rec(ca, IX_NAME, i), key, 16) == 0; i++) {
		memcpy(id, ix_rec(ca, IX_NAME, i) + 17, HOSTCA_UUID_LEN);
		id[HOSTCA_UUID_LEN] = 0;
		ca_find_host(ca, id);
	}
}

static void
snap_close(ca_ctx *ca)
{
	int i;

	for (i = 0; i < IX_COUNT; i++) {
		if (ca->snap.map[i] != NULL)
			close(ca->snap.fd[i]);
		free(ca->snap.map[i]);
		free(ca->snap.bh[i]);
		free(ca->snap.vok[i]);
	}
	memset(&ca->snap, 0, sizeof ca->snap);
}

/*
 * Opens the index: index/state, checked against the journal entry it
 * names, and the five files mapped. 0 when usable; -1 otherwise (the
 * caller folds the whole journal).
 */
static int
snap_open(ca_ctx *ca)
{
	char path[PATH_MAX], name[64], *text, *line, *save = NULL, hx[65];
	unsigned char *data;
	size_t dl, i;
	unsigned long long seq = 0, off = 0, sizes[IX_COUNT];
	int have_at = 0, have_files = 0, have_end = 0, have_version = 0, have_blocks = 0;
	struct stat st;

	memset(&ca->snap, 0, sizeof ca->snap);
	path_join(path, sizeof path, ca->dir, "index/state");
	if (file_read(path, 16 << 20, &data, &dl) < 0)
		return -1;
	/* index/state ends with the CA key's signature over all before it:
	 * what it says (tokens and their uses, bad keys, windows, the CRL)
	 * is taken only from a writer that held the key. */
	{
		unsigned char *sl = NULL, sig[550];
		long n;
		size_t k;
		for (k = dl >= 6 ? dl - 6 : 0; dl >= 6; k--) {
			if (memcmp(data + k, "\nsig ", 5) == 0) {
				sl = data + k;
				break;
			}
			if (k == 0)
				break;
		}
		if (sl == NULL || data[dl - 1] != '\n') {
			free(data);
			return -1;
		}
		data[dl - 1] = 0;
		n = hex_decode(sig, sizeof sig, (char *)sl + 5);
		if (n <= 0 || sig_verify(&ca->ca.pub, ca->ca.sig_alg, data,
			(size_t)(sl - data) + 1, sig, (size_t)n) != 0) {
			free(data);
			return -1;
		}
		sl[1] = 0;                /* the signed part only */
	}
	text = (char *)data;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char w[32];
		if (sscanf(line, "%31s", w) != 1)
			continue;
		if (strcmp(w, "hostca-index") == 0) {
			/* version 3: block hashes, entry hashes in serial records */
			have_version = strcmp(line, "hostca-index 3") == 0;
		} else if (strcmp(w, "at") == 0) {
			have_at = sscanf(line, "at %llu %llu %64s", &seq, &off, hx) == 3
				&& hex_decode(ca->snap.hash, 32, hx) == 32;
		} else if (strcmp(w, "counts") == 0) {
			unsigned long long a, b, c;
			if (sscanf(line, "counts %llu %llu %llu", &a, &b, &c) == 3) {
				ca->snap.ncerts = (size_t)a;
				ca->snap.nhosts = (size_t)b;
				ca->nrevoked = ca->snap.nrevoked = (size_t)c;
			}
		} else if (strcmp(w, "files") == 0) {
			have_files = sscanf(line, "files %llu %llu %llu %llu %llu", &sizes[0],
				&sizes[1], &sizes[2], &sizes[3], &sizes[4]) == 5;
			for (i = 0; have_files && i < IX_COUNT; i++) {
				size_t nb = (size_t)((sizes[i] + IX_BLOCK - 1) / IX_BLOCK);
				if (sizes[i] > (1ull << 40) || (ca->snap.bh[i] = malloc(nb * IX_BH + 1)) == NULL
					|| (ca->snap.vok[i] = calloc(nb + 1, 1)) == NULL)
					goto bad_text;
			}
		} else if (strcmp(w, "blocks") == 0) {
			/* "blocks IX HASH..." (after "files"): each block's SHA-256 */
			unsigned ixn;
			size_t nb, hl;
			char *hs;
			if (!have_files || sscanf(line, "blocks %u", &ixn) != 1 || ixn >= IX_COUNT
				|| (hs = strchr(line + 7, ' ')) == NULL)
				goto bad_text;
			hs++;
			nb = (size_t)((sizes[ixn] + IX_BLOCK - 1) / IX_BLOCK);
			hl = strlen(hs);
			if (hl != nb * 2 * IX_BH || (nb > 0 && hex_decode(ca->snap.bh[ixn],
				nb * IX_BH, hs) != (long)(nb * IX_BH)))
				goto bad_text;
			have_blocks |= 1 << ixn;
		} else if (strcmp(w, "event") == 0) {
			/* the small state, as journal events of its own */
			jline l;
			if (jline_parse(&l, line + 6) < 0 || ca_apply(ca, &l, line + 6, SRC_NEW, 0) < 0) {
				free(data);
				return -1;
			}
		} else if (strcmp(w, "end") == 0) {
			have_end = 1;
		}
	}
	free(data);
	if (!have_version || !have_at || !have_files || !have_end || seq == 0
		|| have_blocks != (1 << IX_COUNT) - 1)
		goto bad;
	/* The entry it covers must be the journal's, hash and all. */
	{
		char tail[68];
		if (pread(ca->jfd, tail, 68, (off_t)off - 68) != 68 || memcmp(tail, " h=", 3) != 0
			|| tail[67] != '\n')
			goto bad;
		memcpy(hx, tail + 3, 64);
		hx[64] = 0;
		{
			unsigned char h[32];
			if (hex_decode(h, 32, hx) != 32 || !ct_equal(h, ca->snap.hash, 32))
				goto bad;
		}
	}
	for (i = 0; i < IX_COUNT; i++) {
		int fd;
		snprintf(name, sizeof name, "index/%s.%llu", ix_names[i], seq);
		path_join(path, sizeof path, ca->dir, name);
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			goto bad;
		if (fstat(fd, &st) < 0 || (unsigned long long)st.st_size != sizes[i]
			|| sizes[i] % ix_width[i] != 0) {
			close(fd);
			goto bad;
		}
		ca->snap.len[i] = (size_t)sizes[i];
		/* room for the whole file; blocks are read into it when a
		 * search first touches them (ix_rec) */
		if (sizes[i] == 0 || (ca->snap.map[i] = malloc((size_t)sizes[i])) == NULL) {
			close(fd);
			if (sizes[i] == 0)
				continue;
			goto bad;
		}
		ca->snap.fd[i] = fd;
	}
	ca->snap.seq = seq;
	ca->snap.off = off;
	ca->snap.ok = 1;
	return 0;
bad_text:
	free(data);
bad:
	snap_close(ca);
	return -1;
}

/* A block of the index that index/state does not vouch for: the index
 * goes (the next command folds the journal), and so does this command,
 * which may have searched it already. */
static void
snap_stop(ca_ctx *ca)
{
	char path[PATH_MAX];

	path_join(path, sizeof path, ca->dir, "index/state");
	unlink(path);
	msg(ca->dir, "the index is dropped and the command stops here (what it"
		" committed before is in the journal): run it again; it reads the"
		" whole journal, and the next writer rebuilds the index");
	exit(json_end(EXIT_USAGE));
}

static void
ix_damaged(ca_ctx *ca, int ix, size_t b)
{
	msg(ca->dir, "index/%s.%llu: block %zu is not what the signed index/state"
		" says (the file was edited or damaged)", ix_names[ix],
		(unsigned long long)ca->snap.seq, b + 1);
	snap_stop(ca);
}

/* ---- Writing the index ---- */

typedef struct {
	FILE *f;
	char tmp[PATH_MAX];
	int err;
	br_sha256_context h;         /* of the block being written */
	size_t inblk;                /* its bytes so far */
	unsigned char *bh;           /* the finished blocks' hashes */
	size_t nb, cap;
} ix_out;

static int
ix_out_open(ix_out *o, const char *path)
{
	int fd;

	o->err = 0;
	o->f = NULL;
	o->bh = NULL;
	o->nb = o->cap = o->inblk = 0;
	br_sha256_init(&o->h);
	if ((size_t)snprintf(o->tmp, sizeof o->tmp, "%s.tmp-" MKSTEMP_X, path) >= sizeof o->tmp
		|| (fd = mkstemp(o->tmp)) < 0)
		return -1;
	if (fchmod(fd, 0600) < 0 || (o->f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(o->tmp);
		return -1;
	}
	return 0;
}

/* Ends the block being hashed. */
static void
ix_out_block(ix_out *o)
{
	unsigned char h[32];

	if (o->err || grow((void **)&o->bh, &o->cap, (o->nb + 1) * IX_BH, 1) < 0) {
		o->err = 1;
		return;
	}
	br_sha256_out(&o->h, h);
	memcpy(o->bh + IX_BH * o->nb++, h, IX_BH);
	br_sha256_init(&o->h);
	o->inblk = 0;
}

static void
ix_out_put(ix_out *o, const char *rec, size_t len)
{
	if (!o->err && fwrite(rec, 1, len, o->f) != len)
		o->err = 1;
	while (len > 0 && !o->err) {
		size_t n = IX_BLOCK - o->inblk < len ? IX_BLOCK - o->inblk : len;
		br_sha256_update(&o->h, rec, n);
		o->inblk += n;
		rec += n;
		len -= n;
		if (o->inblk == IX_BLOCK)
			ix_out_block(o);
	}
}

/* Flushes, fsyncs and closes; renames to path. */
static int
ix_out_close(ix_out *o, const char *path)
{
	int r;

	if (o->inblk > 0)
		ix_out_block(o);
	r = o->err;
	if (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0)
		r = 1;
	if (fclose(o->f) != 0)
		r = 1;
	if (r || rename(o->tmp, path) < 0) {
		unlink(o->tmp);
		return -1;
	}
	return 0;
}

/* In-memory records in index order. */
typedef struct {
	char rec[128];
} ix_line;

static int
ix_line_cmp(const void *a, const void *b)
{
	return strcmp(((const ix_line *)a)->rec, ((const ix_line *)b)->rec);
}

static void
rec_serial(char *out, const cert_rec *c)
{
	char k[41];

	serial_key(k, c->serial, c->serial_len);
	char eh[33];

	hex_encode(eh, c->ehash, 16, 0, 0);
	snprintf(out, 128, "%s %014llu %c %02d %012lld %012lld %s\n", k,
		(unsigned long long)c->line_off, c->revoked ? 'R' : 'V',
		c->revoked ? c->reason : 0, (long long)(c->revoked ? c->rev_at : 0),
		(long long)c->na, eh);
}

/*
 * Writes one index file: the old records that memory does not replace
 * (skip() says which), merged with the new records from memory (sorted).
 */
static int
ix_merge(ca_ctx *ca, int ix, uint64_t seq, ix_line *mem, size_t nmem,
	int (*skip)(ca_ctx *ca, const char *rec), unsigned char **bh, size_t *nb)
{
	char path[PATH_MAX], name[64];
	size_t i = 0, k = 0, n = ca->snap.ok ? ix_count(ca, ix) : 0, w = ix_width[ix];
	ix_out o;

	snprintf(name, sizeof name, "index/%s.%llu", ix_names[ix], (unsigned long long)seq);
	path_join(path, sizeof path, ca->dir, name);
	if (nmem > 1)
		qsort(mem, nmem, sizeof *mem, ix_line_cmp);
	if (ix_out_open(&o, path) < 0)
		return -1;
	while (i < n || k < nmem) {
		const char *old = i < n ? ix_rec(ca, ix, i) : NULL;
		if (old != NULL && skip != NULL && skip(ca, old)) {
			i++;
			continue;
		}
		if (old != NULL && (k >= nmem || memcmp(old, mem[k].rec, w) <= 0)) {
			ix_out_put(&o, old, w);
			i++;
		} else {
			ix_out_put(&o, mem[k].rec, w);
			k++;
		}
	}
	if (ix_out_close(&o, path) < 0) {
		free(o.bh);
		return -1;
	}
	*bh = o.bh;
	*nb = o.nb;
	return 0;
}

/* Old records that memory replaces: by serial, or by host. */
static int
skip_mem_serial(ca_ctx *ca, const char *rec)
{
	unsigned char s[20];
	size_t sl;
	char k[41];

	memcpy(k, rec, 40);
	k[40] = 0;
	return serial_parse(k, s, &sl) == 0
		&& imap_get(&ca->by_serial, s, sl, key_serial, ca) != SIZE_MAX;
}

static int
skip_mem_host(ca_ctx *ca, const char *rec)
{
	return imap_get(&ca->by_host, (const unsigned char *)rec + 17, HOSTCA_UUID_LEN,
		key_host, ca) != SIZE_MAX;
}

/*
 * Renews the index so that it covers the whole journal (nothing may be
 * pending). The files get the new entry number as suffix; index/state,
 * written last, switches to them; the old ones are removed.
 */
static int
snap_write(ca_ctx *ca)
{
	char path[PATH_MAX], name[64], hx[65], *st = NULL;
	size_t i, k, nm, stlen = 0, stcap = 0;
	ix_line *mem = NULL;
	uint64_t seq = ca->seq, oldseq = ca->snap.ok ? ca->snap.seq : 0;
	unsigned long long sizes[IX_COUNT];
	unsigned char *bh[IX_COUNT] = { NULL };
	size_t nb[IX_COUNT] = { 0 };
	struct stat sb;
	int r = -1, ix;

	if (ca->pend_len != 0)
		return -1;
	/* each certificate's issue entry hash, for its serial record: from
	 * the bytes the fold checked or this command wrote, or the index's
	 * own record -- never read back from the journal, which someone may
	 * have changed since (an index is not written without them all) */
	for (i = 0; i < ca->ncerts; i++)
		if (!ca->certs[i].ehash_ok)
			return -1;
	path_join(path, sizeof path, ca->dir, "index");
	if (mkdir_ok(path, 0700) < 0)
		return -1;
	/* room for the largest file's records: one per certificate, or one
	 * per name of each host's newest certificate */
	for (i = 0, k = ca->ncerts; i < ca->nhosts; i++) {
		const char *p = ca->certs[ca->hosts[i].last].names;
		k += *p != 0;
		for (; *p; p++)
			k += *p == ',';
	}
	if ((mem = malloc((k + 1) * sizeof *mem)) == NULL)
		return -1;
	for (ix = 0; ix < IX_COUNT; ix++) {
		nm = 0;
		for (i = 0; i < ca->ncerts; i++) {
			const cert_rec *c = &ca->certs[i];
			char sk[41], rq[65];
			switch (ix) {
			case IX_SERIAL:
				rec_serial(mem[nm++].rec, c);
				break;
			case IX_REQ:
				if (c->from_snap)
					break;
				serial_key(sk, c->serial, c->serial_len);
				hex_encode(rq, c->req, 32, 0, 0);
				snprintf(mem[nm++].rec, 128, "%s %s\n", rq, sk);
				break;
			case IX_HOST:
				if (c->from_snap)
					break;
				serial_key(sk, c->serial, c->serial_len);
				snprintf(mem[nm++].rec, 128, "%s %014llu %s\n", c->hostid,
					(unsigned long long)c->seq, sk);
				break;
			case IX_NAME:
				if (ca->hosts[c->host].last != i)
					break;
				{
					const char *p = c->names;
					while (*p) {
						size_t l = strcspn(p, ",");
						snprintf(mem[nm++].rec, 128, "%016llx %s\n",
							(unsigned long long)fnv64(p, l), c->hostid);
						p += l;
						if (*p == ',')
							p++;
					}
				}
				break;
			case IX_REVOKED:
				if (!c->revoked)
					break;
				serial_key(sk, c->serial, c->serial_len);
				snprintf(mem[nm++].rec, 128, "%s %012lld %02d %012lld\n", sk,
					(long long)c->rev_at, c->reason, (long long)c->na);
				break;
			}
		}
		if (ix_merge(ca, ix, seq, mem, nm, ix == IX_SERIAL || ix == IX_REVOKED
			? skip_mem_serial : ix == IX_NAME ? skip_mem_host : NULL, &bh[ix], &nb[ix]) < 0)
			goto out;
		snprintf(name, sizeof name, "index/%s.%llu", ix_names[ix], (unsigned long long)seq);
		path_join(path, sizeof path, ca->dir, name);
		if (stat(path, &sb) < 0)
			goto out;
		sizes[ix] = (unsigned long long)sb.st_size;
	}
	/* index/state: where it stands, the counts, and the small state as
	 * events that the journal's own code applies. */
	{
		char line[2048], en[3 * MAX_CA_NAME + 1], er[3 * MAX_REASON_TEXT + 1];
		char tn[3 * MAX_TOKEN_NAME + 1], th[65], ts[33];
		int nl;
#define ST_PUT(...) do { nl = snprintf(line, sizeof line, __VA_ARGS__); \
	if (nl < 0 || grow((void **)&st, &stcap, stlen + (size_t)nl + 1, 1) < 0) goto out; \
	memcpy(st + stlen, line, (size_t)nl); stlen += (size_t)nl; } while (0)
		hex_encode(hx, ca->head, 32, 0, 0);
		ST_PUT("hostca-index 3\n");
		ST_PUT("at %llu %llu %s\n", (unsigned long long)seq,
			(unsigned long long)ca->jsize, hx);
		ST_PUT("counts %llu %llu %llu\n",
			(unsigned long long)(ca->snap.ncerts + ca->new_certs),
			(unsigned long long)(ca->snap.nhosts + ca->new_hosts),
			(unsigned long long)ca->nrevoked);
		ST_PUT("files %llu %llu %llu %llu %llu\n", sizes[0], sizes[1], sizes[2],
			sizes[3], sizes[4]);
		for (ix = 0; ix < IX_COUNT; ix++) {
			/* "blocks IX HASH...": what each block of the file must hash to */
			size_t b;
			ST_PUT("blocks %d ", ix);
			if (grow((void **)&st, &stcap, stlen + nb[ix] * 2 * IX_BH + 2, 1) < 0)
				goto out;
			for (b = 0; b < nb[ix]; b++)
				hex_encode(st + stlen + 2 * IX_BH * b, bh[ix] + IX_BH * b, IX_BH, 0, 0);
			stlen += nb[ix] * 2 * IX_BH;
			st[stlen++] = '\n';
		}
		hex_encode(th, ca->ca_fp_rec, 32, 0, 0);
		ST_PUT("event 0 %lld init name=%s key=%s security=%d cert-days=%lld crl-days=%lld"
			" token-valid=%lld backdate=%lld%s%s\n", (long long)ca->created,
			esc(en, sizeof en, ca->name), hostca_key_type_name(ca->key_type)
			? hostca_key_type_name(ca->key_type) : "-", ca->security,
			(long long)ca->cert_days, (long long)ca->crl_days,
			(long long)ca->token_valid, (long long)ca->backdate,
			ca->have_fp_rec ? " fp=" : "", ca->have_fp_rec ? th : "");
		ST_PUT("event 0 0 crl number=%llu this=%lld next=%lld dirty=%d keep=%lld"
			" at=%lld\n", (unsigned long long)ca->crl_number, (long long)ca->crl_this,
			(long long)ca->crl_next, ca->crl_dirty, (long long)ca->crl_keep,
			(long long)ca->crl_at);
		for (i = 0; i < ca->ntokens; i++) {
			const token_rec *t = &ca->tokens[i];
			hex_encode(th, t->v2 ? t->wk : t->hash, 32, 0, 0);
			if (t->v2)
				hex_encode(ts, t->id, TOKEN_ID_LEN, 0, 0);
			else
				hex_encode(ts, t->salt, 16, 0, 0);
			ST_PUT("event 0 %lld token name=%s kind=%s %s=%s %s=%s max=%u"
				" expires=%lld%s%s reason=%s uses=%u deleted=%d forgotten=%d"
				" consumed=%d\n",
				(long long)t->created, esc(tn, sizeof tn, t->name),
				t->kind == TOK_REISSUE ? "reissue" : "auth",
				t->v2 ? "wk" : "hash", th, t->v2 ? "id" : "salt", ts, t->max,
				(long long)t->expires, t->hostid[0] ? " host=" : "", t->hostid,
				esc(er, sizeof er, t->reason), t->uses, t->deleted, t->forgotten,
				t->consumed);
		}
		/* reissue windows still open, and the bad keys (I1) */
		for (i = 0; i < ca->nwindows; i++) {
			const struct window *w = &ca->windows[i];
			if (w->until < g.now)
				continue;
			hex_encode(th, w->keyfp, 32, 0, 0);
			ST_PUT("event 0 0 allow-reissue host=%s until=%lld level=%d%s%s\n",
				w->hostid, (long long)w->until, w->level,
				w->has_key ? " key=" : "", w->has_key ? th : "");
		}
		for (i = 0; i < ca->badkeys.n; i++) {
			hex_encode(th, ca->badkeys.v[i], 32, 0, 0);
			ST_PUT("event 0 0 badkey keyfp=%s\n", th);
		}
		/* the rollovers: every link, every old CA certificate (with
		 * a retired key's last CRL), the one in progress */
#define ST_B64(d, dl) do { \
	if (grow((void **)&st, &stcap, stlen + (dl) / 3 * 4 + 8, 1) < 0) \
		goto out; \
	stlen += b64_encode(st + stlen, (d), (dl)); \
} while (0)
		for (i = 0; i < ca->nlinks; i++) {
			ST_PUT("event 0 0 ca-link link=");
			ST_B64(ca->links[i].der, ca->links[i].len);
			ST_PUT("\n");
		}
		for (i = 0; i < ca->nolds; i++) {
			if (ca->olds[i].crl != NULL) {
				ST_PUT("event 0 0 ca-link crl=");
				ST_B64(ca->olds[i].crl, ca->olds[i].crl_len);
				ST_PUT(" old=");
			} else {
				ST_PUT("event 0 0 ca-link old=");
			}
			ST_B64(ca->olds[i].der, ca->olds[i].len);
			ST_PUT("\n");
		}
		if (ca->rolling) {
			hex_encode(th, ca->prev_fp, 32, 0, 0);
			ST_PUT("event 0 0 ca-rollover rseq=%llu prev=%s prevcert=",
				(unsigned long long)ca->roll_seq, th);
			ST_B64(ca->prev_der, ca->prev_len);
			ST_PUT("\n");
		}
		if (ca->renew_der != NULL) {
			/* the last renewal's certificate: a writer that finds
			 * ca.pem behind it writes it from here */
			hex_encode(th, ca->ca_fp_rec, 32, 0, 0);
			ST_PUT("event 0 0 ca-renew fp=%s cert=", th);
			ST_B64(ca->renew_der, ca->renew_len);
			ST_PUT("\n");
		}
		for (i = 0; i < ca->nshares; i++) {
			char sn[3 * HOSTCA_MAX_NAME_LEN + 1];
			if (strlen(ca->shares[i].hosts) + 80 + sizeof sn > sizeof line)
				goto out;    /* (ca share keeps a share far smaller) */
			ST_PUT("event 0 0 share name=%s hosts=%s\n",
				esc(sn, sizeof sn, ca->shares[i].name), ca->shares[i].hosts);
		}
		for (i = 0; i < ca->refused.n; i++) {
			hex_encode(th, ca->refused.v[i], 32, 0, 0);
			ST_PUT("event 0 0 refuse req=%s\n", th);
		}
		ST_PUT("end\n");
#undef ST_B64
#undef ST_PUT
		/* signed by the CA key (snap_open checks it with ca.pem) */
		{
			unsigned char sig[512];
			size_t sn = ca->have_key ? key_sign(&ca->key, st, stlen, sig) : 0;
			if (sn == 0 || grow((void **)&st, &stcap, stlen + 2 * sn + 8, 1) < 0)
				goto out;
			memcpy(st + stlen, "sig ", 4);
			hex_encode(st + stlen + 4, sig, sn, 0, 0);
			stlen += 4 + 2 * sn;
			st[stlen++] = '\n';
		}
	}
	path_join(path, sizeof path, ca->dir, "index/state");
	if (atomic_write(path, st, stlen, 0600) < 0)
		goto out;
	/* the old files are no longer named by anything */
	for (ix = 0; oldseq != 0 && oldseq != seq && ix < IX_COUNT; ix++) {
		snprintf(name, sizeof name, "index/%s.%llu", ix_names[ix], (unsigned long long)oldseq);
		path_join(path, sizeof path, ca->dir, name);
		unlink(path);
	}
	r = 0;
out:
	for (ix = 0; ix < IX_COUNT; ix++)
		free(bh[ix]);
	free(mem);
	free(st);
	return r;
}

/* ---- Lock ---- */

/*
 * One writer at a time, any number of readers: flock() on the CA
 * directory itself, which no one can delete or swap under a running
 * writer (a lock file could be, and a second writer would lock the new
 * one). The kernel drops the lock with its process: a lock is never
 * stale. The file "lock" only says who holds it, and whether the last
 * writer finished (it empties the file then).
 */
static int
ca_lock(ca_ctx *ca, int write)
{
	char path[PATH_MAX], info[256];
	int waited = 0, limit = 100;   /* tenths of a second */
	const char *w = getenv("HOSTCA_LOCK_WAIT");

	if (w != NULL && *w)
		limit = (int)strtol(w, NULL, 10) * 10;
	if ((ca->dir_fd = open(ca->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		msg_errno(ca->dir, "cannot open the CA directory");
		return -1;
	}
	for (;;) {
		if (flock(ca->dir_fd, (write ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			msg_errno(ca->dir, "cannot lock");
			return -1;
		}
		if (waited >= limit) {
			int fd;
			ssize_t k = -1;
			char *nl;
			path_join(path, sizeof path, ca->dir, "lock");
			if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
				k = read(fd, info, sizeof info - 1);
				close(fd);
			}
			info[k > 0 ? k : 0] = 0;
			if ((nl = strchr(info, '\n')) != NULL)
				*nl = 0;
			msg(ca->dir, "the CA is busy: %s holds it; waited %d s. A lock"
				" is never stale: it goes with the process that holds it, so"
				" wait for that command (or stop it); deleting files frees"
				" nothing", info[0] ? info : "another hostca command", limit / 10);
			return -1;
		}
		if (waited == 10)
			note(ca->dir, "waiting for another hostca command to finish...");
		{
			struct timespec ts = { 0, 100000000L };
			nanosleep(&ts, NULL);
		}
		waited++;
	}
	if (write) {
		char t[32], c;
		int n;
		path_join(path, sizeof path, ca->dir, "lock");
		ca->lock_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (ca->lock_fd < 0) {
			msg_errno(path, "cannot open");
			return -1;
		}
		/* A writer empties the lock file when it finishes; what is still
		 * there was left by one that did not (a crash, a kill). */
		ca->unclean = pread(ca->lock_fd, &c, 1, 0) == 1;
		if (ca->unclean) {
			/* its temporary files go: one may hold a copy of ca.key */
			DIR *d = fdopendir(dup(ca->dir_fd));
			struct dirent *de;
			while (d != NULL && (de = readdir(d)) != NULL) {
				struct stat st;
				if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp-") != NULL
					&& fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
					&& S_ISREG(st.st_mode) && unlinkat(dirfd(d), de->d_name, 0) == 0)
					note(ca->dir, "removed %s: left by an interrupted command",
						de->d_name);
			}
			if (d != NULL)
				closedir(d);
		}
		n = snprintf(info, sizeof info, "hostca %s (process %ld, since %s)\n",
			g.cmd ? g.cmd : "", (long)getpid(), time_iso(t, (int64_t)time(NULL)));
		if (ftruncate(ca->lock_fd, 0) < 0 || pwrite(ca->lock_fd, info, (size_t)n, 0) < 0)
			(void)0;   /* only informative */
	}
	ca->writing = write;
	return 0;
}

/* ---- Passphrases and the encrypted CA key (PKCS#8 PBES2) ---- */

/* Reads the passphrase: --passphrase-file / HOSTCA_PASSPHRASE_FILE, or
 * the terminal without echo. No terminal and no file: refused. */
/* Reads a line from the terminal without echo; -1 if there is none. */
static int
tty_secret(int fd, const char *prompt, char *dst, size_t cap)
{
	struct termios old, t;
	ssize_t k;

	/* echo off first (and what was typed before the prompt dropped), then
	 * the prompt: nothing typed after it shows, nothing is lost */
	if (tcgetattr(fd, &old) < 0)
		return -1;
	t = old;
	t.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fd, TCSAFLUSH, &t);
	if (write(fd, prompt, strlen(prompt)) < 0) {
		tcsetattr(fd, TCSAFLUSH, &old);
		return -1;
	}
	k = read(fd, dst, cap - 1);
	tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		(void)0;
	if (k <= 0)
		return -1;
	dst[k] = 0;
	dst[strcspn(dst, "\r\n")] = 0;
	return 0;
}

/*
 * --token on a command line shows in ps: without --token and
 * --token-file, and with a terminal, the token is asked for (no echo;
 * Enter for none). 1 with a token in buf, 0 without, -1 on error.
 */
static int
token_prompt(char *buf, size_t cap)
{
	int fd, r;

	if (!isatty(0) || (fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0)
		return 0;
	r = tty_secret(fd, "Token (Enter if none): ", buf, cap);
	close(fd);
	if (r < 0)
		return -1;
	return buf[0] != 0;
}

static int
passphrase_from(const char *file, char *buf, size_t cap, int confirm, const char *what)
{
	size_t n;

	if (file != NULL && *file) {
		unsigned char *data;
		size_t len;
		if (file_read(file, MAX_PASSPHRASE, &data, &len) < 0) {
			msg(file, "cannot read the passphrase: %s", read_errstr(errno));
			return -1;
		}
		n = strcspn((char *)data, "\r\n");
		if (n == 0 || n >= cap) {
			msg(file, "the passphrase is empty or longer than %d bytes", MAX_PASSPHRASE - 1);
			hostca_wipe(data, len);
			free(data);
			return -1;
		}
		memcpy(buf, data, n);
		buf[n] = 0;
		hostca_wipe(data, len);
		free(data);
		return 0;
	} else {
		int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
		char again[MAX_PASSPHRASE];
		int round;
		if (fd < 0) {
			msg(what, "the CA key is encrypted and there is no terminal to ask"
				" for its passphrase; give --passphrase-file F");
			return -1;
		}
		for (round = 0; round < (confirm ? 2 : 1); round++) {
			if (tty_secret(fd, round ? "Passphrase again: " : strcmp(what,
				"backup passphrase") == 0 ? "Backup passphrase: " : "CA key passphrase: ",
				round ? again : buf, round ? sizeof again : cap) < 0) {
				close(fd);
				hostca_wipe(again, sizeof again);
				return -1;
			}
		}
		close(fd);
		if (confirm && strcmp(buf, again) != 0) {
			hostca_wipe(again, sizeof again);
			msg(what, "the two passphrases differ");
			return -1;
		}
		hostca_wipe(again, sizeof again);
		if (buf[0] == 0) {
			msg(what, "empty passphrase");
			return -1;
		}
		return 0;
	}
}

/* The CA key's passphrase: --passphrase-file, $HOSTCA_PASSPHRASE_FILE, or
 * the terminal. */
static int
passphrase_get(char *buf, size_t cap, int confirm, const char *what)
{
	const char *file = g.passphrase_file;

	if (file == NULL)
		file = getenv("HOSTCA_PASSPHRASE_FILE");
	return passphrase_from(file, buf, cap, confirm, what);
}

/* PBKDF2-HMAC-SHA256 (RFC 8018), one or more 32-byte blocks. */
static void
pbkdf2_sha256(const char *pass, const unsigned char *salt, size_t salt_len,
	uint32_t iter, unsigned char *out, size_t out_len)
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	unsigned char u[32], t[32], cnt[4];
	uint32_t block = 1, i;
	size_t k, n;

	br_hmac_key_init(&kc, &br_sha256_vtable, pass, strlen(pass));
	while (out_len > 0) {
		cnt[0] = (unsigned char)(block >> 24);
		cnt[1] = (unsigned char)(block >> 16);
		cnt[2] = (unsigned char)(block >> 8);
		cnt[3] = (unsigned char)block;
		br_hmac_init(&hc, &kc, 0);
		br_hmac_update(&hc, salt, salt_len);
		br_hmac_update(&hc, cnt, 4);
		br_hmac_out(&hc, u);
		memcpy(t, u, 32);
		for (i = 1; i < iter; i++) {
			br_hmac_init(&hc, &kc, 0);
			br_hmac_update(&hc, u, 32);
			br_hmac_out(&hc, u);
			for (k = 0; k < 32; k++)
				t[k] ^= u[k];
		}
		n = out_len < 32 ? out_len : 32;
		memcpy(out, t, n);
		out += n;
		out_len -= n;
		block++;
	}
	hostca_wipe(&kc, sizeof kc);
	hostca_wipe(&hc, sizeof hc);
	hostca_wipe(u, sizeof u);
	hostca_wipe(t, sizeof t);
}

typedef struct {
	unsigned char salt[16], iv[16];
	uint32_t iter;
	const unsigned char *ct;
	size_t ct_len;
} pbes2_params;

/*
 * EncryptedPrivateKeyInfo ::= SEQUENCE {
 *     encryptionAlgorithm SEQUENCE { pkcs5PBES2, SEQUENCE {
 *         keyDerivationFunc SEQUENCE { pBKDF2, SEQUENCE {
 *             salt OCTET STRING, iterationCount INTEGER,
 *             prf SEQUENCE { hmacWithSHA256, NULL } } },
 *         encryptionScheme SEQUENCE { aes256-CBC, iv OCTET STRING } } },
 *     encryptedData OCTET STRING }
 */
static void
enc_pbes2(derw *w, const void *ctx)
{
	const pbes2_params *p = ctx;

	dw_open(w, 0x30);
	dw_open(w, 0x30);
	dw_oid(w, OID_PBES2);
	dw_open(w, 0x30);
	dw_open(w, 0x30);
	dw_oid(w, OID_PBKDF2);
	dw_open(w, 0x30);
	dw_tlv(w, 0x04, p->salt, 16);
	dw_small_int(w, 0x02, p->iter);
	dw_open(w, 0x30);
	dw_oid(w, OID_HMAC_SHA256);
	dw_null(w);
	dw_close(w);
	dw_close(w);
	dw_close(w);
	dw_open(w, 0x30);
	dw_oid(w, OID_AES256_CBC);
	dw_tlv(w, 0x04, p->iv, 16);
	dw_close(w);
	dw_close(w);
	dw_close(w);
	dw_tlv(w, 0x04, p->ct, p->ct_len);
	dw_close(w);
}

static unsigned char *
key_encrypt(const unsigned char *der, size_t len, const char *pass,
	rng_state *rng, size_t *out_len)
{
	pbes2_params p;
	br_aes_ct64_cbcenc_keys aes;
	unsigned char key[32], iv[16], *ct, *out = NULL;
	size_t pad = 16 - len % 16, n;

	rng_bytes(rng, p.salt, 16);
	rng_bytes(rng, p.iv, 16);
	p.iter = PBKDF2_ITERATIONS;
	if ((ct = malloc(len + pad)) == NULL)
		return NULL;
	memcpy(ct, der, len);
	memset(ct + len, (int)pad, pad);
	pbkdf2_sha256(pass, p.salt, 16, p.iter, key, 32);
	br_aes_ct64_cbcenc_init(&aes, key, 32);
	memcpy(iv, p.iv, 16);
	br_aes_ct64_cbcenc_run(&aes, iv, ct, len + pad);
	p.ct = ct;
	p.ct_len = len + pad;
	if ((n = der_encode2(NULL, enc_pbes2, &p)) > 0 && (out = malloc(n)) != NULL) {
		der_encode2(out, enc_pbes2, &p);
		*out_len = n;
	}
	hostca_wipe(key, sizeof key);
	hostca_wipe(&aes, sizeof aes);
	free(ct);
	return out;
}

/* Decrypts; *der is a fresh allocation the caller wipes and frees. */
static int
key_decrypt(const unsigned char *enc, size_t len, const char *pass,
	unsigned char **der, size_t *der_len)
{
	derr r, s, a, ps, kdf, kp, prf, es;
	derel oid, salt, iter, ivel, ct, e;
	br_aes_ct64_cbcdec_keys aes;
	unsigned char key[32], iv[16], *pt;
	uint32_t it;
	size_t pad, i;

	dr_init(&r, enc, len);
	dr_enter(&r, 0x30, &s);
	dr_end(&r);
	dr_enter(&s, 0x30, &a);
	dr_expect(&s, 0x04, &ct);
	dr_end(&s);
	dr_expect(&a, 0x06, &oid);
	if (!oid_is(&oid, OID_PBES2))
		return HOSTCA_ERR_KEY;
	dr_enter(&a, 0x30, &ps);
	dr_end(&a);
	dr_enter(&ps, 0x30, &kdf);
	dr_enter(&ps, 0x30, &es);
	dr_end(&ps);
	dr_expect(&kdf, 0x06, &oid);
	if (!oid_is(&oid, OID_PBKDF2))
		return HOSTCA_ERR_KEY;
	dr_enter(&kdf, 0x30, &kp);
	dr_end(&kdf);
	dr_expect(&kp, 0x04, &salt);
	dr_get(&kp, &iter);
	if (dr_peek(&kp) == 0x02) {
		uint32_t kl;                /* keyLength: must say 32 */
		dr_get(&kp, &e);
		if (der_small(&e, 0x02, &kl) < 0 || kl != 32)
			return HOSTCA_ERR_KEY;
	}
	if (dr_peek(&kp) == 0x30) {
		dr_enter(&kp, 0x30, &prf);
		dr_expect(&prf, 0x06, &oid);
		if (!oid_is(&oid, OID_HMAC_SHA256))
			return HOSTCA_ERR_KEY;
	} else {
		return HOSTCA_ERR_KEY;      /* default PRF is HMAC-SHA1: not ours */
	}
	dr_end(&kp);
	dr_expect(&es, 0x06, &oid);
	dr_expect(&es, 0x04, &ivel);
	dr_end(&es);
	if (r.err || s.err || a.err || ps.err || kdf.err || kp.err || es.err
		|| !oid_is(&oid, OID_AES256_CBC) || ivel.len != 16
		|| der_small(&iter, 0x02, &it) < 0 || it == 0 || it > 10 * PBKDF2_ITERATIONS
		|| ct.len == 0 || ct.len % 16 != 0 || salt.len == 0 || salt.len > 64)
		return HOSTCA_ERR_KEY;
	if ((pt = malloc(ct.len)) == NULL)
		return HOSTCA_ERR_NOMEM;
	memcpy(pt, ct.v, ct.len);
	pbkdf2_sha256(pass, salt.v, salt.len, it, key, 32);
	br_aes_ct64_cbcdec_init(&aes, key, 32);
	memcpy(iv, ivel.v, 16);
	br_aes_ct64_cbcdec_run(&aes, iv, pt, ct.len);
	hostca_wipe(key, sizeof key);
	hostca_wipe(&aes, sizeof aes);
	pad = pt[ct.len - 1];
	if (pad == 0 || pad > 16) {
		hostca_wipe(pt, ct.len);
		free(pt);
		return HOSTCA_ERR_PASSPHRASE;
	}
	for (i = 0; i < pad; i++) {
		if (pt[ct.len - 1 - i] != pad) {
			hostca_wipe(pt, ct.len);
			free(pt);
			return HOSTCA_ERR_PASSPHRASE;
		}
	}
	*der = pt;
	*der_len = ct.len - pad;
	return 0;
}

/* Writes a private key file (0600, never over an existing file). */
static int
key_store_mode(const char *path, const hostca_key *k, const char *pass, rng_state *rng,
	int replace)
{
	size_t n = hostca_key_encode(NULL, k), pl, el = 0;
	unsigned char *der, *enc = NULL;
	char *pem;
	int r = -1;

	if (n == 0 || (der = malloc(n)) == NULL)
		return -1;
	hostca_key_encode(der, k);
	if (pass != NULL && (enc = key_encrypt(der, n, pass, rng, &el)) == NULL) {
		hostca_wipe(der, n);
		free(der);
		return -1;
	}
	pl = enc ? hostca_pem_encode(NULL, "ENCRYPTED PRIVATE KEY", enc, el)
		: hostca_pem_encode(NULL, "PRIVATE KEY", der, n);
	if ((pem = malloc(pl)) != NULL) {
		if (enc)
			hostca_pem_encode(pem, "ENCRYPTED PRIVATE KEY", enc, el);
		else
			hostca_pem_encode(pem, "PRIVATE KEY", der, n);
		/* a new key never replaces one; a re-encrypted key replaces
		 * its old file in one rename (the old never stays beside it) */
		r = replace ? atomic_write(path, pem, pl, 0600) : exclusive_write(path, pem, pl, 0600);
		hostca_wipe(pem, pl);
		free(pem);
	}
	hostca_wipe(der, n);
	free(der);
	free(enc);
	return r;
}

static int
key_store(const char *path, const hostca_key *k, const char *pass, rng_state *rng)
{
	return key_store_mode(path, k, pass, rng, 0);
}

/*
 * The public point that an EC PKCS#8 key carries next to its scalar
 * (ECPrivateKey's optional publicKey [1]); 0 and *qlen when found.
 */
static int
pkcs8_ec_point(const unsigned char *der, size_t len, const unsigned char **q,
	size_t *qlen)
{
	derr r, s, a, ek, e;
	derel ver, oct, el;

	dr_init(&r, der, len);
	dr_enter(&r, 0x30, &s);
	dr_expect(&s, 0x02, &ver);
	dr_enter(&s, 0x30, &a);
	dr_expect(&s, 0x04, &oct);
	if (s.err)
		return -1;
	dr_init(&e, oct.v, oct.len);
	dr_enter(&e, 0x30, &ek);
	while (dr_more(&ek)) {
		if (dr_get(&ek, &el) < 0)
			return -1;
		if (el.tag == 0xa1) {
			derr b;
			derel bits;
			dr_init(&b, el.v, el.len);
			dr_expect(&b, 0x03, &bits);
			if (b.err || der_bits_whole(&bits, q, qlen) < 0)
				return -1;
			return 0;
		}
	}
	return -1;
}

/*
 * Decodes a private key. For an EC key whose file carries the same public
 * point as hint (the CA certificate), that point is taken as it is: this
 * spares a scalar multiplication on every CA command. A key file whose
 * point differs (or has none) gets its point computed, and the caller's
 * check that it belongs to the certificate then fails loudly.
 */
static int
key_decode_hint(hostca_key *k, const unsigned char *der, size_t len,
	const pubkey *hint)
{
	const unsigned char *q;
	size_t ql;
	br_skey_decoder_context *dc;
	int err = HOSTCA_ERR_KEY;

	if (hint == NULL || hint->kind != PK_EC || pkcs8_ec_point(der, len, &q, &ql) < 0
		|| ql != hint->qlen || memcmp(q, hint->q, ql) != 0)
		return hostca_key_decode(k, der, len);
	if ((dc = malloc(sizeof *dc)) == NULL)
		return HOSTCA_ERR_NOMEM;
	br_skey_decoder_init(dc);
	br_skey_decoder_push(dc, der, len);
	memset(k, 0, sizeof *k);
	if (br_skey_decoder_last_error(dc) == 0
		&& br_skey_decoder_key_type(dc) == BR_KEYTYPE_EC) {
		const br_ec_private_key *sk = br_skey_decoder_get_ec(dc);
		if (sk->curve == hint->curve) {
			k->type = sk->curve == BR_EC_secp256r1 ? HOSTCA_KEY_EC_P256
				: sk->curve == BR_EC_secp384r1 ? HOSTCA_KEY_EC_P384
				: HOSTCA_KEY_EC_P521;
			if (key_push(k, 0, sk->x, sk->xlen) == 0 && key_push(k, 1, q, ql) == 0)
				err = 0;
		}
	}
	hostca_wipe(dc, sizeof *dc);
	free(dc);
	if (err < 0)
		hostca_key_wipe(k);
	return err;
}

/* Loads a private key file; asks for the passphrase when encrypted.
 * hint: see key_decode_hint(). */
static int
key_load_hint(const char *path, hostca_key *k, const pubkey *hint)
{
	unsigned char *data, *der;
	size_t len, dl;
	char banner[64];
	long n;
	int err;

	if (file_read(path, MAX_PEM_FILE, &data, &len) < 0) {
		msg(path, "cannot read the key: %s", read_errstr(errno));
		return EXIT_USAGE;
	}
	if ((der = malloc(len + 1)) == NULL) {
		free(data);
		return EXIT_USAGE;
	}
	n = hostca_pem_decode(data, len, 0, banner, der, len);
	hostca_wipe(data, len);
	free(data);
	if (n <= 0) {
		msg(path, "not a PEM private key");
		free(der);
		return EXIT_USAGE;
	}
	dl = (size_t)n;
	if (strcmp(banner, "ENCRYPTED PRIVATE KEY") == 0) {
		char pass[MAX_PASSPHRASE];
		unsigned char *plain;
		size_t pl;
		if (passphrase_get(pass, sizeof pass, 0, path) < 0) {
			hostca_wipe(der, dl);
			free(der);
			return EXIT_USAGE;
		}
		err = key_decrypt(der, dl, pass, &plain, &pl);
		hostca_wipe(pass, sizeof pass);
		hostca_wipe(der, dl);
		free(der);
		if (err < 0) {
			msg(path, "%s", err == HOSTCA_ERR_PASSPHRASE
				? "wrong passphrase" : "unsupported or damaged encrypted key");
			return EXIT_USAGE;
		}
		der = plain;
		dl = pl;
	} else if (strcmp(banner, "PRIVATE KEY") != 0 && strcmp(banner, "EC PRIVATE KEY") != 0
		&& strcmp(banner, "RSA PRIVATE KEY") != 0) {
		msg(path, "not a private key (PEM banner '%s')", banner);
		free(der);
		return EXIT_USAGE;
	}
	err = key_decode_hint(k, der, dl, hint);
	hostca_wipe(der, dl);
	free(der);
	if (err < 0) {
		msg(path, "unreadable private key: %s", hostca_strerror(err));
		return EXIT_USAGE;
	}
	return 0;
}

/* Reads a PEM file holding one object with one of the banners; or DER. */
static int
pem_file_load(const char *path, const char *const *banners, size_t max,
	unsigned char **der, size_t *len, char *found_banner)
{
	unsigned char *data;
	size_t dl, i;
	char banner[64];
	long n;

	*der = NULL;
	if (file_read(path, max, &data, &dl) < 0) {
		msg(path, "cannot read: %s", read_errstr(errno));
		return EXIT_USAGE;
	}
	if (dl > 0 && data[0] == 0x30) {      /* DER as it is */
		*der = data;
		*len = dl;
		if (found_banner)
			found_banner[0] = 0;
		return 0;
	}
	if ((*der = malloc(dl + 1)) == NULL) {
		free(data);
		return EXIT_USAGE;
	}
	n = hostca_pem_decode(data, dl, 0, banner, *der, dl);
	free(data);
	if (n <= 0) {
		msg(path, "%s", dl == 0 ? "empty file" : "no PEM block (or a damaged one)");
		free(*der);
		*der = NULL;
		return EXIT_REFUSED;
	}
	*len = (size_t)n;
	if (found_banner)
		strcpy(found_banner, banner);
	for (i = 0; banners != NULL && banners[i] != NULL; i++)
		if (strcmp(banner, banners[i]) == 0)
			return 0;
	if (banners == NULL)
		return 0;
	msg(path, "holds a '%s', not a %s", banner, banners[0]);
	free(*der);
	*der = NULL;
	return EXIT_REFUSED;
}

/* ---- Opening a CA directory ---- */

static void
ca_free(ca_ctx *ca)
{
	size_t i;

	for (i = 0; i < ca->ncerts; i++) {
		free(ca->certs[i].names);
		free(ca->certs[i].der);
	}
	free(ca->certs);
	free(ca->hosts);
	if (ca->tokens)
		hostca_wipe(ca->tokens, ca->tokens_cap * sizeof *ca->tokens);
	free(ca->tokens);
	free(ca->by_serial.slot);
	free(ca->by_req.slot);
	free(ca->by_host.slot);
	free(ca->by_name.slot);
	free(ca->windows);
	free(ca->renew_der);
	for (i = 0; i < ca->nlinks; i++)
		free(ca->links[i].der);
	free(ca->links);
	for (i = 0; i < ca->nolds; i++) {
		free(ca->olds[i].der);
		free(ca->olds[i].crl);
	}
	free(ca->olds);
	free(ca->prev_der);
	free(ca->prev);
	free(ca->roll_der);
	hostca_key_wipe(&ca->prev_key);
	for (i = 0; i < ca->nshares; i++)
		free(ca->shares[i].hosts);
	free(ca->shares);
	hashset_free(&ca->badkeys);
	hashset_free(&ca->refused);
	snap_close(ca);
	if (ca->jfd >= 0)
		close(ca->jfd);
	for (i = 0; i < ca->ndq; i++)
		free(ca->dq[i].line);
	free(ca->dq);
	for (i = 0; i < ca->nname_keys; i++)
		free(ca->name_keys[i].name);
	free(ca->name_keys);
	free(ca->jbuf);
	free(ca->pend);
	free(ca->ca_der);
	hostca_key_wipe(&ca->key);
	hostca_wipe(&ca->rng, sizeof ca->rng);
	if (ca->lock_fd >= 0)
		close(ca->lock_fd);
	if (ca->dir_fd >= 0)
		close(ca->dir_fd);
	memset(ca, 0, sizeof *ca);
	ca->lock_fd = -1;
	ca->dir_fd = -1;
	ca->jfd = -1;
}

static unsigned char *ca_build_crl(ca_ctx *ca, size_t *len);
static int ca_write_crl_pem(ca_ctx *ca);
static int ca_publish_crl(ca_ctx *ca, int64_t days);

/* 1 when crl.pem is the CRL the journal last published. */
static int
ca_crl_current(ca_ctx *ca)
{
	static const char *const b[] = { "X509 CRL", NULL };
	char path[PATH_MAX], why[WHY_CAP];
	unsigned char *d = NULL;
	size_t dl = 0, i;
	crl_info ci;
	uint64_t num = 0;
	int ok = 0, saved = g.quiet;

	if (ca->crl_dirty)
		return 0;
	path_join(path, sizeof path, ca->dir, "crl.pem");
	g.quiet = 1;
	if (path_exists(path) && pem_file_load(path, b, MAX_CRL_FILE, &d, &dl, NULL) == 0
		&& crl_decode(&ci, d, dl, why) == 0 && ci.number_len <= 8) {
		for (i = 0; i < ci.number_len; i++)
			num = num << 8 | ci.number[i];
		ok = num == ca->crl_number;
	}
	g.quiet = saved;
	free(d);
	return ok;
}

/* The CA key (asking for its passphrase if it has one), checked
 * against ca.pem. */
/* 1 when key k is the key of public key pub. */
static int
key_is_of(const hostca_key *k, const pubkey *pub)
{
	pubkey pk;
	unsigned char a[32], b[32];

	key_pubkey(k, &pk);
	return pubkey_fingerprint(&pk, a) == 0 && pubkey_fingerprint(pub, b) == 0
		&& ct_equal(a, b, 32);
}

static int
ca_load_key(ca_ctx *ca)
{
	char path[PATH_MAX];
	int r;

	if (ca->have_key)
		return 0;
	path_join(path, sizeof path, ca->dir, "ca.key");
	if ((r = key_load_hint(path, &ca->key, &ca->ca.pub)) != 0)
		return r;
	if (!key_is_of(&ca->key, &ca->ca.pub)) {
		msg(path, "this key does not belong to ca.pem");
		return EXIT_USAGE;
	}
	ca->have_key = 1;
	return 0;
}

/* ca repair --sign-head: open without trusting journal.head. */
static int repair_sign_head;

/* Starts the state afresh (the index was unusable), keeping the lock
 * and the open journal. */
static void
ca_reset(ca_ctx *ca)
{
	int jfd = ca->jfd, lfd = ca->lock_fd, wr = ca->writing, dfd = ca->dir_fd;

	ca->jfd = ca->lock_fd = ca->dir_fd = -1;
	ca_free(ca);
	ca->jfd = jfd;
	ca->lock_fd = lfd;
	ca->dir_fd = dfd;
	ca->writing = wr;
	ca->dir = g.ca_dir;
}

static int
ca_cert_load(ca_ctx *ca)
{
	static const char *const b[] = { "CERTIFICATE", NULL };
	char path[PATH_MAX], why[WHY_CAP];

	path_join(path, sizeof path, ca->dir, "ca.pem");
	if (pem_file_load(path, b, MAX_PEM_FILE, &ca->ca_der, &ca->ca_len, NULL) != 0)
		return EXIT_USAGE;
	if (cert_decode(&ca->ca, ca->ca_der, ca->ca_len, why) < 0) {
		msg(path, "damaged CA certificate: %s", why);
		return EXIT_USAGE;
	}
	sha256_once(ca->ca_fp, ca->ca_der, ca->ca_len);
	return 0;
}

/*
 * Opens the CA: lock, CA certificate, the signed head, journal (with
 * crash recovery when writing), and the key when needed (always for a
 * writer: it signs the head).
 */
static int pem_write(const char *path, const char *banner, const unsigned char *der,
	size_t len, mode_t mode);

/*
 * A rollover's files (section 7g). The ca-rollover entry decides; then
 * the head is signed by both keys, prev.key (a copy of ca.key) and
 * prev.pem are written, ca.pem <- the new certificate, next.key ->
 * ca.key. A writer that finds the switch half-done completes it, and one
 * that finds files of a rollover that has no entry (or is finished)
 * removes them. 0, or an exit status.
 */
static int ca_load_key(ca_ctx *ca);

static int
ca_roll_settle(ca_ctx *ca, int recovering, const hostca_key *nk_mem)
{
	static const char *const left[] = { "next.key", "next.pem", "prev.key",
		"prev.pem", "crl-prev.pem", NULL };
	char p[PATH_MAX], q[PATH_MAX], why[WHY_CAP];
	unsigned char *d;
	size_t dl, i;
	int r, before;
	hostca_key nk;
	x509_info *nc = NULL;

	if (!ca->rolling) {
		for (i = 0; left[i] != NULL; i++) {
			path_join(p, sizeof p, ca->dir, left[i]);
			if (path_exists(p) && unlink(p) == 0)
				note(p, "removed: left by an interrupted 'ca rollover'");
		}
		return 0;
	}
	path_join(q, sizeof q, ca->dir, "next.key");
	before = ct_equal(ca->ca_fp, ca->prev_fp, 32);    /* ca.pem not switched */
	if (!path_exists(q)) {
		if (!before)
			return 0;
		msg(q, "missing: the rollover that the journal records cannot switch to"
			" its new key (restore the CA from a backup)");
		return EXIT_USAGE;
	}
	/* next.key must be the key of the certificate the journal records */
	if (before && (ca->roll_der == NULL
		|| cert_decode_alloc(&nc, ca->roll_der, ca->roll_len, why) < 0)) {
		msg(ca->dir, "the journal's rollover has no new CA certificate");
		return EXIT_USAGE;
	}
	memset(&nk, 0, sizeof nk);
	if (nk_mem == NULL && key_load_hint(q, &nk, before ? &nc->pub : &ca->ca.pub) != 0) {
		free(nc);
		return EXIT_USAGE;
	}
	if (!key_is_of(nk_mem ? nk_mem : &nk, before ? &nc->pub : &ca->ca.pub)) {
		msg(q, "not the key of the new CA certificate that the journal records:"
			" left alone (restore the CA from a backup)");
		free(nc);
		hostca_key_wipe(&nk);
		return EXIT_USAGE;
	}
	free(nc);
	if (before) {
		/* the head signed by both keys: it verifies with ca.pem's key
		 * before the switch and after it */
		if ((r = ca_load_key(ca)) != 0 || ca_write_head2(ca, nk_mem ? nk_mem : &nk) < 0) {
			hostca_key_wipe(&nk);
			return r ? r : EXIT_USAGE;
		}
		fault_point("rollover-head-both");
		path_join(p, sizeof p, ca->dir, "ca.key");
		if (file_read(p, MAX_PEM_FILE, &d, &dl) < 0) {
			msg(p, "cannot read: %s", read_errstr(errno));
			hostca_key_wipe(&nk);
			return EXIT_USAGE;
		}
		path_join(p, sizeof p, ca->dir, "prev.key");
		r = atomic_write(p, d, dl, 0600);
		hostca_wipe(d, dl);
		free(d);
		if (r < 0 || pem_write(path_join(p, sizeof p, ca->dir, "prev.pem"),
			"CERTIFICATE", ca->prev_der, ca->prev_len, 0644) < 0) {
			msg_errno(p, "cannot write");
			hostca_key_wipe(&nk);
			return EXIT_USAGE;
		}
		fault_point("rollover-prev-written");
		if (pem_write(path_join(p, sizeof p, ca->dir, "ca.pem"), "CERTIFICATE",
			ca->roll_der, ca->roll_len, 0644) < 0) {
			msg_errno(p, "cannot write");
			hostca_key_wipe(&nk);
			return EXIT_USAGE;
		}
		fault_point("rollover-pem-switched");
	}
	hostca_key_wipe(&nk);
	path_join(p, sizeof p, ca->dir, "ca.key");
	if (rename(q, p) < 0 || fsync_parent(p) < 0) {
		msg_errno(p, "cannot replace");
		return EXIT_USAGE;
	}
	path_join(p, sizeof p, ca->dir, "next.pem");
	unlink(p);
	if (recovering)
		msg(ca->dir, "recovered: completed the switch to the new CA key of an"
			" interrupted 'ca rollover'");
	free(ca->ca_der);
	ca->ca_der = NULL;
	hostca_key_wipe(&ca->key);
	ca->have_key = 0;
	ca->have_kek = 0;
	return ca_cert_load(ca);
}

static int
ca_open2(ca_ctx *ca, int write, int need_key, int fast)
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	memset(ca, 0, sizeof *ca);
	ca->lock_fd = -1;
	ca->dir_fd = -1;
	ca->jfd = -1;
	ca->dir = g.ca_dir;
	if (stat(ca->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		msg(ca->dir, "no CA directory here (create one with"
			" 'hostca ca init --name NAME', or give -C DIR)");
		return EXIT_USAGE;
	}
	if (ca_lock(ca, write) < 0)
		return EXIT_USAGE;
	/* Every command that changes the journal signs its new end. */
	if (write)
		need_key = 1;
	/* The CA certificate first: it checks the index and the head. */
	if ((r = ca_cert_load(ca)) != 0)
		return r;
	if (fast) {
		path_join(path, sizeof path, ca->dir, "journal");
		ca->jfd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (ca->jfd >= 0 && snap_open(ca) < 0) {
			ca_reset(ca);     /* no usable index: fold everything */
			if ((r = ca_cert_load(ca)) != 0)
				return r;
		}
	}
	/* Then the signed head, before the journal (ca repair --sign-head:
	 * no head to trust; the whole journal). */
	if (repair_sign_head) {
		int signed_ok;
		msg_mute = 1;
		signed_ok = ca_head_load(ca) == 0;
		msg_mute = 0;
		if (signed_ok) {
			/* a valid head: what follows it is cut, never signed */
			msg(ca->dir, "journal.head is signed and verifies: there is nothing"
				" to sign ('hostca ca repair' removes what follows it)");
			return EXIT_REFUSED;
		}
		ca->head_seq = UINT64_MAX;
		snap_close(ca);
		ca_reset(ca);
		if ((r = ca_cert_load(ca)) != 0)
			return r;
		ca->head_seq = UINT64_MAX;
	} else if ((r = ca_head_load(ca)) != 0) {
		return r;
	}
	if (ca->snap.ok && ca->snap.seq > ca->head_seq) {
		/* an index past the signed head covers unacknowledged entries */
		ca_reset(ca);
		if ((r = ca_cert_load(ca)) != 0 || (r = ca_head_load(ca)) != 0)
			return r;
	}
	if ((r = ca_journal_load(ca, write)) != 0)
		return r;
	ca->index_ok = write;
	if (rng_open(&ca->rng) < 0) {
		msg("random", "no system random source");
		return EXIT_USAGE;
	}
	if (write && (r = ca_roll_settle(ca, 1, NULL)) != 0)
		return r;
	if (need_key && (r = ca_load_key(ca)) != 0)
		return r;
	/* Recovery: ca.pem the certificate the journal records (a ca renew
	 * that did not get to write it)... */
	if (write && ca->have_key && ca->have_fp_rec && !ct_equal(ca->ca_fp_rec, ca->ca_fp, 32)
		&& ca->renew_der != NULL) {
		path_join(path, sizeof path, ca->dir, "ca.pem");
		if (pem_write(path, "CERTIFICATE", ca->renew_der, ca->renew_len, 0644) < 0) {
			msg_errno(path, "cannot write");
			return EXIT_USAGE;
		}
		free(ca->ca_der);
		ca->ca_der = NULL;
		if ((r = ca_cert_load(ca)) != 0)
			return r;
		msg(path, "recovered: wrote the renewed CA certificate that an interrupted"
			" 'ca renew' had not written");
	}
	/* ...every revocation on a CRL, and crl.pem the latest CRL. */
	if (write && ca->have_key) {
		if (ca->crl_dirty) {
			if (ca_publish_crl(ca, ca->crl_days) < 0)
				return EXIT_USAGE;
			msg(ca->dir, "recovered: revocations from an interrupted command"
				" are now on CRL #%llu", (unsigned long long)ca->crl_number);
		} else if (ca->unclean) {
			/* Reading crl.pem back costs time with large CRLs: only
			 * after a writer that did not finish. */
			if (!ca_crl_current(ca)) {
				path_join(path, sizeof path, ca->dir, "crl.pem");
				if (ca_write_crl_pem(ca) < 0)
					return EXIT_USAGE;
				msg(path, "recovered: rewrote CRL #%llu that an interrupted"
					" command had not written", (unsigned long long)ca->crl_number);
			}
		}
	}
	return 0;
}

/* The whole state, folded from the whole journal (listings, checks). */
static int
ca_open(ca_ctx *ca, int write, int need_key)
{
	return ca_open2(ca, write, need_key, 0);
}

/* What a command needs, through the index when there is one. */
static int
ca_open_fast(ca_ctx *ca, int write, int need_key)
{
	return ca_open2(ca, write, need_key, 1);
}

/* ---- CRLs from the state ---- */

static unsigned char *
ca_build_crl_by(ca_ctx *ca, const hostca_key *key, const x509_info *issuer,
	const x509_info *self, size_t *len);

/* The CRL of the CA key. */
static unsigned char *
ca_build_crl(ca_ctx *ca, size_t *len)
{
	return ca_build_crl_by(ca, &ca->key, &ca->ca, NULL, len);
}

/* The retiring key's last CRL: its own CA certificate on it too. */
static unsigned char *
ca_build_crl_final(ca_ctx *ca, size_t *len)
{
	return ca_build_crl_by(ca, &ca->prev_key, ca->prev, ca->prev, len);
}

/*
 * The CRL signed by key for issuer (the CA key, or during a rollover the
 * retiring one). Both keys' CRLs carry every revoked certificate of the
 * CA: serials are unique across its keys, so an entry of the other key's
 * certificate never matches a certificate of this one.
 */
static unsigned char *
ca_build_crl_by(ca_ctx *ca, const hostca_key *key, const x509_info *issuer,
	const x509_info *self, size_t *len)
{
	crl_entry *e;
	crl_params p;
	size_t i, n = 0;
	unsigned char *out;

	size_t nix = ca->snap.ok ? ix_count(ca, IX_REVOKED) : 0;

	if ((e = malloc((ca->ncerts + nix + 2) * sizeof *e)) == NULL)
		return NULL;
	if (self != NULL && self->serial_len <= sizeof e[0].serial) {
		/* the key's own CA certificate: it retires (ca rollover --finish) */
		memcpy(e[n].serial, self->serial, self->serial_len);
		e[n].serial_len = self->serial_len;
		e[n].when = g.now;
		e[n].reason = 5;
		n++;
	}
	for (i = 0; i < ca->ncerts; i++) {
		const cert_rec *c = &ca->certs[i];
		/* Entries leave the CRL once one CRL issued after their
		 * certificate's notAfter has carried them. */
		if (!c->revoked || c->na < ca->crl_keep)
			continue;
		memcpy(e[n].serial, c->serial, c->serial_len);
		e[n].serial_len = c->serial_len;
		e[n].when = c->rev_at;
		e[n].reason = c->reason;
		n++;
	}
	/* Revocations in the index, unless memory has the certificate. */
	for (i = 0; i < nix; i++) {
		const char *r = ix_rec(ca, IX_REVOKED, i);
		if (ix_num(r + 57, 12) < ca->crl_keep
			|| ix_serial(r, e[n].serial, &e[n].serial_len) < 0
			|| (ca->ncerts > 0 && imap_get(&ca->by_serial, e[n].serial,
				e[n].serial_len, key_serial, ca) != SIZE_MAX))
			continue;
		e[n].when = ix_num(r + 41, 12);
		e[n].reason = (int)ix_num(r + 54, 2);
		n++;
	}
	memset(&p, 0, sizeof p);
	p.sig_alg = key_sig_alg(key);
	p.issuer = issuer->subject;
	p.issuer_len = issuer->subject_len;
	p.this_update = ca->crl_this;
	p.next_update = ca->crl_next;
	p.entries = e;
	p.n = n;
	p.aki = issuer->ski;
	p.number = ca->crl_number;
	out = crl_build(&p, key, len);
	free(e);
	return out;
}

static int
pem_write_sync(const char *path, const char *banner, const unsigned char *der,
	size_t len, mode_t mode, int sync)
{
	size_t n = hostca_pem_encode(NULL, banner, der, len);
	char *pem;
	int r;

	if (n == 0 || (pem = malloc(n)) == NULL)
		return -1;
	hostca_pem_encode(pem, banner, der, len);
	r = atomic_write_sync(path, pem, n, mode, sync);
	free(pem);
	return r;
}

static int
pem_write(const char *path, const char *banner, const unsigned char *der,
	size_t len, mode_t mode)
{
	return pem_write_sync(path, banner, der, len, mode, SYNC_FULL);
}

/* The retiring CA (prev.pem as the journal records it, prev.key). */
static int
ca_load_prev(ca_ctx *ca, int need_key)
{
	char path[PATH_MAX], why[WHY_CAP];
	int r;

	if (!ca->rolling)
		return -1;
	if (ca->prev == NULL && cert_decode_alloc(&ca->prev, ca->prev_der, ca->prev_len, why) < 0) {
		msg(ca->dir, "the retiring CA certificate in the journal: %s", why);
		return -1;
	}
	if (!need_key || ca->have_prev_key)
		return 0;
	path_join(path, sizeof path, ca->dir, "prev.key");
	if (!path_exists(path)) {
		msg(path, "missing: the retiring key signs its CRL until 'hostca ca"
			" rollover --finish' (restore it from a backup, or finish the"
			" rollover)");
		return -1;
	}
	if ((r = key_load_hint(path, &ca->prev_key, &ca->prev->pub)) != 0)
		return -1;
	if (!key_is_of(&ca->prev_key, &ca->prev->pub)) {
		msg(path, "this key does not belong to the retiring CA certificate");
		return -1;
	}
	ca->have_prev_key = 1;
	return 0;
}

static int
ca_write_crl_pem(ca_ctx *ca)
{
	char path[PATH_MAX];
	unsigned char *der;
	size_t len;
	int r;

	/* During a rollover the retiring key's CRL first: a crl.pem that
	 * is current says that both are (ca_crl_current). */
	if (ca->rolling) {
		if (ca_load_prev(ca, 1) < 0)
			return -1;
		if ((der = ca_build_crl_by(ca, &ca->prev_key, ca->prev, NULL, &len)) == NULL) {
			msg(ca->dir, "cannot build the retiring key's CRL");
			return -1;
		}
		path_join(path, sizeof path, ca->dir, "crl-prev.pem");
		r = pem_write(path, "X509 CRL", der, len, 0644);
		free(der);
		if (r < 0) {
			msg_errno(path, "cannot write");
			return -1;
		}
	}
	if ((der = ca_build_crl(ca, &len)) == NULL) {
		msg(ca->dir, "cannot build the CRL");
		return -1;
	}
	path_join(path, sizeof path, ca->dir, "crl.pem");
	r = pem_write(path, "X509 CRL", der, len, 0644);
	if (r < 0)
		msg_errno(path, "cannot write");
	free(der);
	return r;
}

/*
 * The fields of the next crl event. thisUpdate is backdated like
 * notBefore, so that a relying party whose clock is behind accepts a
 * fresh CRL. keep is the CRL before's thisUpdate: an entry whose
 * certificate expired before it has appeared on one CRL issued after
 * its notAfter (RFC 5280 §3.3) and may leave; the others stay.
 */
static void
crl_fields(const ca_ctx *ca, char *f, size_t cap, int64_t days)
{
	int64_t back = ca->backdate < CRL_BACKDATE_MAX ? ca->backdate : CRL_BACKDATE_MAX;
	int64_t this = g.now - back;

	if (this < ca->crl_this)
		this = ca->crl_this;      /* never before the CRL it follows */
	snprintf(f, cap, "number=%llu this=%lld next=%lld keep=%lld",
		(unsigned long long)ca->crl_number + 1, (long long)this,
		(long long)(g.now + days * 86400), (long long)(ca->crl_number
		? ca->crl_this : g.now));
}

/* Queues a crl event (number + 1), commits, writes crl.pem. */
static int
ca_publish_crl(ca_ctx *ca, int64_t days)
{
	char f[160];

	crl_fields(ca, f, sizeof f, days);
	if (journal_add(ca, "crl", f) < 0 || journal_commit(ca) < 0)
		return -1;
	fault_point("crl-before-pem");
	return ca_write_crl_pem(ca);
}

/* Warnings that lock offline sites out when ignored. */
static void
ca_warnings(ca_ctx *ca, char warn[][160], size_t *n)
{
	char t[32];

	*n = 0;
	if (ca->crl_next <= g.now)
		snprintf(warn[(*n)++], 160, "the CRL expired on %s: hosts that check"
			" it refuse every certificate; run 'hostca ca crl' and carry it out",
			time_iso(t, ca->crl_next));
	else if (ca->crl_next - g.now < 2 * 86400)
		snprintf(warn[(*n)++], 160, "the CRL expires on %s: run 'hostca ca crl'"
			" and carry it to the hosts", time_iso(t, ca->crl_next));
	if (ca->ca.na <= g.now)
		snprintf(warn[(*n)++], 160, "the CA certificate expired on %s",
			time_iso(t, ca->ca.na));
	else if (ca->ca.na - g.now < 90 * 86400)
		snprintf(warn[(*n)++], 160, "the CA certificate expires on %s:"
			" plan a new CA before then", time_iso(t, ca->ca.na));
}

static void
ca_print_warnings(ca_ctx *ca)
{
	char w[4][160];
	size_t n, i;

	ca_warnings(ca, w, &n);
	for (i = 0; i < n; i++)
		msg("warning", "%s", w[i]);
}

/* Finishes a CA command: warnings, unlock, free. */
static int
ca_close(ca_ctx *ca, int rc)
{
	/* Done or refused: nothing is left half-way (an I/O error may have). */
	if (ca->writing && ca->lock_fd >= 0 && rc != EXIT_USAGE && ca->pend_len == 0
		&& ftruncate(ca->lock_fd, 0) < 0)
		(void)0;
	if (ca->name[0] && rc != EXIT_USAGE)
		ca_print_warnings(ca);
	ca_free(ca);
	return rc;
}

/* A host given as a host ID or as a name held by exactly one host. */
static size_t ca_name_holder(ca_ctx *ca, const hostname *h);
static int names_has(const char *list, const char *name);

static size_t
ca_resolve_host(ca_ctx *ca, const char *arg, char *why)
{
	char id[HOSTCA_UUID_LEN + 1];
	size_t i, found = SIZE_MAX, count = 0;
	hostname h;

	if (hostca_uuid_check(arg)) {
		strcpy(id, arg);
		uuid_lower(id);
		if ((i = ca_find_host(ca, id)) == SIZE_MAX)
			set_why(why, "no host with ID %s", id);
		return i;
	}
	if (hostname_parse(&h, arg) < 0) {
		set_why(why, "'%s' is neither a host ID nor a host name", arg);
		return SIZE_MAX;
	}
	/* The current holder, if there is one; else the one host whose
	 * newest certificate (revoked or expired) carries the name. */
	if ((i = ca_name_holder(ca, &h)) != SIZE_MAX)
		return i;
	{
		size_t e = imap_get(&ca->by_name, (const unsigned char *)h.text,
			strlen(h.text), key_name, ca);
		for (; e != SIZE_MAX; e = ca->name_keys[e].next) {
			i = ca->name_keys[e].host;
			if (names_has(ca->certs[ca->hosts[i].last].names, h.text) && found != i) {
				count++;
				found = i;
			}
		}
	}
	if (count == 0)
		set_why(why, "no host is named '%s'", h.text);
	else if (count > 1)
		set_why(why, "the name '%s' maps to %zu host IDs; give the host ID", h.text, count);
	return count == 1 ? found : SIZE_MAX;
}

/* 1 when the comma-separated list holds the name. */
static int
names_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == list || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
			return 1;
		p += n;
	}
	return 0;
}

/* The host that holds a name now (its latest certificate, not revoked). */
static size_t
ca_name_holder(ca_ctx *ca, const hostname *h)
{
	size_t i, e;
	const cert_rec *c;

	if (!ca->names_ready) {
		ca->names_ready = 1;
		for (i = 0; i < ca->ncerts; i++)
			if (ca_index_names(ca, i) < 0)
				return SIZE_MAX;
	}
	snap_load_name(ca, h->text);    /* candidates from the index, if any */
	e = imap_get(&ca->by_name, (const unsigned char *)h->text, strlen(h->text),
		key_name, ca);
	/* I5: the holder is the host with a valid certificate that carries
	 * the name (under I4 those are its newest and the one it renewed
	 * from, which have the same names). Expired or revoked: nobody's. */
	for (; e != SIZE_MAX; e = ca->name_keys[e].next) {
		size_t k;
		i = ca->name_keys[e].host;
		for (k = ca->hosts[i].last; k != SIZE_MAX; k = ca->certs[k].prev_of_host) {
			c = &ca->certs[k];
			if (cert_is_valid(c, g.now) && names_has(c->names, h->text))
				return i;
		}
	}
	return SIZE_MAX;
}

/*
 * I5 for a request of host hi (SIZE_MAX: a new host): another host that
 * holds the name, or SIZE_MAX. A name shared with ca share may be held by
 * every host of the share at once; to anyone else it is held.
 */
static size_t
ca_name_conflict(ca_ctx *ca, const hostname *h, size_t hi)
{
	size_t e, k, i;
	int mine;

	ca_name_holder(ca, h);          /* builds the name map, loads candidates */
	mine = hi != SIZE_MAX && share_has(ca, h->text, ca->hosts[hi].hostid);
	e = imap_get(&ca->by_name, (const unsigned char *)h->text, strlen(h->text),
		key_name, ca);
	for (; e != SIZE_MAX; e = ca->name_keys[e].next) {
		i = ca->name_keys[e].host;
		if (i == hi || (mine && share_has(ca, h->text, ca->hosts[i].hostid)))
			continue;
		for (k = ca->hosts[i].last; k != SIZE_MAX; k = ca->certs[k].prev_of_host)
			if (cert_is_valid(&ca->certs[k], g.now) && names_has(ca->certs[k].names, h->text))
				return i;
	}
	return SIZE_MAX;
}

static void
serial_hex(char *out, const unsigned char *s, size_t len)
{
	hex_encode(out, s, len, 1, 0);
}

/* ---- Tokens ---- */

static void
token_hash(const unsigned char salt[16], const char *letters, unsigned char out[32])
{
	br_sha256_context h;

	br_sha256_init(&h);
	br_sha256_update(&h, "hostca token v1", 15);
	br_sha256_update(&h, salt, 16);
	br_sha256_update(&h, letters, TOKEN_LETTERS);
	br_sha256_out(&h, out);
}

/* A key's own wrap key: HMAC over its encoding. 0, or -1. */
static int
key_kek_base(const hostca_key *key, unsigned char out[32])
{
	unsigned char *d;
	size_t n;

	if ((n = hostca_key_encode(NULL, key)) == 0 || (d = malloc(n)) == NULL)
		return -1;
	if (hostca_key_encode(d, key) != n) {
		hostca_wipe(d, n);
		free(d);
		return -1;
	}
	hmac_sha256(d, n, "hostca token wrap v2", 20, NULL, 0, out);
	hostca_wipe(d, n);
	free(d);
	return 0;
}

/*
 * The key that wraps each token's MAC key K at rest, derived from the CA
 * key: whoever reads the CA directory without the CA key's passphrase
 * cannot verify, nor forge, a token proof.
 */
static int
ca_kek(ca_ctx *ca)
{
	if (ca->have_kek)
		return 0;
	if (!ca->have_key || key_kek_base(&ca->key, ca->kek) < 0)
		return -1;
	ca->have_kek = 1;
	return 0;
}

/* K <-> its wrapped form (an XOR with a pad bound to the token's id). */
static void
token_wrap_kek(const unsigned char kek[32], const unsigned char id[TOKEN_ID_LEN],
	const unsigned char in[32], unsigned char out[32])
{
	unsigned char pad[32];
	size_t i;

	hmac_sha256(kek, 32, "hostca token pad v2", 19, id, TOKEN_ID_LEN, pad);
	for (i = 0; i < 32; i++)
		out[i] = in[i] ^ pad[i];
	hostca_wipe(pad, sizeof pad);
}

static void
token_wrap(const ca_ctx *ca, const unsigned char id[TOKEN_ID_LEN],
	const unsigned char in[32], unsigned char out[32])
{
	token_wrap_kek(ca->kek, id, in, out);
}

/* Can token i authorize now? 0, or -1 with why. */
static int
token_usable(const ca_ctx *ca, size_t i, char *why)
{
	const token_rec *t = &ca->tokens[i];
	char tt[32];

	if (t->deleted) {
		set_why(why, "token '%s' was deleted", t->name);
		return -1;
	}
	if (t->expires < g.now) {
		set_why(why, "token '%s' expired on %s", t->name, time_iso(tt, t->expires));
		return -1;
	}
	if (t->consumed) {
		set_why(why, "reissue token '%s' was consumed: host %s has been reissued"
			" since it was made (one reissue, one authorization)", t->name, t->hostid);
		return -1;
	}
	if (t->uses >= t->max) {
		set_why(why, "token '%s' is used up (%u of %u uses)", t->name, t->uses, t->max);
		return -1;
	}
	return 0;
}

/*
 * Finds the token a typed value belongs to (by its id, or for tokens made
 * before proofs by its salted hash, compared in constant time), whatever
 * its state; SIZE_MAX if none.
 */
static size_t
token_find_text(const ca_ctx *ca, const char *text)
{
	char letters[TOKEN_LETTERS + 1];
	unsigned char h[32], id[TOKEN_ID_LEN], k[32];
	size_t i, found = SIZE_MAX;

	if (token_normalize(text, letters) < 0)
		return SIZE_MAX;
	token_derive(letters, id, k);
	for (i = 0; i < ca->ntokens; i++) {
		const token_rec *t = &ca->tokens[i];
		if (t->forgotten)
			continue;
		if (t->v2) {
			if (ct_equal(t->id, id, TOKEN_ID_LEN))
				found = i;
		} else {
			token_hash(t->salt, letters, h);
			if (ct_equal(h, t->hash, 32))
				found = i;
		}
	}
	hostca_wipe(letters, sizeof letters);
	hostca_wipe(k, sizeof k);
	return found;
}

/* A token typed at the CA (--token): found and usable. */
static int
token_match(ca_ctx *ca, const char *text, size_t *idx, char *why)
{
	char letters[TOKEN_LETTERS + 1];

	*idx = SIZE_MAX;
	if (token_normalize(text, letters) < 0) {
		hostca_wipe(letters, sizeof letters);
		set_why(why, "the token is mistyped: a token is 16 letters A-Z"
			" (spaces and dashes are ignored)");
		return -1;
	}
	hostca_wipe(letters, sizeof letters);
	if ((*idx = token_find_text(ca, text)) == SIZE_MAX) {
		set_why(why, "unknown token (mistyped, or from another CA)");
		return -1;
	}
	return token_usable(ca, *idx, why);
}

/* A token proof from a request: the token it names, its MAC over the
 * request's info (info_hash), and the token's state. */
static int
token_match_proof(ca_ctx *ca, const unsigned char id[TOKEN_ID_LEN],
	const unsigned char mac[32], const unsigned char info_hash[32], size_t *idx,
	char *why)
{
	unsigned char k[32], want[32];
	size_t i;
	int good;

	*idx = SIZE_MAX;
	for (i = 0; i < ca->ntokens; i++)
		if (ca->tokens[i].v2 && !ca->tokens[i].forgotten
			&& ct_equal(ca->tokens[i].id, id, TOKEN_ID_LEN))
			*idx = i;
	if (*idx == SIZE_MAX) {
		set_why(why, "the request's token proof names an unknown token"
			" (mistyped, or from another CA)");
		return -1;
	}
	if (ca_kek(ca) < 0) {
		set_why(why, "the CA key is needed to check a token proof");
		return -1;
	}
	token_wrap(ca, ca->tokens[*idx].id, ca->tokens[*idx].wk, k);
	token_proof_mac(k, info_hash, want);
	good = ct_equal(want, mac, 32);
	hostca_wipe(k, sizeof k);
	if (!good) {
		set_why(why, "the request's token proof does not verify: it was made for"
			" another request (a copied proof, or a request changed on the way)");
		return -1;
	}
	return token_usable(ca, *idx, why);
}

/* ---- Signing ---- */

#define R_ISSUED    0
#define R_AGAIN     1
#define R_REFUSED  -1

typedef struct {
	int status;
	char why[2 * WHY_CAP];
	char hostid[HOSTCA_UUID_LEN + 1];   /* of the certificate ("" = new) */
	char claim[HOSTCA_UUID_LEN + 1];    /* the request's own host ID */
	size_t cert;                /* issued or handed back */
	int kind;
	char token[MAX_TOKEN_NAME + 1];
	size_t superseded;
	/* the decision, for ca_issue */
	size_t host;                /* the host's record, or SIZE_MAX (new) */
	size_t keep;                /* a renewal: the certificate renewed from */
	size_t tok;                 /* the token to spend, or SIZE_MAX */
	unsigned char req[32];      /* the request's identity (I9) */
	unsigned char keyfp[32];
	int64_t nb, na;
	char note[WHY_CAP];         /* something the operator should know */
	int pre;                    /* csr decoded already (pre_err, pre_why) */
	int pre_err;
	char pre_why[WHY_CAP];
	unsigned char *tbs;         /* deferred: the body to sign */
	size_t tbs_len;
	csr_info csr;
	/* set by the caller, kept by ca_decide */
	int from_media;             /* the request came on the media */
	int has_proof;              /* with a token proof (section 4) */
	unsigned char proof_id[TOKEN_ID_LEN], proof_mac[32];
} sign_result;

static int
names_equal_set(const hostname *a, size_t na, const char *list)
{
	hostname b[HOSTCA_MAX_NAMES];
	size_t nb, i, k;

	if (names_parse(list, b, &nb) < 0 || nb != na)
		return 0;
	for (i = 0; i < na; i++) {
		for (k = 0; k < nb; k++)
			if (hostname_eq(&a[i], &b[k]))
				break;
		if (k == nb)
			return 0;
	}
	return 1;
}


/* Adds to what the operator should know of a request ("; " between). */
static void fingerprint_text(char *out, const unsigned char fp[32]);

/* One request's verdict as a JSON object ("requests" of ca sign).
 * preview: --list (nothing was signed). */
static void
sign_json(const ca_ctx *ca, const sign_result *sr, const char *file, int first, int preview)
{
	char kt[16], fp[96], sh[41];
	unsigned char kfp[32];
	size_t j;
	int ok = sr->status != R_REFUSED && sr->csr.pub.kind != 0;
	const char *p;

	if (ok) {
		pubkey_fingerprint(&sr->csr.pub, kfp);
		fingerprint_text(fp, kfp);
		pubkey_type_name(kt, &sr->csr.pub);
	}
	printf("%s{\"file\":", first ? "" : ",");
	if (file != NULL)
		json_str(file);
	else
		printf("null");
	printf(",\"verdict\":\"%s\",\"host_id\":", sr->status == R_REFUSED ? "refused"
		: sr->status == R_AGAIN ? "issued-already" : preview ? "would-issue" : "issued");
	if (sr->kind == KIND_NEW && !sr->claim[0] && (preview || sr->status == R_REFUSED))
		printf("null");
	else if (sr->hostid[0])
		json_str(sr->hostid);
	else if (sr->claim[0])
		json_str(sr->claim);
	else
		printf("null");
	printf(",\"kind\":");
	if (sr->status != R_REFUSED && sr->kind)
		printf("\"%s\"", kind_names[sr->kind]);
	else
		printf("null");
	printf(",\"names\":[");
	for (j = 0; ok && j < sr->csr.nnames; j++) {
		if (j)
			putchar(',');
		json_str(sr->csr.names[j].text);
	}
	printf("],\"key_type\":");
	if (ok)
		printf("\"%s\",\"key_sha256\":\"%s\"", kt, fp);
	else
		printf("null,\"key_sha256\":null");
	printf(",\"token\":");
	if (sr->token[0])
		json_str(sr->token);
	else
		printf("null");
	printf(",\"serial\":");
	if (!preview && sr->status != R_REFUSED && sr->cert != SIZE_MAX && sr->cert < ca->ncerts) {
		serial_hex(sh, ca->certs[sr->cert].serial, ca->certs[sr->cert].serial_len);
		printf("\"%s\"", sh);
	} else {
		printf("null");
	}
	printf(",\"reason\":");
	if (sr->status == R_REFUSED)
		json_str(sr->why);
	else
		printf("null");
	/* notes: "a; b" as a list */
	printf(",\"notes\":[");
	for (p = sr->note, j = 0; *p; j++) {
		const char *e = strstr(p, "; ");
		size_t l = e ? (size_t)(e - p) : strlen(p);
		char one[WHY_CAP];
		snprintf(one, sizeof one, "%.*s", (int)l, p);
		if (j)
			putchar(',');
		json_str(one);
		p += l + (e ? 2 : 0);
	}
	printf("]}");
}

static void
note_add(sign_result *res, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(res->note);

	if (n > 0 && n + 2 < sizeof res->note) {
		strcpy(res->note + n, "; ");
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(res->note + n, sizeof res->note - n, fmt, ap);
	va_end(ap);
}

static int
refuse(sign_result *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->why, sizeof res->why, fmt, ap);
	va_end(ap);
	res->status = R_REFUSED;
	return R_REFUSED;
}

/*
 * THE DECISION. What the CA does with one request is a function of the
 * state, the request and the clock; it writes nothing (ca_issue carries
 * a decision out). ca sign --media, --list and --csr all come here, one
 * request after the other, each seeing the decisions before it (I10).
 *
 *   step                                  outcome
 *   same request issued before (I9)       hand the certificate back
 *   not a valid request                   refuse: why
 *   the CA certificate has expired (I8)   refuse
 *   key revoked as compromised (I1)       refuse
 *   a reissue token                       reissue of the token's host
 *   a known host ID, and the request is
 *     signed by the key of its newest
 *     certificate, valid, same names (I3) renewal (a token at very-high)
 *   a known host ID, anything else        reissue: needs an open window
 *                                         that vouches for the key (I6)
 *   an unknown host ID or none, and an
 *     open window vouches for its key     reissue of the window's host
 *   an unknown host ID or none            new host (a token unless medium)
 *   a name that another host holds (I5)   refuse: who holds it, the way out
 *
 * Issuing then supersedes every other valid certificate of the host
 * (all of them for a reissue, all but the one renewed from for a
 * renewal: I4), and a reissue consumes the host's other reissue tokens
 * and its window (I7).
 */
static int
ca_decide(ca_ctx *ca, const unsigned char *der, size_t len,
	const char *token_text, sign_result *res)
{
	unsigned char legacy[32];
	size_t ci, hi = SIZE_MAX, tok = SIZE_MAX, i;
	const char *text;
	char why[WHY_CAP], tokwhy[WHY_CAP], t[32];
	int tokerr = -1, err, given;
	csr_info *c = &res->csr;
	const struct window *w;

	{
		/* keep what the caller decoded already */
		int pre = res->pre, pre_err = res->pre_err;
		char pre_why[WHY_CAP];
		memcpy(pre_why, res->pre_why, sizeof pre_why);
		memset(res, 0, offsetof(sign_result, csr));
		res->pre = pre;
		res->pre_err = pre_err;
		memcpy(res->pre_why, pre_why, sizeof pre_why);
	}
	res->status = R_REFUSED;
	res->cert = res->host = res->keep = res->tok = SIZE_MAX;
	why[0] = 0;
	if (res->pre) {
		err = res->pre_err;
		strcpy(why, res->pre_why);
	} else {
		err = csr_decode(c, der, len, why);
	}
	if (err < 0 || csr_info_hash(der, len, res->req) < 0) {
		sha256_once(res->req, der, len);   /* recorded once by this */
		return refuse(res, "%s", why[0] ? why : "not a certificate request");
	}
	strcpy(res->claim, c->hostid);

	/* The same request again (a re-run after a crash or a yanked stick,
	 * or a re-encoded copy): hand back what was issued; spend nothing.
	 * (Journals before I9 name requests by the hash of their DER.) */
	sha256_once(legacy, der, len);
	if ((ci = ca_find_req(ca, res->req)) != SIZE_MAX
		|| (ci = ca_find_req(ca, legacy)) != SIZE_MAX) {
		cert_rec *cr = &ca->certs[ci];
		res->status = R_AGAIN;
		res->cert = ci;
		res->kind = cr->kind;
		strcpy(res->hostid, cr->hostid);
		if (!res->claim[0])
			strcpy(res->claim, cr->hostid);
		return R_AGAIN;
	}
	pubkey_fingerprint(&c->pub, res->keyfp);

	/* I8: an expired CA issues nothing. */
	res->nb = g.now - ca->backdate;
	res->na = g.now + ca->cert_days * 86400;
	if (res->na > ca->ca.na)
		res->na = ca->ca.na;      /* never beyond the CA's own validity */
	if (ca->ca.na <= g.now || res->na <= res->nb)
		return refuse(res, "the CA certificate expired on %s: this CA issues"
			" nothing until it has a new certificate", time_iso(t, ca->ca.na));

	/* I1: a key revoked as compromised is never certified again. */
	if (hashset_has(&ca->badkeys, res->keyfp))
		return refuse(res, "this key was revoked as compromised: it is never"
			" certified again; the host needs a new key (hostca host request"
			" --new-key ...)");

	/* The token: typed at the CA (--token, or a foreign CSR's
	 * challengePassword there), or proven by the request -- never the
	 * token itself on the media. */
	text = token_text;
	if (c->has_challenge && res->from_media) {
		size_t ti = token_find_text(ca, c->challenge);
		if (ti != SIZE_MAX)
			return refuse(res, "the request carries token '%s' in clear: whoever"
				" copied the stick can use it. Delete it (hostca token delete %s),"
				" make a new one, and let the host write its request with"
				" 'hostca host request --token', which sends a proof, never the"
				" token; a foreign CSR goes through 'hostca ca sign --csr FILE"
				" --token-file F' at the CA", ca->tokens[ti].name, ca->tokens[ti].name);
		if (ca->security > SEC_MEDIUM)
			return refuse(res, "the request carries a challengePassword that is no"
				" token of this CA (hostca hosts send a token proof, never the"
				" token; a foreign CSR goes through 'hostca ca sign --csr FILE"
				" --token-file F')");
		note_add(res, "its challengePassword is no token of this CA: ignored"
			" (security level medium)");
	} else if (c->has_challenge) {
		char a[TOKEN_LETTERS + 1], b[TOKEN_LETTERS + 1];
		int same = text == NULL || (token_normalize(text, a) == 0
			&& token_normalize(c->challenge, b) == 0 && strcmp(a, b) == 0);
		hostca_wipe(a, sizeof a);
		hostca_wipe(b, sizeof b);
		if (!same)
			return refuse(res, "the request carries a token that differs from --token");
		text = c->challenge;
	}
	given = text != NULL || res->has_proof;
	if (res->has_proof)
		tokerr = token_match_proof(ca, res->proof_id, res->proof_mac, res->req,
			&tok, tokwhy);
	else if (text != NULL)
		tokerr = token_match(ca, text, &tok, tokwhy);

	if (tokerr == 0 && ca->tokens[tok].kind == TOK_REISSUE) {
		/* A reissue token names the host: the certificate gets that
		 * host ID even when the request comes from a reinstalled host
		 * that lost it. */
		const token_rec *tr = &ca->tokens[tok];
		if (c->hostid[0] && strcmp(c->hostid, tr->hostid) != 0
			&& ca_find_host(ca, c->hostid) != SIZE_MAX)
			return refuse(res, "the request comes from known host %s, but reissue"
				" token '%s' is bound to host %s", c->hostid, tr->name, tr->hostid);
		strcpy(res->hostid, tr->hostid);
		hi = ca_find_host(ca, tr->hostid);
		res->kind = KIND_REISSUE;
	} else if (c->hostid[0] && (hi = ca_find_host(ca, c->hostid)) != SIZE_MAX) {
		const cert_rec *last = &ca->certs[ca->hosts[hi].last];
		strcpy(res->hostid, c->hostid);
		w = window_find(ca, c->hostid);
		if (cert_is_valid(last, g.now) && ct_equal(last->keyfp, res->keyfp, 32)
			&& names_equal_set(c->names, c->nnames, last->names)) {
			/* I3: a renewal, proven by the newest certificate's key */
			res->kind = KIND_RENEWAL;
			res->keep = ca->hosts[hi].last;
			if (ca->security == SEC_VERY_HIGH) {
				if (!given)
					return refuse(res, "renewal needs a token at security"
						" level very-high");
				if (tokerr < 0)
					return refuse(res, "%s", tokwhy);
			} else {
				tok = SIZE_MAX;   /* not needed: not spent */
			}
		} else if (window_open(ca, w) && (ct_equal(last->keyfp, res->keyfp, 32)
			|| (w->has_key && ct_equal(w->keyfp, res->keyfp, 32)))) {
			/* I6: the window vouches for this key */
			res->kind = KIND_REISSUE;
			tok = SIZE_MAX;
		} else {
			char reason[160];
			res->kind = KIND_REISSUE;
			if (last->revoked)
				snprintf(reason, sizeof reason, "its newest certificate was revoked");
			else if (last->na < g.now)
				snprintf(reason, sizeof reason, "its newest certificate expired on %s",
					time_iso(t, last->na));
			else if (!ct_equal(last->keyfp, res->keyfp, 32))
				snprintf(reason, sizeof reason, "the request has a new key");
			else
				snprintf(reason, sizeof reason, "the request changes its names");
			return refuse(res, "host %s is known and %s: that is a reissue, which"
				" needs a reissue token (hostca token create --reissue --host %s)%s%s%s",
				res->hostid, reason, res->hostid,
				ca->security == SEC_VERY_HIGH ? ""
				: " or an open window for this key (hostca ca allow-reissue --host ",
				ca->security == SEC_VERY_HIGH ? "" : res->hostid,
				ca->security == SEC_VERY_HIGH ? ""
				: tokerr == 0 ? " --key SHA256); an authorization token enrols new"
				" hosts only" : " --key SHA256)");
		}
	} else {
		/* No known host ID: a window that vouches for this very key
		 * (a reinstall, I6), or a new host. */
		size_t k;
		for (k = 0; k < ca->nwindows; k++) {
			w = &ca->windows[k];
			if (window_open(ca, w) && w->has_key && ct_equal(w->keyfp, res->keyfp, 32))
				break;
		}
		if (k < ca->nwindows && (hi = ca_find_host(ca, ca->windows[k].hostid)) != SIZE_MAX) {
			strcpy(res->hostid, ca->windows[k].hostid);
			res->kind = KIND_REISSUE;
			tok = SIZE_MAX;
		} else {
			hi = SIZE_MAX;
			strcpy(res->hostid, c->hostid);     /* "" is assigned at issue */
			res->kind = KIND_NEW;
			if (!given && ca->security > SEC_MEDIUM)
				return refuse(res, "a new host needs an authorization token at"
					" security level %s (hostca token create --name NAME;"
					" then hostca host request --token T)",
					security_names[ca->security]);
			if (given && tokerr < 0)
				return refuse(res, "%s", tokwhy);
		}
	}
	if (tok != SIZE_MAX && tokerr < 0)
		return refuse(res, "%s", tokwhy);

	/* I5: one holder per name (or the hosts that share it). */
	for (i = 0; i < c->nnames; i++) {
		size_t holder = ca_name_conflict(ca, &c->names[i], hi);
		struct share *shr = share_find(ca, c->names[i].text);
		if (shr != NULL && (hi == SIZE_MAX || !names_has(shr->hosts, ca->hosts[hi].hostid)))
			return refuse(res, "the name '%s' is shared by hosts %s (ca share):"
				" only they may carry it", c->names[i].text, shr->hosts);
		if (holder != SIZE_MAX) {
			const char *hid = ca->hosts[holder].hostid;
			/* A foreign CSR that renews: the holder's own key, but no
			 * host ID (CSRs that hostca did not make carry none). */
			if (!c->hostid[0] && ct_equal(ca->certs[ca->hosts[holder].last].keyfp,
				res->keyfp, 32))
				return refuse(res, "the name '%s' is held by host %s, and this"
					" request has that host's key but no host ID: to renew,"
					" repeat the host ID in the request (a subjectAltName URI"
					" urn:uuid:%s, or CN=%s)", c->names[i].text, hid, hid, hid);
			return refuse(res, "the name '%s' is held by host %s (a valid"
				" certificate carries it); if that host is gone, revoke it"
				" (hostca ca revoke --host %s); if this is that machine"
				" reinstalled, give it a reissue token (hostca token create"
				" --reissue --host %s)", c->names[i].text, hid, hid, hid);
		}
	}
	res->host = hi;
	res->tok = tok;
	if (tok != SIZE_MAX)
		strcpy(res->token, ca->tokens[tok].name);
	if (hi != SIZE_MAX && !ct_equal(ca->certs[ca->hosts[hi].last].keyfp, res->keyfp, 32))
		note_add(res, "its key is not the key of host %s's newest certificate",
			ca->hosts[hi].hostid);
	res->status = R_ISSUED;
	return R_ISSUED;
}

/*
 * Carries out a decision to issue: the issue event (the certificate, the
 * token use, the serials it supersedes) is queued in the journal and
 * applied; the caller commits. In a preview (ca->preview) the event is
 * applied without a certificate and never written.
 */
static void
ca_issue(ca_ctx *ca, sign_result *res)
{
	unsigned char serial[16];
	tbs_params t;
	unsigned char *cert = NULL;
	size_t cl = 0, fl, k, nsup = 0, hi = res->host;
	char *fields = NULL, *b64 = NULL, *names = NULL, *sup = NULL;
	char sh[41], fph[65], rqh[65];
	const csr_info *c = &res->csr;

	if (!res->hostid[0])
		uuid_from_random(res->hostid, &ca->rng);
	do {
		rng_bytes(&ca->rng, serial, sizeof serial);
		serial[0] &= 0x7f;
		if (serial[0] == 0)
			serial[0] = 0x01;
	} while (ca_find_serial(ca, serial, sizeof serial) != SIZE_MAX);
	memset(&t, 0, sizeof t);
	t.serial = serial;
	t.serial_len = sizeof serial;
	t.sig_alg = key_sig_alg(&ca->key);
	t.issuer = ca->ca.subject;
	t.issuer_len = ca->ca.subject_len;
	t.nb = res->nb;
	t.na = res->na;
	t.cn = res->hostid;
	t.pub = &c->pub;
	pubkey_keyid(&c->pub, t.ski);
	t.aki = ca->ca.ski;
	t.hostid = res->hostid;
	t.names = c->names;
	t.nnames = c->nnames;
	if (ca->preview) {
		/* no certificate: the event alone, for the decisions after it */
	} else if (ca->defer) {
		/* batch: the body now, the signature later (in parallel) */
		res->tbs_len = der_encode2(NULL, enc_tbs, &t);
		if (res->tbs_len == 0 || (res->tbs = malloc(res->tbs_len)) == NULL
			|| der_encode2(res->tbs, enc_tbs, &t) != res->tbs_len) {
			refuse(res, "internal error: cannot build the certificate");
			return;
		}
	} else if ((cert = cert_build(&t, &ca->key, &cl)) == NULL) {
		refuse(res, "internal error: cannot build the certificate");
		return;
	}
	k = hi != SIZE_MAX ? ca->hosts[hi].ncerts : 0;
	sup = malloc(41 * k + 1);
	names = names_join(c->names, c->nnames);
	b64 = malloc(cl / 3 * 4 + 5);
	fl = cl / 3 * 4 + 1024 + 4 * HOSTCA_MAX_NAMES * (HOSTCA_MAX_NAME_LEN + 1) + 41 * k;
	fields = malloc(fl);
	if (sup == NULL || names == NULL || b64 == NULL || fields == NULL) {
		refuse(res, "out of memory");
		goto out;
	}
	sup[0] = 0;
	/* I4: every other valid certificate of the host is revoked
	 * (superseded) by the same event that issues -- for a renewal, all
	 * but the one it renews from. */
	for (k = hi != SIZE_MAX ? ca->hosts[hi].last : SIZE_MAX; k != SIZE_MAX;
		k = ca->certs[k].prev_of_host) {
		if (k == res->keep || !cert_is_valid(&ca->certs[k], g.now))
			continue;
		if (nsup++)
			str_append(sup, ",");
		serial_hex(sup + strlen(sup), ca->certs[k].serial, ca->certs[k].serial_len);
	}
	if (cert != NULL)
		b64_encode(b64, cert, cl);
	serial_hex(sh, serial, sizeof serial);
	hex_encode(fph, res->keyfp, 32, 0, 0);
	hex_encode(rqh, res->req, 32, 0, 0);
	/* cert= comes last: a deferred event gets it when signed */
	snprintf(fields, fl, "serial=%s host=%s names=%s nb=%lld na=%lld keyfp=%s"
		" req=%s token=%s kind=%s%s%s%s%s", sh, res->hostid, names,
		(long long)t.nb, (long long)t.na, fph, rqh,
		res->token[0] ? res->token : "-", kind_names[res->kind],
		nsup ? " supersedes=" : "", nsup ? sup : "",
		cert != NULL ? " cert=" : "", cert != NULL ? b64 : "");
	if (journal_add(ca, "issue", fields) < 0) {
		refuse(res, "cannot record the certificate");
	} else {
		res->cert = ca->ncerts - 1;
		res->superseded = nsup;
		if (ca->defer)
			ca->dq[ca->ndq - 1].cert = ca->preview ? SIZE_MAX : res->cert;
	}
out:
	free(cert);
	free(sup);
	free(names);
	free(b64);
	free(fields);
}

/* One request: the decision, then (unless refused or handed back) the
 * issue. */
static void
ca_sign_one(ca_ctx *ca, const unsigned char *der, size_t len,
	const char *token_text, sign_result *res)
{
	if (ca_decide(ca, der, len, token_text, res) == R_ISSUED) {
		if (res->csr.crit_ignored[0])
			note_add(res, "the request asks for critical extension %s, which hostca"
				" does not put in certificates: signed without it",
				res->csr.crit_ignored);
		ca_issue(ca, res);
	}
}

/* Records a refusal in the history (best effort; never blocks), once
 * per request: the same request refused again is not recorded again. */
static void
ca_record_refusal(ca_ctx *ca, const sign_result *r)
{
	char f[4 * sizeof r->why + 128], w[3 * sizeof r->why + 1], rq[65];
	static const unsigned char zero[32];

	if (memcmp(r->req, zero, 32) != 0) {
		if (hashset_has(&ca->refused, r->req))
			return;
		hex_encode(rq, r->req, 32, 0, 0);
	} else {
		rq[0] = 0;
	}
	snprintf(f, sizeof f, "host=%s%s%s why=%s", r->claim[0] ? r->claim : "-",
		rq[0] ? " req=" : "", rq, esc(w, sizeof w, r->why));
	journal_add(ca, "refuse", f);
}

/* Response file: host certificate, then the CA certificate. */
static int
ca_response_pem(ca_ctx *ca, size_t ci, char **out, size_t *out_len)
{
	const unsigned char *der;
	size_t dl, n1, n2;

	if ((der = ca_cert_der(ca, ci, &dl)) == NULL)
		return -1;
	n1 = hostca_pem_encode(NULL, "CERTIFICATE", der, dl);
	n2 = hostca_pem_encode(NULL, "CERTIFICATE", ca->ca_der, ca->ca_len);
	if ((*out = malloc(n1 + n2)) == NULL)
		return -1;
	hostca_pem_encode(*out, "CERTIFICATE", der, dl);
	hostca_pem_encode(*out + n1, "CERTIFICATE", ca->ca_der, ca->ca_len);
	*out_len = n1 + n2;
	return 0;
}

static void
describe_result(ca_ctx *ca, const sign_result *r, const char *src, int dry)
{
	char sh[41], s[300];
	const cert_rec *c = r->cert != SIZE_MAX ? &ca->certs[r->cert] : NULL;

	safe_text(s, sizeof s, src);
	if (c)
		serial_hex(sh, c->serial, c->serial_len);
	if (r->status == R_REFUSED)
		msg(s, "refused: %s", r->why);
	else if (r->status == R_AGAIN)
		note(s, "already issued to host %s (serial %s): handed back, nothing spent",
			r->hostid, sh);
	else if (dry)
		note(s, "would issue (%s) to host %s%s%s", kind_names[r->kind], r->hostid,
			r->token[0] ? ", token " : "", r->token);
	else
		note(s, "issued %s certificate %s to host %s%s%s%s", kind_names[r->kind], sh,
			r->hostid, r->token[0] ? " (token '" : "", r->token,
			r->token[0] ? "')" : "");
	if (!dry && r->superseded)
		note(s, "revoked %zu earlier certificate%s of host %s (superseded)",
			r->superseded, r->superseded > 1 ? "s" : "", r->hostid);
	if (r->note[0])
		note(s, "%s", r->note);
}

/* ======================================================================
 * 9a. CLI plumbing: options
 * ====================================================================== */

#define O_STR   1
#define O_FLAG  2
#define O_MULTI 3

typedef struct {
	const char *name;
	int kind;
	const char **str;      /* O_STR */
	int *flag;             /* O_FLAG */
	const char **multi;    /* O_MULTI: array of HOSTCA_MAX_NAMES */
	size_t *nmulti;
	int seen;
} opt;

/*
 * Parses the options of one command. A repeated or unknown option is a
 * usage error (minisign's opt_seen); positional arguments go to pos.
 */
static int
opts_parse(int argc, char **argv, opt *opts, char **pos, int maxpos, int *npos)
{
	int i;
	opt *o;

	*npos = 0;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == 0) {
			if (*npos >= maxpos) {
				cmsg("unexpected argument '%s' (see hostca %s --help)", a, g.cmd);
				return -1;
			}
			pos[(*npos)++] = argv[i];
			continue;
		}
		/* the flags of the global options are welcome after the command too */
		if (strcmp(a, "--json") == 0) {
			g.json = 1;
			continue;
		}
		if (strcmp(a, "-q") == 0) {
			g.quiet = 1;
			continue;
		}
		for (o = opts; o->name != NULL; o++)
			if (strcmp(o->name, a) == 0)
				break;
		if (o->name == NULL) {
			cmsg("unknown option '%s' (see hostca %s --help)", a, g.cmd);
			return -1;
		}
		if (o->seen && o->kind != O_MULTI) {
			cmsg("option %s given twice", a);
			return -1;
		}
		o->seen = 1;
		if (o->kind == O_FLAG) {
			*o->flag = 1;
			continue;
		}
		if (i + 1 >= argc) {
			cmsg("option %s needs a value", a);
			return -1;
		}
		if (o->kind == O_STR) {
			*o->str = argv[++i];
		} else {
			if (*o->nmulti >= HOSTCA_MAX_NAMES) {
				cmsg("option %s given more than %d times", a, HOSTCA_MAX_NAMES);
				return -1;
			}
			o->multi[(*o->nmulti)++] = argv[++i];
		}
	}
	return 0;
}

static int
parse_uint(const char *what, const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max) {
		cmsg("%s must be a whole number from %ld to %ld, not '%s'", what, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int
parse_duration(const char *what, const char *s, int64_t *out)
{
	if (duration_parse(s, out) < 0) {
		cmsg("%s: '%s' is not a positive duration (like 30s, 90m, 24h, 7d)", what, s);
		return -1;
	}
	return 0;
}

/* ======================================================================
 * 9b. CA commands
 * ====================================================================== */

static void
fingerprint_text(char *out, const unsigned char fp[32])
{
	hex_encode(out, fp, 32, 1, ':');
}

static int wipe_file(const char *path);

/*
 * An interrupted ca init leaves its unfinished directory, "CADIR.init-*",
 * with a key in it. The next ca init for that directory removes it (the
 * key overwritten first), and says so.
 */
static void
init_leftovers_remove(const char *parent, const char *cadir)
{
	const char *base = strrchr(cadir, '/');
	char prefix[NAME_MAX + 8], p[PATH_MAX], f[PATH_MAX];
	DIR *d, *e;
	struct dirent *de, *fe;
	size_t pl;

	base = base ? base + 1 : cadir;
	if ((size_t)snprintf(prefix, sizeof prefix, "%s.init-", base) >= sizeof prefix
		|| (d = opendir(parent)) == NULL)
		return;
	pl = strlen(prefix);
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (strncmp(de->d_name, prefix, pl) != 0 || strlen(de->d_name) != pl + 6
			|| fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
			|| !S_ISDIR(st.st_mode))
			continue;
		path_join(p, sizeof p, parent, de->d_name);
		if ((e = opendir(p)) == NULL)
			continue;
		while ((fe = readdir(e)) != NULL) {
			struct stat fs;
			if (fstatat(dirfd(e), fe->d_name, &fs, AT_SYMLINK_NOFOLLOW) == 0
				&& S_ISREG(fs.st_mode))
				wipe_file(path_join(f, sizeof f, p, fe->d_name));
		}
		closedir(e);
		if (rmdir(p) == 0)
			note(p, "removed: an interrupted 'ca init' left it (its key overwritten)");
	}
	closedir(d);
}

static int cmd_ca_show(int argc, char **argv);

/* The files of a CA directory (what ca init writes, ca backup keeps and
 * ca restore writes back; the index is a cache and is rebuilt). */
static const char *const ca_files[] = { "ca.key", "ca.pem", "crl.pem", "journal",
	"journal.head", "prev.key", "prev.pem", "crl-prev.pem", NULL };
#define CA_FILES_REQUIRED 5          /* the first ones; the others: a rollover's */

/* A new CA goes only where none is: dir absent, or an empty directory.
 * who: "hostca", "a restore" (for the message). 0, or -1 (said why). */
static int
ca_dir_is_new(const char *dir, const char *who)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int empty = 1;

	if (lstat(dir, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode) || (d = opendir(dir)) == NULL) {
		msg(dir, "exists and is not a directory; %s never overwrites a CA", who);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = 0;
	closedir(d);
	if (!empty) {
		msg(dir, "already exists and is not empty; %s never overwrites a CA"
			" (choose another directory with -C)", who);
		return -1;
	}
	return 0;
}

/* Removes an unfinished CA directory (CADIR.init-*) and what is in it. */
static void
ca_dir_unfinished_remove(const char *tmp)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; ca_files[i]; i++) {
		path_join(path, sizeof path, tmp, ca_files[i]);
		unlink(path);
	}
	rmdir(tmp);
}

static unsigned char *
ca_cert_make_for(ca_ctx *ca, const hostca_key *subj, const char *name, long days,
	int64_t na_max, size_t *len);

/* A CA certificate for ca's key: the subject CN=name, its own issuer (the
 * same key identifier as subject and authority key ID), valid from an
 * hour ago for days. DER (allocated), or NULL. */
static unsigned char *
ca_cert_make(ca_ctx *ca, const char *name, long days, size_t *len)
{
	return ca_cert_make_for(ca, &ca->key, name, days, 0, len);
}

/*
 * The certificate of subj's key as a CA named name, signed by ca's key:
 * self-signed when subj is ca's key; else a link certificate (issuer the
 * CA's name, authority key ID the CA's), ending no later than na_max.
 */
static unsigned char *
ca_cert_make_for(ca_ctx *ca, const hostca_key *subj, const char *name, long days,
	int64_t na_max, size_t *len)
{
	tbs_params t;
	pubkey pk;
	unsigned char serial[16];

	rng_bytes(&ca->rng, serial, sizeof serial);
	serial[0] &= 0x7f;
	if (serial[0] == 0)
		serial[0] = 1;
	key_pubkey(subj, &pk);
	memset(&t, 0, sizeof t);
	t.serial = serial;
	t.serial_len = sizeof serial;
	t.sig_alg = key_sig_alg(&ca->key);
	t.nb = g.now - 3600;
	t.na = g.now + (int64_t)days * 86400;
	if (na_max > 0 && t.na > na_max)
		t.na = na_max;
	t.cn = name;
	t.pub = &pk;
	t.is_ca = 1;
	pubkey_keyid(&pk, t.ski);
	t.aki = t.ski;
	if (subj != &ca->key) {
		t.issuer = ca->ca.subject;
		t.issuer_len = ca->ca.subject_len;
		t.aki = ca->ca.ski;
	}
	return cert_build(&t, &ca->key, len);
}

static int
cmd_ca_init(int argc, char **argv)
{
	const char *name = NULL, *keyname = "ec-p256", *days_s = NULL, *sec_s = "high";
	const char *pf = NULL;
	int encrypt = 0, npos, key_type, security, r = EXIT_USAGE;
	long days = 7300;
	opt opts[] = {
		{ "--name", O_STR, &name, 0, 0, 0, 0 },
		{ "--key", O_STR, &keyname, 0, 0, 0, 0 },
		{ "--days", O_STR, &days_s, 0, 0, 0, 0 },
		{ "--security", O_STR, &sec_s, 0, 0, 0, 0 },
		{ "--passphrase-file", O_STR, &pf, 0, 0, 0, 0 },
		{ "--encrypt", O_FLAG, 0, &encrypt, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };
	char *pos[1], tmp[PATH_MAX], path[PATH_MAX], parent[PATH_MAX], fp[100];
	char pass[MAX_PASSPHRASE], fields[600], en[3 * MAX_CA_NAME + 1];
	ca_ctx ca;
	unsigned char *cert = NULL;
	size_t cl;

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (name == NULL) {
		cmsg("--name NAME is required");
		return EXIT_USAGE;
	}
	if (strlen(name) == 0 || strlen(name) > MAX_CA_NAME
		|| !text_clean((const unsigned char *)name, strlen(name))) {
		cmsg("--name: 1 to %d printable characters", MAX_CA_NAME);
		return EXIT_USAGE;
	}
	if ((key_type = hostca_key_type_parse(keyname)) == 0) {
		cmsg("--key: '%s' is not one of ec-p256, ec-p384, ec-p521,"
			" rsa-2048, rsa-3072, rsa-4096", keyname);
		return EXIT_USAGE;
	}
	if (days_s != NULL && parse_uint("--days", days_s, 1, 36500, &days) < 0)
		return EXIT_USAGE;
	for (security = 1; security <= 3; security++)
		if (strcmp(sec_s, security_names[security]) == 0)
			break;
	if (security > 3) {
		cmsg("--security: medium, high or very-high, not '%s'", sec_s);
		return EXIT_USAGE;
	}
	if (pf != NULL)
		g.passphrase_file = pf;
	/* Never touch an existing CA: the directory must be absent or empty. */
	if (ca_dir_is_new(g.ca_dir, "hostca") < 0)
		return EXIT_USAGE;
	path_dir(parent, sizeof parent, g.ca_dir);
	init_leftovers_remove(parent, g.ca_dir);
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.init-" MKSTEMP_X, g.ca_dir) >= sizeof tmp
		|| mkdtemp(tmp) == NULL) {
		msg_errno(g.ca_dir, "cannot create a directory next to it");
		return EXIT_USAGE;
	}
	memset(&ca, 0, sizeof ca);
	ca.lock_fd = ca.dir_fd = -1;
	ca.dir = tmp;
	pass[0] = 0;
	if ((g.passphrase_file || getenv("HOSTCA_PASSPHRASE_FILE") || encrypt)
		&& passphrase_get(pass, sizeof pass, 1, g.cmd) < 0)
		goto fail;
	if (rng_open(&ca.rng) < 0) {
		msg("random", "no system random source");
		goto fail;
	}
	if (key_type >= HOSTCA_KEY_RSA_3072)
		cnote("generating a %s key; this can take a while", keyname);
	if (key_generate(&ca.key, key_type, &ca.rng) < 0) {
		cmsg("key generation failed");
		goto fail;
	}
	ca.have_key = 1;
	path_join(path, sizeof path, tmp, "ca.key");
	if (key_store(path, &ca.key, pass[0] ? pass : NULL, &ca.rng) < 0) {
		msg_errno(path, "cannot write");
		goto fail;
	}
	/* The CA certificate. */
	if ((cert = ca_cert_make(&ca, name, days, &cl)) == NULL) {
		cmsg("cannot build the CA certificate");
		goto fail;
	}
	path_join(path, sizeof path, tmp, "ca.pem");
	if (pem_write(path, "CERTIFICATE", cert, cl, 0644) < 0) {
		msg_errno(path, "cannot write");
		goto fail;
	}
	ca.ca_der = cert;
	ca.ca_len = cl;
	cert = NULL;
	if (cert_decode(&ca.ca, ca.ca_der, ca.ca_len, fields) < 0) {
		cmsg("internal error: the CA certificate does not parse: %s", fields);
		goto fail;
	}
	sha256_once(ca.ca_fp, ca.ca_der, ca.ca_len);
	hex_encode(fp, ca.ca_fp, 32, 0, 0);
	snprintf(fields, sizeof fields, "name=%s key=%s security=%d cert-days=365"
		" crl-days=7 token-valid=604800 backdate=3600 fp=%s",
		esc(en, sizeof en, name), keyname, security, fp);
	if (journal_add(&ca, "init", fields) < 0) {
		cmsg("internal error: init event");
		goto fail;
	}
	crl_fields(&ca, fields, sizeof fields, 7);
	if (journal_add(&ca, "crl", fields) < 0) {
		cmsg("internal error: crl event");
		goto fail;
	}
	path_join(path, sizeof path, tmp, "journal");
	if (atomic_write(path, ca.pend, ca.pend_len, 0600) < 0) {
		msg_errno(path, "cannot write");
		goto fail;
	}
	if (ca_write_head(&ca) < 0)
		goto fail;
	if (ca_write_crl_pem(&ca) < 0)
		goto fail;
	/* All or nothing: the finished directory takes the place of the
	 * (absent or empty) target in one rename. */
	if (rename(tmp, g.ca_dir) < 0) {
		msg_errno(g.ca_dir, "cannot create");
		goto fail;
	}
	fsync_dir(parent);
	fingerprint_text(fp, ca.ca_fp);
	if (!g.json)
		printf("%s\n", fp);
	cnote("created CA '%s' (%s, security %s) in %s; read the fingerprint"
		" above to each host's operator", name, keyname, security_names[security],
		g.ca_dir);
	r = 0;
	hostca_wipe(pass, sizeof pass);
	ca_free(&ca);
	if (g.json) {
		/* the new CA, as ca show describes it */
		char *none[1] = { NULL };
		r = cmd_ca_show(0, none);
	}
	return r;
fail:
	hostca_wipe(pass, sizeof pass);
	free(cert);
	ca_free(&ca);
	ca_dir_unfinished_remove(tmp);       /* the half-built directory */
	return r;
}

static const char *
pubkey_desc(char *buf, const pubkey *pk)
{
	return pubkey_type_name(buf, pk);
}

static size_t ca_prev_valid(ca_ctx *ca, int newest, char **list);

/* ca show's rollover lines (or, with --json, its "rollover" value):
 * every CA key in play and the state of the rollover. */
static void
ca_show_rollover(ca_ctx *ca)
{
	char pf[100], kt[16], na[32];
	size_t on = 0, sup = 0;

	if (ca->rolling) {
		on = ca_prev_valid(ca, 1, NULL);
		sup = ca_prev_valid(ca, 0, NULL);
		if (ca_load_prev(ca, 0) < 0)
			return;
		fingerprint_text(pf, ca->prev_fp);
		pubkey_desc(kt, &ca->prev->pub);
		time_iso(na, ca->prev->na);
	}
	if (g.json) {
		printf("{\"state\":\"%s\",\"links\":%zu,\"previous\":",
			ca->rolling ? "in-progress" : ca->nlinks ? "finished" : "none", ca->nlinks);
		if (ca->rolling)
			printf("{\"sha256\":\"%s\",\"key_type\":\"%s\",\"not_after\":\"%s\","
				"\"hosts_on_it\":%zu,\"superseded\":%zu}", pf, kt, na, on, sup);
		else
			printf("null");
		putchar('}');
		return;
	}
	if (!ca->rolling) {
		if (ca->nlinks)
			printf("rollover:     none in progress (%zu finished; sticks carry the"
				" link%s)\n", ca->nlinks, ca->nlinks == 1 ? "" : "s");
		return;
	}
	printf("rollover:     in progress: certificates are issued with the key above;"
		" the old key still signs its CRL\n");
	printf("old CA:       %s, %s, valid until %s\n", pf, kt, na);
	printf("old key:      %zu host%s still on it, %zu certificate%s superseded by"
		" renewals; when none is left: hostca ca rollover --finish\n", on,
		on == 1 ? "" : "s", sup, sup == 1 ? "" : "s");
}

static int
cmd_ca_show(int argc, char **argv)
{
	ca_ctx ca;
	char *pos[1], nb[32], na[32], fp[100], fp1[100], kt[16], cn[32], w[4][160];
	unsigned char sha1[20];
	br_sha1_context h;
	size_t i, nw, valid = 0, tokens = 0;
	int npos, r;
	opt opts[] = { { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if ((r = ca_open(&ca, 0, 0)) != 0)
		return ca_close(&ca, r);
	br_sha1_init(&h);
	br_sha1_update(&h, ca.ca_der, ca.ca_len);
	br_sha1_out(&h, sha1);
	fingerprint_text(fp, ca.ca_fp);
	hex_encode(fp1, sha1, 20, 1, ':');
	for (i = 0; i < ca.ncerts; i++)
		valid += cert_is_valid(&ca.certs[i], g.now);
	for (i = 0; i < ca.ntokens; i++)
		tokens += !ca.tokens[i].deleted && ca.tokens[i].expires >= g.now
			&& ca.tokens[i].uses < ca.tokens[i].max;
	pubkey_desc(kt, &ca.ca.pub);
	time_iso(nb, ca.ca.nb);
	time_iso(na, ca.ca.na);
	time_iso(cn, ca.crl_next);
	ca_warnings(&ca, w, &nw);
	if (g.json) {
		json_key("ca");
		printf("{\"subject\":");
		json_str(ca.ca.subject_text);
		printf(",\"name\":");
		json_str(ca.name);
		printf(",\"key_type\":\"%s\",\"not_before\":\"%s\",\"not_after\":\"%s\","
			"\"sha256\":\"%s\",\"sha1\":\"%s\",\"security\":\"%s\","
			"\"cert_days\":%lld,\"crl_days\":%lld,\"certificates\":%zu,"
			"\"valid\":%zu,\"revoked\":%zu,\"hosts\":%zu,\"tokens\":%zu,"
			"\"crl_number\":%llu,\"crl_next_update\":\"%s\",\"warnings\":[",
			kt, nb, na, fp, fp1, security_names[ca.security],
			(long long)ca.cert_days, (long long)ca.crl_days, ca.ncerts, valid,
			ca.nrevoked, ca.nhosts, tokens, (unsigned long long)ca.crl_number, cn);
		for (i = 0; i < nw; i++) {
			if (i)
				putchar(',');
			json_str(w[i]);
		}
		printf("],\"rollover\":");
		ca_show_rollover(&ca);
		putchar('}');
	} else {
		printf("subject:      %s\n", ca.ca.subject_text);
		printf("key:          %s\n", kt);
		printf("valid:        %s to %s\n", nb, na);
		printf("SHA-256:      %s\n", fp);
		printf("SHA-1:        %s (to read out; pins are SHA-256)\n", fp1);
		printf("security:     %s\n", security_names[ca.security]);
		printf("certificates: %zu issued, %zu valid, %zu revoked\n", ca.ncerts,
			valid, ca.nrevoked);
		printf("hosts:        %zu\n", ca.nhosts);
		printf("tokens:       %zu usable\n", tokens);
		printf("CRL:          #%llu, next update %s\n",
			(unsigned long long)ca.crl_number, cn);
		ca_show_rollover(&ca);
		for (i = 0; i < nw; i++)
			printf("warning:      %s\n", w[i]);
	}
	/* warnings are in the output already */
	ca.name[0] = 0;
	return ca_close(&ca, 0);
}

static const struct {
	const char *key;
	int is_duration;
} config_keys[] = {
	{ "security", 0 }, { "cert-days", 0 }, { "crl-days", 0 },
	{ "token-valid", 1 }, { "backdate", 1 },
};

static void
config_value(ca_ctx *ca, size_t k, char *out)
{
	char d[24];

	switch (k) {
	case 0: strcpy(out, security_names[ca->security]); break;
	case 1: snprintf(out, 32, "%lld", (long long)ca->cert_days); break;
	case 2: snprintf(out, 32, "%lld", (long long)ca->crl_days); break;
	case 3: strcpy(out, duration_text(d, ca->token_valid)); break;
	default: strcpy(out, ca->backdate ? duration_text(d, ca->backdate) : "0"); break;
	}
}

/* "config": the whole configuration, numbers as numbers (seconds). */
static void
config_json(const ca_ctx *ca)
{
	json_key("config");
	printf("{\"security\":\"%s\",\"cert_days\":%lld,\"crl_days\":%lld,"
		"\"token_valid\":%lld,\"backdate\":%lld}", security_names[ca->security],
		(long long)ca->cert_days, (long long)ca->crl_days, (long long)ca->token_valid,
		(long long)ca->backdate);
}

static int
cmd_ca_config(int argc, char **argv)
{
	ca_ctx ca;
	char *pos[2], v[32], f[96];
	size_t k, nk = sizeof config_keys / sizeof config_keys[0];
	int npos, r;
	int64_t val = 0;
	opt opts[] = { { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 2, &npos) < 0)
		return EXIT_USAGE;
	for (k = 0; npos > 0 && k < nk; k++)
		if (strcmp(pos[0], config_keys[k].key) == 0)
			break;
	if (npos > 0 && k == nk) {
		cmsg("unknown key '%s' (security, cert-days, crl-days, token-valid,"
			" backdate)", pos[0]);
		return EXIT_USAGE;
	}
	if (npos == 2) {
		if (k == 0) {
			for (val = 1; val <= 3; val++)
				if (strcmp(pos[1], security_names[val]) == 0)
					break;
			if (val > 3) {
				cmsg("security: medium, high or very-high");
				return EXIT_USAGE;
			}
		} else if (k == 1 || k == 2) {
			long x;
			if (parse_uint(pos[0], pos[1], 1, k == 1 ? 36500 : 366, &x) < 0)
				return EXIT_USAGE;
			val = x;
		} else if (k == 4 && strcmp(pos[1], "0") == 0) {
			val = 0;
		} else if (parse_duration(pos[0], pos[1], &val) < 0) {
			return EXIT_USAGE;
		} else if ((k == 4 && val > 7 * 86400) || (k == 3 && val > 366 * 86400)) {
			cmsg("%s: at most %s", pos[0], k == 4 ? "7d" : "366d");
			return EXIT_USAGE;
		}
	}
	if ((r = ca_open_fast(&ca, npos == 2, 0)) != 0)
		return ca_close(&ca, r);
	if (npos == 2) {
		snprintf(f, sizeof f, "key=%s value=%lld", config_keys[k].key, (long long)val);
		if (journal_add(&ca, "config", f) < 0 || journal_commit(&ca) < 0)
			return ca_close(&ca, EXIT_USAGE);
		config_value(&ca, k, v);
		cnote("%s is now %s", config_keys[k].key, v);
		if (g.json)
			config_json(&ca);
		return ca_close(&ca, 0);
	}
	if (g.json) {
		config_json(&ca);
		return ca_close(&ca, 0);
	}
	for (k = 0; k < nk; k++) {
		if (npos == 1 && strcmp(pos[0], config_keys[k].key) != 0)
			continue;
		config_value(&ca, k, v);
		if (npos == 1) {
			printf("%s\n", v);
		} else {
			printf("%-12s %s\n", config_keys[k].key, v);
		}
	}
	return ca_close(&ca, 0);
}

/* ---- tokens ---- */

static void token_print(const token_rec *t, int json, int first, const char *value);

static int
cmd_token_create(int argc, char **argv)
{
	const char *name = NULL, *max_s = NULL, *valid_s = NULL, *reason = "", *host = NULL;
	int reissue = 0, npos, r;
	long max = 1;
	int64_t valid;
	opt opts[] = {
		{ "--name", O_STR, &name, 0, 0, 0, 0 },
		{ "--max-uses", O_STR, &max_s, 0, 0, 0, 0 },
		{ "--valid", O_STR, &valid_s, 0, 0, 0, 0 },
		{ "--reason", O_STR, &reason, 0, 0, 0, 0 },
		{ "--reissue", O_FLAG, 0, &reissue, 0, 0, 0 },
		{ "--host", O_STR, &host, 0, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };
	char *pos[1], why[WHY_CAP], letters[TOKEN_LETTERS + 1], shown[24];
	char f[1024], en[3 * MAX_TOKEN_NAME + 1], er[3 * MAX_REASON_TEXT + 1];
	char autoname[MAX_TOKEN_NAME + 1], ih[2 * TOKEN_ID_LEN + 1], wh[65], t[32];
	unsigned char id[TOKEN_ID_LEN], mk[32], wk[32];
	ca_ctx ca;
	size_t hi = SIZE_MAX, i, k;

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (!reissue && name == NULL) {
		cmsg("--name NAME is required (or --reissue --host HOST)");
		return EXIT_USAGE;
	}
	if (!reissue && host != NULL) {
		cmsg("--host goes with --reissue");
		return EXIT_USAGE;
	}
	if (reissue && (host == NULL || max_s != NULL)) {
		cmsg(host == NULL ? "--reissue needs --host HOST"
			: "a reissue token is single use: no --max-uses");
		return EXIT_USAGE;
	}
	if (name != NULL && (strlen(name) == 0 || strlen(name) > MAX_TOKEN_NAME
		|| strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"0123456789-_.@") != strlen(name))) {
		cmsg("--name: 1 to %d letters, digits, '-', '_', '.', '@'", MAX_TOKEN_NAME);
		return EXIT_USAGE;
	}
	if (max_s != NULL && parse_uint("--max-uses", max_s, 1, 1000000, &max) < 0)
		return EXIT_USAGE;
	if (strlen(reason) > MAX_REASON_TEXT
		|| !text_clean((const unsigned char *)reason, strlen(reason))) {
		cmsg("--reason: at most %d printable characters", MAX_REASON_TEXT);
		return EXIT_USAGE;
	}
	/* the key: it wraps the token's MAC key at rest */
	if ((r = ca_open_fast(&ca, 1, 1)) != 0)
		return ca_close(&ca, r);
	if (ca_kek(&ca) < 0) {
		cmsg("cannot derive the token wrapping key from the CA key");
		return ca_close(&ca, EXIT_USAGE);
	}
	valid = ca.token_valid;
	if (valid_s != NULL && parse_duration("--valid", valid_s, &valid) < 0)
		return ca_close(&ca, EXIT_USAGE);
	if (valid > 366 * 86400) {
		cmsg("--valid: at most 366d");
		return ca_close(&ca, EXIT_USAGE);
	}
	if (reissue) {
		if ((hi = ca_resolve_host(&ca, host, why)) == SIZE_MAX) {
			cmsg("%s", why);
			return ca_close(&ca, EXIT_REFUSED);
		}
		if (name == NULL) {
			for (k = 1;; k++) {
				snprintf(autoname, sizeof autoname, "reissue-%.8s-%zu",
					ca.hosts[hi].hostid, k);
				if (ca_find_token(&ca, autoname) == SIZE_MAX)
					break;
			}
			name = autoname;
		}
	}
	if (ca_find_token(&ca, name) != SIZE_MAX) {
		cmsg("a token named '%s' exists already (names are unique; expired,"
			" used-up and deleted tokens keep their names until"
			" 'hostca token cleanup')", name);
		return ca_close(&ca, EXIT_REFUSED);
	}
	do {
		for (i = 0; i < TOKEN_LETTERS; i++)
			letters[i] = (char)('A' + rng_below(&ca.rng, 26));
		letters[TOKEN_LETTERS] = 0;
	} while (token_find_text(&ca, letters) != SIZE_MAX);   /* ids are unique */
	token_derive(letters, id, mk);
	token_wrap(&ca, id, mk, wk);
	hostca_wipe(mk, sizeof mk);
	hex_encode(ih, id, TOKEN_ID_LEN, 0, 0);
	hex_encode(wh, wk, 32, 0, 0);
	snprintf(f, sizeof f, "name=%s kind=%s id=%s wk=%s max=%ld expires=%lld%s%s"
		" reason=%s", esc(en, sizeof en, name), reissue ? "reissue" : "auth", ih, wh,
		max, (long long)(g.now + valid), reissue ? " host=" : "",
		reissue ? ca.hosts[hi].hostid : "", esc(er, sizeof er, reason));
	if (journal_add(&ca, "token", f) < 0 || journal_commit(&ca) < 0) {
		hostca_wipe(letters, sizeof letters);
		return ca_close(&ca, EXIT_USAGE);
	}
	for (i = 0, k = 0; i < TOKEN_LETTERS; i++) {
		if (i && i % 4 == 0)
			shown[k++] = '-';
		shown[k++] = letters[i];
	}
	shown[k] = 0;
	if (g.json) {
		/* the token as listed, and its value (shown once) */
		size_t ti = ca_find_token(&ca, name);
		if (ti != SIZE_MAX) {
			json_key("token");
			token_print(&ca.tokens[ti], 1, 1, shown);
		}
	} else {
		printf("%s\n", shown);
	}
	fflush(stdout);
	hostca_wipe(letters, sizeof letters);
	hostca_wipe(shown, sizeof shown);
	if (reissue)
		cnote("reissue token '%s' for host %s, single use, valid until %s;"
			" shown once; the CA keeps only its id and its MAC key, wrapped by"
			" the CA key", name, ca.hosts[hi].hostid,
			time_iso(t, g.now + valid));
	else
		cnote("token '%s', %ld use%s, valid until %s; shown once; the CA keeps"
			" only its id and its MAC key, wrapped by the CA key", name, max, max > 1 ? "s" : "", time_iso(t, g.now + valid));
	return ca_close(&ca, 0);
}

static const char *
token_state(const token_rec *t)
{
	if (t->deleted)
		return "deleted";
	if (t->consumed)
		return "consumed";
	if (t->uses >= t->max)
		return "used-up";
	if (t->expires < g.now)
		return "expired";
	return "usable";
}

static void
token_print(const token_rec *t, int json, int first, const char *value)
{
	char c[32], e[32];

	time_iso(c, t->created);
	time_iso(e, t->expires);
	if (json) {
		printf("%s{\"name\":", first ? "" : ",");
		json_str(t->name);
		printf(",\"kind\":\"%s\",\"state\":\"%s\",\"uses\":%u,\"max_uses\":%u,"
			"\"created\":\"%s\",\"expires\":\"%s\",\"host_id\":",
			t->kind == TOK_REISSUE ? "reissue" : "auth", token_state(t), t->uses,
			t->max, c, e);
		if (t->hostid[0])
			json_str(t->hostid);
		else
			printf("null");
		printf(",\"reason\":");
		if (t->reason[0])
			json_str(t->reason);
		else
			printf("null");
		if (value != NULL) {
			printf(",\"value\":");
			json_str(value);
		}
		printf("}");
	} else {
		printf("%-24s %-8s %-8s %u/%-6u expires %s%s%s\n", t->name,
			t->kind == TOK_REISSUE ? "reissue" : "auth", token_state(t), t->uses,
			t->max, e, t->hostid[0] ? "  host " : "", t->hostid);
	}
}

static int
cmd_token_list(int argc, char **argv)
{
	ca_ctx ca;
	char *pos[1];
	int npos, r;
	size_t i, k;
	opt opts[] = { { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if ((r = ca_open_fast(&ca, 0, 0)) != 0)
		return ca_close(&ca, r);
	if (g.json) {
		json_key("tokens");
		putchar('[');
	} else if (ca.ntokens > 0)
		printf("%-24s %-8s %-8s %-8s %s\n", "NAME", "KIND", "STATE", "USES", "VALIDITY");
	for (i = 0, k = 0; i < ca.ntokens; i++)
		if (!ca.tokens[i].forgotten)
			token_print(&ca.tokens[i], g.json, k++ == 0, NULL);
	if (g.json)
		putchar(']');
	return ca_close(&ca, 0);
}

static int
cmd_token_show(int argc, char **argv)
{
	ca_ctx ca;
	char *pos[1], c[32], e[32];
	int npos, r;
	size_t i;
	const token_rec *t;
	opt opts[] = { { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 1, &npos) < 0)
		return EXIT_USAGE;
	if (npos != 1) {
		cmsg("which token? (hostca token show NAME)");
		return EXIT_USAGE;
	}
	if ((r = ca_open(&ca, 0, 0)) != 0)
		return ca_close(&ca, r);
	if ((i = ca_find_token(&ca, pos[0])) == SIZE_MAX) {
		cmsg("no token named '%s'", pos[0]);
		return ca_close(&ca, EXIT_REFUSED);
	}
	t = &ca.tokens[i];
	if (g.json) {
		json_key("token");
		token_print(t, 1, 1, NULL);
	} else {
		printf("name:     %s\nkind:     %s\nstate:    %s\nuses:     %u of %u\n"
			"created:  %s\nexpires:  %s\n", t->name,
			t->kind == TOK_REISSUE ? "reissue" : "authorization", token_state(t),
			t->uses, t->max, time_iso(c, t->created), time_iso(e, t->expires));
		if (t->hostid[0])
			printf("host:     %s\n", t->hostid);
		if (t->reason[0])
			printf("reason:   %s\n", t->reason);
		for (i = 0; i < ca.ncerts; i++)
			if (ca.certs[i].token == (int)(t - ca.tokens)) {
				char sh[41];
				serial_hex(sh, ca.certs[i].serial, ca.certs[i].serial_len);
				printf("used by:  %s (serial %s, %s)\n", ca.certs[i].hostid, sh,
					time_iso(c, ca.certs[i].issued));
			}
	}
	return ca_close(&ca, 0);
}

static int
cmd_token_delete(int argc, char **argv)
{
	ca_ctx ca;
	char *pos[1], f[1024], en[3 * MAX_TOKEN_NAME + 1], er[3 * MAX_REASON_TEXT + 1];
	const char *reason = "";
	int npos, r;
	size_t i;
	opt opts[] = { { "--reason", O_STR, &reason, 0, 0, 0, 0 }, { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 1, &npos) < 0)
		return EXIT_USAGE;
	if (npos != 1) {
		cmsg("which token? (hostca token delete NAME)");
		return EXIT_USAGE;
	}
	if (strlen(reason) > MAX_REASON_TEXT
		|| !text_clean((const unsigned char *)reason, strlen(reason))) {
		cmsg("--reason: at most %d printable characters", MAX_REASON_TEXT);
		return EXIT_USAGE;
	}
	if ((r = ca_open_fast(&ca, 1, 0)) != 0)
		return ca_close(&ca, r);
	if ((i = ca_find_token(&ca, pos[0])) == SIZE_MAX || ca.tokens[i].deleted) {
		cmsg("no token named '%s'", pos[0]);
		return ca_close(&ca, EXIT_REFUSED);
	}
	snprintf(f, sizeof f, "name=%s reason=%s", esc(en, sizeof en, pos[0]),
		esc(er, sizeof er, reason));
	if (journal_add(&ca, "token-delete", f) < 0 || journal_commit(&ca) < 0)
		return ca_close(&ca, EXIT_USAGE);
	cnote("token '%s' deleted: it authorizes nothing from now on", pos[0]);
	if (g.json) {
		json_key("deleted");
		putchar('[');
		json_str(pos[0]);
		putchar(']');
	}
	return ca_close(&ca, 0);
}

static int
cmd_token_cleanup(int argc, char **argv)
{
	ca_ctx ca;
	char *pos[1], f[256], en[3 * MAX_TOKEN_NAME + 1];
	int npos, r;
	size_t i, n = 0;
	opt opts[] = { { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	unsigned char *gone;

	if ((r = ca_open_fast(&ca, 1, 0)) != 0)
		return ca_close(&ca, r);
	if ((gone = calloc(ca.ntokens + 1, 1)) == NULL)
		return ca_close(&ca, EXIT_USAGE);
	for (i = ca.ntokens; i-- > 0;) {
		const token_rec *t = &ca.tokens[i];
		if (strcmp(token_state(t), "usable") == 0)
			continue;
		if (t->forgotten)
			continue;
		snprintf(f, sizeof f, "name=%s", esc(en, sizeof en, t->name));
		if (journal_add(&ca, "token-cleanup", f) < 0) {
			free(gone);
			return ca_close(&ca, EXIT_USAGE);
		}
		gone[i] = 1;
		n++;
	}
	if (journal_commit(&ca) < 0) {
		free(gone);
		return ca_close(&ca, EXIT_USAGE);
	}
	cnote("%zu expired, used-up or deleted token%s forgotten", n, n == 1 ? "" : "s");
	if (g.json) {
		json_key("deleted");
		putchar('[');
		for (i = 0, n = 0; i < ca.ntokens; i++)
			if (gone[i]) {
				if (n++)
					putchar(',');
				json_str(ca.tokens[i].name);
			}
		putchar(']');
	}
	free(gone);
	return ca_close(&ca, 0);
}

/* ---- ca sign ---- */

static int
token_from_file(const char *file, char *buf, size_t cap)
{
	unsigned char *d;
	size_t n;

	if (file_read(file, 4096, &d, &n) < 0) {
		msg(file, "cannot read the token: %s", read_errstr(errno));
		return -1;
	}
	n = strcspn((char *)d, "\r\n");
	if (n >= cap) {
		hostca_wipe(d, n);
		free(d);
		msg(file, "not a token");
		return -1;
	}
	memcpy(buf, d, n);
	buf[n] = 0;
	hostca_wipe(d, n);
	free(d);
	return 0;
}

/*
 * A command's token: --token, --token-file, or (ask, and a terminal)
 * typed at the prompt; *token stays NULL for none. 0, or -1 (said why).
 */
static int
token_resolve(const char **token, const char *file, char *buf, size_t cap, int ask)
{
	int t;

	if (file != NULL) {
		if (token_from_file(file, buf, cap) < 0)
			return -1;
		*token = buf;
	} else if (*token == NULL && ask) {
		if ((t = token_prompt(buf, cap)) < 0)
			return -1;
		if (t > 0)
			*token = buf;
	}
	return 0;
}

/*
 * A request file: its first CSR block, and the token proof beside it if
 * there is one (res gets it); other blocks and the text around them are
 * ignored. A file that is DER is the CSR alone. The CSR's length, or a
 * negative HOSTCA_ERR_*.
 */
static long
request_unwrap(const unsigned char *data, size_t dl, unsigned char *der, sign_result *res)
{
	static const char *const banners[] = { "CERTIFICATE REQUEST",
		"NEW CERTIFICATE REQUEST" };
	unsigned char pb[64];
	char banner[64];
	long got = 0, n;
	size_t k;

	res->has_proof = 0;
	if (dl > 0 && data[0] == 0x30) {
		memcpy(der, data, dl);
		return (long)dl;
	}
	for (k = 0; k < MAX_PEM_BLOCKS; k++) {
		if ((n = hostca_pem_decode(data, dl, k, banner, der + (got > 0 ? got : 0),
			dl - (size_t)(got > 0 ? got : 0))) < 0)
			break;
		if (strcmp(banner, "HOSTCA TOKEN PROOF") == 0) {
			/* decoded past the CSR in der; copied out, strict */
			if (res->has_proof || (size_t)n > sizeof pb)
				return HOSTCA_ERR_PEM;
			memcpy(pb, der + (got > 0 ? got : 0), (size_t)n);
			if (token_proof_decode(pb, (size_t)n, res->proof_id, res->proof_mac) < 0)
				return HOSTCA_ERR_DER;
			res->has_proof = 1;
		} else if (got == 0 && (strcmp(banner, banners[0]) == 0
			|| strcmp(banner, banners[1]) == 0)) {
			got = n;
		} else if (got == 0 && strcmp(banner, "CERTIFICATE") == 0) {
			return HOSTCA_ERR_NOT_CSR;
		}
	}
	return got > 0 ? got : HOSTCA_ERR_PEM;
}

static int
ca_sign_csr(const char *file, const char *token, const char *out)
{
	ca_ctx ca;
	sign_result *res;
	unsigned char *der, *data;
	size_t len, dl;
	long got;
	int r;

	if (file_read(file, MAX_PEM_FILE, &data, &dl) < 0) {
		msg(file, "cannot read: %s", read_errstr(errno));
		return EXIT_USAGE;
	}
	if ((res = calloc(1, sizeof *res)) == NULL || (der = malloc(dl + 1)) == NULL) {
		free(res);
		free(data);
		return EXIT_USAGE;
	}
	got = request_unwrap(data, dl, der, res);
	free(data);
	if (got <= 0) {
		msg(file, "%s", got == HOSTCA_ERR_NOT_CSR ? "holds a certificate, not a"
			" CERTIFICATE REQUEST" : dl == 0 ? "empty file" : got == HOSTCA_ERR_DER
			? "a damaged HOSTCA TOKEN PROOF block" : "no CERTIFICATE REQUEST PEM"
			" block (or a damaged one)");
		free(der);
		free(res);
		return EXIT_REFUSED;
	}
	len = (size_t)got;
	if ((r = ca_open_fast(&ca, 1, 1)) != 0) {
		free(der);
		free(res);
		return ca_close(&ca, r);
	}
	ca_sign_one(&ca, der, len, token, res);
	if (res->status == R_REFUSED) {
		describe_result(&ca, res, file, 0);
		ca_record_refusal(&ca, res);
		journal_commit(&ca);
		r = EXIT_REFUSED;
	} else if (journal_commit(&ca) < 0) {
		r = EXIT_USAGE;
	} else {
		describe_result(&ca, res, file, 0);
		const unsigned char *cd;
		size_t cl;
		r = 0;
		if (res->superseded && ca_publish_crl(&ca, ca.crl_days) < 0)
			r = EXIT_USAGE;
		cd = ca_cert_der(&ca, res->cert, &cl);
		if (cd == NULL) {
			r = EXIT_USAGE;
		} else if (out != NULL) {
			/* An output, not the CA's state (that is in the journal):
			 * never partial, but no directory sync. */
			if (pem_write_sync(out, "CERTIFICATE", cd, cl, 0644, SYNC_DATA) < 0) {
				msg(out, "cannot write: %s (the certificate is recorded;"
					" run the same command again to get it)", strerror(errno));
				r = EXIT_USAGE;
			}
		} else {
			size_t n = hostca_pem_encode(NULL, "CERTIFICATE", cd, cl);
			char *pem = malloc(n + 1);
			if (pem != NULL) {
				hostca_pem_encode(pem, "CERTIFICATE", cd, cl);
				pem[n] = 0;
				if (g.json) {
					/* stdout is the document: the PEM goes in it */
					json_key("certificate_pem");
					json_str(pem);
				} else {
					fwrite(pem, 1, n, stdout);
				}
				free(pem);
			}
		}
	}
	if (g.json && (r == 0 || res->status == R_REFUSED)) {
		json_key("preview");
		printf("false");
		json_key("requests");
		putchar('[');
		sign_json(&ca, res, NULL, 1, 0);
		putchar(']');
		json_key("issued");
		printf("%d", res->status == R_ISSUED);
		json_key("issued_already");
		printf("%d", res->status == R_AGAIN);
		json_key("refused");
		printf("%d", res->status == R_REFUSED);
	}
	free(der);
	free(res);
	return ca_close(&ca, r);
}

typedef struct {
	char name[256];        /* entry name in requests/ (only used with the dirfd) */
	sign_result *res;      /* while its chunk is handled */
	int read_error, status, skip;
	size_t cert;
	char claim[HOSTCA_UUID_LEN + 1], hostid[HOSTCA_UUID_LEN + 1];
	unsigned char req[32];
	unsigned char *der;    /* the request, while its chunk is handled */
	size_t der_len;
} media_item;

/* ---- Work on both cores ----
 *
 * par_for(n, fn, ctx) calls fn(ctx, i) for every i < n on as many threads
 * as there are processors (at most 8), the calling thread included. The
 * functions given to it touch only their own item.
 */
#include <pthread.h>

typedef struct {
	size_t next, n;
	pthread_mutex_t mu;
	void (*fn)(void *ctx, size_t i);
	void *ctx;
} par_job;

static void *
par_worker(void *arg)
{
	par_job *j = arg;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&j->mu);
		i = j->next++;
		pthread_mutex_unlock(&j->mu);
		if (i >= j->n)
			return NULL;
		j->fn(j->ctx, i);
	}
}

static void
par_for(size_t n, void (*fn)(void *ctx, size_t i), void *ctx)
{
	pthread_t th[8];
	par_job j;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nt = cpus > 1 ? (cpus > 8 ? 8 : (size_t)cpus) : 1, k, started = 0;
	const char *e = getenv("HOSTCA_THREADS");
	long v = e != NULL ? strtol(e, NULL, 10) : 0;

	if (v >= 1 && v <= 8)
		nt = (size_t)v;

	if (nt > n)
		nt = n;
	j.next = 0;
	j.n = n;
	j.fn = fn;
	j.ctx = ctx;
	pthread_mutex_init(&j.mu, NULL);
	for (k = 1; k < nt; k++) {
		if (pthread_create(&th[started], NULL, par_worker, &j) != 0)
			break;
		started++;
	}
	par_worker(&j);
	for (k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	pthread_mutex_destroy(&j.mu);
}

typedef struct {
	ca_ctx *ca;
	media_item *items;
	int dfd;
} batch_ctx;

/* Phase 1 (parallel): read, unwrap and verify one request. */
static void
batch_read(void *vctx, size_t i)
{
	batch_ctx *b = vctx;
	media_item *it = &b->items[i];
	sign_result *res = it->res;
	unsigned char *data = NULL, *der = NULL;
	size_t dl;
	long got = HOSTCA_ERR_PEM;

	res->pre = 1;
	res->pre_err = HOSTCA_ERR_PEM;
	if (file_read_at(b->dfd, it->name, MAX_PEM_FILE, &data, &dl) < 0) {
		set_why(res->pre_why, "%s", read_errstr(errno));
		it->read_error = 1;
		return;
	}
	res->from_media = 1;
	if ((der = malloc(dl + 1)) != NULL)
		got = request_unwrap(data, dl, der, res);
	free(data);
	if (got <= 0) {
		set_why(res->pre_why, "%s", got == HOSTCA_ERR_NOT_CSR
			? "holds a certificate, not a certificate request"
			: dl == 0 ? "empty file" : got == HOSTCA_ERR_LIMIT ? "too large"
			: got == HOSTCA_ERR_DER ? "a damaged HOSTCA TOKEN PROOF block"
			: "no CERTIFICATE REQUEST PEM block (or a damaged one)");
		free(der);
		it->read_error = 1;
		return;
	}
	it->der = der;
	it->der_len = (size_t)got;
	sha256_once(it->req, der, it->der_len);
	res->pre_err = csr_decode(&res->csr, der, it->der_len, res->pre_why);
}

/* Phase 3 (parallel): sign a certificate whose body phase 2 built. */
static void
batch_sign(void *vctx, size_t i)
{
	batch_ctx *b = vctx;
	media_item *it = &b->items[i];
	sign_result *res = it->res;
	cert_rec *c;
	size_t n;
	unsigned char *cert;

	if (res == NULL || res->tbs == NULL || res->cert == SIZE_MAX)
		return;
	c = &b->ca->certs[res->cert];
	cert = signed_build(res->tbs, res->tbs_len, &b->ca->key, &n);
	if (cert != NULL) {
		c->der = cert;
		c->der_len = n;
	}
}

static const unsigned char *
key_item_claim(const void *ctx, size_t i, size_t *len)
{
	const media_item *items = ctx;
	*len = HOSTCA_UUID_LEN;
	return (const unsigned char *)items[i].claim;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(((const media_item *)a)->name, ((const media_item *)b)->name);
}

/* Opens DIR/sub as a directory, refusing symbolic links. */
static int
open_subdir(const char *dir, const char *sub, int create)
{
	char p[PATH_MAX];
	int fd;

	path_join(p, sizeof p, dir, sub);
	if (create && mkdir_ok(p, 0755) < 0)
		return -1;
	fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

static int
media_check(const char *media)
{
	struct stat st;

	if (lstat(media, &st) < 0) {
		msg(media, "no such media directory (%s): is the stick mounted?", strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		msg(media, "not a media directory (%s)", S_ISLNK(st.st_mode)
			? "a symbolic link: give the real path" : "not a directory");
		return -1;
	}
	return 0;
}

/* Puts the CA certificate and the current CRL on the media. */
/*
 * One stick for several CAs: besides the plain ca.pem and crl.pem (the
 * last CA that wrote the stick), each CA keeps its own copies named by its
 * key, ca-KEYID.pem and crl-KEYID.pem (KEYID: the first 16 hex digits of
 * the SHA-256 of its public key, SPKI), which a renewal keeps and another
 * CA never overwrites. Hosts read the copies of the CA they pinned first.
 */
static void
ca_keyid(char out[17], const unsigned char *spki, size_t len)
{
	unsigned char h[32];

	sha256_once(h, spki, len);
	hex_encode(out, h, 8, 0, 0);
}

/* The key ID of a CA certificate (DER), or "" when it does not parse. */
static void
ca_keyid_of(char out[17], const unsigned char *der, size_t len)
{
	x509_info *x = NULL;
	char why[WHY_CAP];

	out[0] = 0;
	if (der != NULL && cert_decode_alloc(&x, der, len, why) == 0)
		ca_keyid(out, x->spki, x->spki_len);
	free(x);
}

/* The key ID of the media's plain ca.pem, or "" (none, or unreadable). */
static void
media_plain_kid(const char *media, char out[17])
{
	static const char *const cb[] = { "CERTIFICATE", NULL };
	char a[PATH_MAX];
	unsigned char *d;
	size_t dl;
	int sq = g.quiet;

	out[0] = 0;
	g.quiet = 1;
	if (pem_file_load(path_join(a, sizeof a, media, "ca.pem"), cb, MAX_PEM_FILE,
		&d, &dl, NULL) == 0) {
		ca_keyid_of(out, d, dl);
		free(d);
	}
	g.quiet = sq;
}

/* media/KIND-KEYID.pem when it is there, else media/KIND.pem -- unless
 * the media's ca.pem is another key's (another CA's, or during a rollover
 * the new key's): then the first, which is not there. */
static const char *
media_ca_path(char *out, size_t cap, const char *media, const char *kind, const char *keyid)
{
	char name[64], plain[17];

	if (keyid != NULL && *keyid) {
		snprintf(name, sizeof name, "%s-%s.pem", kind, keyid);
		path_join(out, cap, media, name);
		if (path_exists(out))
			return out;
		media_plain_kid(media, plain);
		if (plain[0] && strcmp(plain, keyid) != 0)
			return out;
	}
	snprintf(name, sizeof name, "%s.pem", kind);
	return path_join(out, cap, media, name);
}

/*
 * A CA key's certificate (DER) and its CRL (the CA directory's crlfile)
 * on the media as ca-KEYID.pem and crl-KEYID.pem, and with plain as
 * ca.pem and crl.pem too.
 */
static int
media_put_key(ca_ctx *ca, const char *media, const unsigned char *der, size_t len,
	const char *crlfile, int plain)
{
	char path[PATH_MAX], name[64], kid[17];
	unsigned char *crl;
	size_t cl, k;
	int r = 0;

	ca_keyid_of(kid, der, len);
	for (k = 0; k < (plain ? 2u : 1u); k++) {
		snprintf(name, sizeof name, k ? "ca.pem" : "ca-%s.pem", kid);
		if (pem_write_sync(path_join(path, sizeof path, media, name), "CERTIFICATE",
			der, len, 0644, SYNC_DATA) < 0) {
			msg_errno(path, "cannot write");
			return -1;
		}
	}
	path_join(path, sizeof path, ca->dir, crlfile);
	if (file_read(path, MAX_CRL_FILE, &crl, &cl) < 0) {
		msg(path, "cannot read: %s", read_errstr(errno));
		return -1;
	}
	for (k = 0; k < (plain ? 2u : 1u) && r == 0; k++) {
		snprintf(name, sizeof name, k ? "crl.pem" : "crl-%s.pem", kid);
		if ((r = atomic_write_sync(path_join(path, sizeof path, media, name), crl, cl,
			0644, SYNC_DATA)) < 0)
			msg_errno(path, "cannot write");
	}
	free(crl);
	return r;
}

/*
 * What hosts need to follow the CA's key rollovers: every link
 * (link-KEYID.pem, KEYID the key that signed it), during a rollover the
 * retiring CA's certificate and CRL under its key ID, and each retired
 * key's last CRL (from the journal) -- which hosts drop that key on --
 * while its certificate leaves the stick.
 */
static int
media_put_rollover(ca_ctx *ca, const char *media)
{
	char path[PATH_MAX], name[64], kid[17], pk[17] = "";
	size_t i;

	if (ca->rolling) {
		if (ca_load_prev(ca, 0) < 0
			|| media_put_key(ca, media, ca->prev_der, ca->prev_len, "crl-prev.pem", 0) < 0)
			return -1;
		ca_keyid(pk, ca->prev->spki, ca->prev->spki_len);
	}
	for (i = 0; i < ca->nolds; i++) {
		ca_keyid_of(kid, ca->olds[i].der, ca->olds[i].len);
		if (!kid[0])
			continue;
		if (i < ca->nlinks) {
			snprintf(name, sizeof name, "link-%s.pem", kid);
			if (pem_write_sync(path_join(path, sizeof path, media, name), "CERTIFICATE",
				ca->links[i].der, ca->links[i].len, 0644, SYNC_DATA) < 0) {
				msg_errno(path, "cannot write");
				return -1;
			}
		}
		if (strcmp(kid, pk) != 0) {
			/* retired: its certificate goes; the last one's final CRL
			 * stays (what --force revoked, for hosts still on it) */
			static const char *const kinds[] = { "ca", "crl" };
			size_t k;
			if (ca->olds[i].crl != NULL) {
				snprintf(name, sizeof name, "crl-%s.pem", kid);
				if (pem_write_sync(path_join(path, sizeof path, media, name), "X509 CRL",
					ca->olds[i].crl, ca->olds[i].crl_len, 0644, SYNC_DATA) < 0) {
					msg_errno(path, "cannot write");
					return -1;
				}
			}
			for (k = 0; k < 2; k++) {
				if (k == 1 && ca->olds[i].crl != NULL)
					break;
				snprintf(name, sizeof name, "%s-%s.pem", kinds[k], kid);
				path_join(path, sizeof path, media, name);
				if (path_exists(path) && unlink(path) == 0)
					note(path, "removed: this CA's key %s is retired", kid);
			}
		}
	}
	return 0;
}

static int
media_put_ca(ca_ctx *ca, const char *media)
{
	static const char *const cb[] = { "CERTIFICATE", NULL };
	char path[PATH_MAX], src[PATH_MAX], mine[17], theirs[17], name[64];
	unsigned char *other = NULL;
	size_t ol;

	ca_keyid(mine, ca->ca.spki, ca->ca.spki_len);
	/* The plain names another CA wrote: kept under its own names first. */
	path_join(path, sizeof path, media, "ca.pem");
	if (path_exists(path) && pem_file_load(path, cb, MAX_PEM_FILE, &other, &ol, NULL) == 0) {
		size_t i;
		int ours = 0;
		ca_keyid_of(theirs, other, ol);
		for (i = 0; i < ca->nolds; i++) {
			char k[17];
			ca_keyid_of(k, ca->olds[i].der, ca->olds[i].len);
			ours |= strcmp(k, theirs) == 0;
		}
		if (theirs[0] && strcmp(theirs, mine) != 0 && !ours) {
			int kept = 1;
			snprintf(name, sizeof name, "ca-%s.pem", theirs);
			path_join(src, sizeof src, media, name);
			if (!path_exists(src)
				&& pem_write_sync(src, "CERTIFICATE", other, ol, 0644, SYNC_DATA) < 0)
				kept = 0;
			path_join(path, sizeof path, media, "crl.pem");
			snprintf(name, sizeof name, "crl-%s.pem", theirs);
			path_join(src, sizeof src, media, name);
			if (kept && !path_exists(src) && path_exists(path)) {
				unsigned char *oc;
				size_t ocl;
				if (file_read(path, MAX_CRL_FILE, &oc, &ocl) < 0
					|| atomic_write_sync(src, oc, ocl, 0644, SYNC_DATA) < 0)
					kept = 0;
				else
					free(oc);
			}
			if (!kept) {
				msg_errno(src, "cannot keep another CA's files");
				free(other);
				return -1;
			}
			note(media, "ca.pem and crl.pem were another CA's (key %s); they stay"
				" as ca-%s.pem and crl-%s.pem, for its hosts; the plain names are"
				" this CA's now", theirs, theirs, theirs);
		}
	}
	free(other);
	if (media_put_rollover(ca, media) < 0 || media_put_key(ca, media, ca->ca_der,
		ca->ca_len, "crl.pem", 1) < 0)
		return -1;
	if (fsync_dir(media) < 0) {
		msg_errno(media, "cannot sync");
		return -1;
	}
	return 0;
}

#define BATCH_CHUNK 256     /* requests decided, signed and written per round */

static int
ca_sign_media(const char *media, int list, const char *only)
{
	ca_ctx ca;
	media_item *items = NULL;
	size_t n = 0, cap = 0, i, c0, issued = 0, again = 0, refused = 0;
	int dfd = -1, r, rc = 0, progress, jfirst = 1;
	DIR *d;
	struct dirent *de;
	char onlyid[HOSTCA_UUID_LEN + 1] = "";
	batch_ctx bc;
	imap claims = { NULL, 0, 0 };    /* host IDs the requests claim */

	if (only != NULL) {
		if (!hostca_uuid_check(only)) {
			cmsg("--only takes a host ID (UUID)");
			return EXIT_USAGE;
		}
		strcpy(onlyid, only);
		uuid_lower(onlyid);
	}
	if (media_check(media) < 0)
		return EXIT_USAGE;
	if ((dfd = open_subdir(media, "requests", 0)) < 0) {
		msg(media, "no requests/ directory on the media (%s)", strerror(errno));
		return EXIT_USAGE;
	}
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return EXIT_USAGE;
	}
	/* Every entry is a candidate; temporary files of writers start with '.'. */
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n >= MAX_REQUESTS) {
			msg(media, "more than %d requests: the rest wait for the next run", MAX_REQUESTS);
			break;
		}
		if (grow((void **)&items, &cap, n + 1, sizeof *items) < 0)
			break;
		memset(&items[n], 0, sizeof items[n]);
		if (strlen(de->d_name) >= sizeof items[n].name)
			continue;
		strcpy(items[n].name, de->d_name);
		items[n].cert = SIZE_MAX;
		items[n].status = R_REFUSED;
		n++;
	}
	if (n > 1)
		qsort(items, n, sizeof *items, name_cmp);
	if ((r = ca_open_fast(&ca, !list, !list)) != 0) {
		closedir(d);
		free(items);
		return ca_close(&ca, r);
	}
	if (g.json) {
		json_key("preview");
		printf("%s", list ? "true" : "false");
		json_key("requests");
		putchar('[');
	}
	progress = isatty(2) && n > 50 && !g.quiet;
	bc.ca = &ca;
	bc.items = items;
	bc.dfd = dirfd(d);
	/*
	 * Rounds of BATCH_CHUNK requests: (1) read and verify in parallel;
	 * (2) decide in order -- each decision sees the ones before it, and
	 * its event is applied at once but written later; (3) sign in
	 * parallel; (4) write the round's events, now with their
	 * certificates, and commit. Then the answers go to the media.
	 */
	for (c0 = 0; c0 < n && rc == 0; c0 += BATCH_CHUNK) {
		size_t cn = n - c0 < BATCH_CHUNK ? n - c0 : BATCH_CHUNK;
		bc.items = items + c0;
		for (i = 0; i < cn; i++) {
			if ((items[c0 + i].res = calloc(1, sizeof(sign_result))) == NULL) {
				rc = EXIT_USAGE;
				break;
			}
		}
		if (rc != 0)
			break;
		par_for(cn, batch_read, &bc);
		/* A preview with token proofs checks them as the run does: that
		 * needs the CA key (it wraps the tokens' MAC keys). */
		for (i = c0; list && !ca.have_key && i < c0 + cn; i++) {
			if (items[i].res->has_proof) {
				if ((r = ca_load_key(&ca)) != 0)
					rc = r;
				break;
			}
		}
		if (rc != 0)
			break;
		/* The preview decides exactly as the run (I10): the same calls,
		 * in the same order, each event applied; it signs and writes
		 * nothing. */
		ca.defer = 1;
		ca.preview = list;
		for (i = c0; i < c0 + cn; i++) {
			media_item *it = &items[i];
			sign_result *res = it->res;
			char sname[300], label[320];

			safe_text(sname, sizeof sname, it->name);
			snprintf(label, sizeof label, "requests/%s", sname);
			if (progress && i % 25 == 0)
				fprintf(stderr, "\rhostca: %s: %zu/%zu", g.cmd, i, n);
			if (onlyid[0] && (res->pre_err < 0 || strcmp(res->csr.hostid, onlyid) != 0)) {
				it->skip = 1;
				continue;
			}
			if (it->read_error) {
				res->status = R_REFUSED;
				res->cert = SIZE_MAX;
				set_why(res->why, "%s", res->pre_why);
			} else {
				ca_sign_one(&ca, it->der, it->der_len, NULL, res);
			}
			/* Several requests for one host ID on one stick: flagged. */
			if (res->claim[0] && hostca_uuid_check(res->claim)) {
				size_t prev;
				strcpy(it->claim, res->claim);
				prev = imap_get(&claims, (const unsigned char *)it->claim,
					HOSTCA_UUID_LEN, key_item_claim, items);
				if (prev != SIZE_MAX) {
					char pn[300];
					note_add(res, "another request for host %s is on this stick"
						" (requests/%s)", it->claim, safe_text(pn, sizeof pn,
						items[prev].name));
				}
				imap_put(&claims, (const unsigned char *)it->claim, HOSTCA_UUID_LEN,
					i, key_item_claim, items);
			}
			if (res->status == R_REFUSED) {
				refused++;
				if (!list && !it->read_error)
					ca_record_refusal(&ca, res);
			} else if (res->status == R_AGAIN) {
				again++;
			} else {
				issued++;
			}
			it->status = res->status;
			it->cert = res->cert;
			strcpy(it->claim, res->claim);
			strcpy(it->hostid, res->hostid);
			if (list) {
				const sign_result *sr = res;
				char kt[16], fp[65];
				unsigned char kfp[32];
				const hostname *nm = sr->csr.names;
				size_t j;
				int ok = sr->status != R_REFUSED && sr->csr.pub.kind != 0;
				if (ok) {
					pubkey_fingerprint(&sr->csr.pub, kfp);
					hex_encode(fp, kfp, 32, 0, 0);
					pubkey_type_name(kt, &sr->csr.pub);
				}
				if (g.json) {
					sign_json(&ca, sr, label, jfirst, 1);
					jfirst = 0;
				} else {
					printf("%s\n", label);
					if (sr->note[0])
						printf("  NOTE:    %s\n", sr->note);
					if (sr->status == R_REFUSED) {
						printf("  REFUSED: %s\n", sr->why);
						continue;
					}
					printf("  host:    %s%s\n", sr->kind == KIND_NEW && !sr->claim[0]
						? "(new, assigned at signing)" : sr->hostid,
						sr->claim[0] && strcmp(sr->claim, sr->hostid) ? " (request says " : "");
					if (sr->claim[0] && strcmp(sr->claim, sr->hostid))
						printf("           %s)\n", sr->claim);
					printf("  names:  ");
					for (j = 0; j < sr->csr.nnames; j++)
						printf(" %s", nm[j].text);
					printf("%s\n", sr->csr.nnames ? "" : " (none)");
					printf("  key:     %s SHA256:%s\n", kt, fp);
					printf("  action:  %s%s%s%s\n", sr->status == R_AGAIN
						? "already issued: will be handed back" : "issue ",
						sr->status == R_AGAIN ? "" : kind_names[sr->kind],
						sr->token[0] ? ", token " : "", sr->token);
				}
			} else {
				describe_result(&ca, res, label, 0);
			}
		}
		if (!list) {
			par_for(cn, batch_sign, &bc);
			ca.defer = 0;
			/* Durable first: the certificates and the token uses. */
			if (journal_flush_deferred(&ca) < 0 || journal_commit(&ca) < 0) {
				cmsg("cannot record this round of certificates; nothing of it"
					" was written");
				rc = EXIT_USAGE;
			} else if (g.json) {
				/* verdicts once they are durable */
				for (i = c0; i < c0 + cn; i++) {
					char sname[300], label[320];
					if (items[i].skip || items[i].res == NULL)
						continue;
					safe_text(sname, sizeof sname, items[i].name);
					snprintf(label, sizeof label, "requests/%s", sname);
					sign_json(&ca, items[i].res, label, jfirst, 0);
					jfirst = 0;
				}
			}
		}
		for (i = c0; i < c0 + cn; i++) {
			if (items[i].res != NULL)
				free(items[i].res->tbs);
			free(items[i].res);
			items[i].res = NULL;
			free(items[i].der);
			items[i].der = NULL;
		}
	}
	if (progress)
		fprintf(stderr, "\r%40s\r", "");
	closedir(d);
	if (g.json) {
		putchar(']');
		json_key("issued");
		printf("%zu", issued);
		json_key("issued_already");
		printf("%zu", again);
		json_key("refused");
		printf("%zu", refused);
	}
	if (list) {
		if (rc == 0)
			cnote("%zu request%s: %zu to issue, %zu issued already, %zu refused;"
				" nothing was changed", issued + again + refused,
				issued + again + refused == 1 ? "" : "s", issued, again, refused);
		goto done;
	}
	if (rc != 0)
		goto done;
	if (ca.crl_dirty && ca_publish_crl(&ca, ca.crl_days) < 0) {
		rc = EXIT_USAGE;
		goto done;
	}
	/* Never carry an expired CRL out: hosts that check it would refuse
	 * every certificate. */
	if (ca.crl_next <= g.now) {
		if (ca_publish_crl(&ca, ca.crl_days) < 0) {
			rc = EXIT_USAGE;
			goto done;
		}
		cnote("the CRL had expired: published CRL #%llu for the media",
			(unsigned long long)ca.crl_number);
	}
	/*
	 * Then the answers. Each is written to a temporary file; one sync()
	 * makes them all durable before any is renamed into place (so a
	 * pulled stick never holds a partial response under its real name);
	 * the renames and the requests moved aside are synced once more.
	 * Two syncs per batch instead of two per file.
	 */
	{
		char rdir[PATH_MAX], path[PATH_MAX], fname[80];
		char (*tmps)[PATH_MAX] = NULL;
		int pfd = -1, rfd;
		size_t nt = 0;
		path_join(rdir, sizeof rdir, media, "responses");
		if (mkdir_ok(rdir, 0755) < 0) {
			msg_errno(rdir, "cannot create");
			rc = EXIT_USAGE;
			goto done;
		}
		if ((tmps = calloc(n + 2, sizeof *tmps)) == NULL) {
			rc = EXIT_USAGE;
			goto done;
		}
		for (i = 0; i < n; i++) {
			media_item *it = &items[i];
			char *pem;
			size_t pl;
			const char *rid;
			if (it->skip || it->status == R_REFUSED)
				continue;
			/* the file name comes from a validated host ID, never from media */
			rid = it->claim[0] ? it->claim : it->hostid;
			if (!hostca_uuid_check(rid) || ca_response_pem(&ca, it->cert, &pem, &pl) < 0) {
				rc = EXIT_USAGE;
				continue;
			}
			snprintf(fname, sizeof fname, "%s.pem", rid);
			path_join(path, sizeof path, rdir, fname);
			if (tmp_write(tmps[i], PATH_MAX, path, pem, pl, 0644, SYNC_NONE) < 0) {
				msg(path, "cannot write: %s (re-run 'hostca ca sign' with this"
					" media: it hands back the same certificates)", strerror(errno));
				tmps[i][0] = 0;
				rc = EXIT_USAGE;
			}
			free(pem);
			nt++;
		}
		if (nt > 0)
			sync();
		fault_point("media-synced");
		if ((rfd = open_subdir(media, "requests", 0)) < 0
			|| (pfd = open_subdir(media, "processed", 1)) < 0) {
			msg_errno(media, "cannot open requests/ or processed/");
			if (rfd >= 0)
				close(rfd);
			rfd = pfd = -1;
			rc = EXIT_USAGE;
		}
		for (i = 0; i < n; i++) {
			media_item *it = &items[i];
			char hx[65];
			const char *rid;
			if (it->skip || it->status == R_REFUSED || tmps[i][0] == 0)
				continue;
			rid = it->claim[0] ? it->claim : it->hostid;
			snprintf(fname, sizeof fname, "%s.pem", rid);
			path_join(path, sizeof path, rdir, fname);
			if (rename(tmps[i], path) < 0) {
				msg_errno(path, "cannot write");
				unlink(tmps[i]);
				rc = EXIT_USAGE;
				continue;
			}
			fault_point("media-response");
			if (rfd < 0)
				continue;
			hex_encode(hx, it->req, 32, 0, 0);
			snprintf(fname, sizeof fname, "%s.pem", hx);
			if (renameat(rfd, it->name, pfd, fname) < 0) {
				char sname[300];
				msg(safe_text(sname, sizeof sname, it->name),
					"cannot move to processed/: %s", strerror(errno));
			}
		}
		if (rfd >= 0)
			close(rfd);
		if (pfd >= 0)
			close(pfd);
		free(tmps);
	}
	if (media_put_ca(&ca, media) < 0)
		rc = EXIT_USAGE;
	sync();
	cnote("%zu issued, %zu handed back again, %zu refused", issued, again, refused);
done:
	free(claims.slot);
	free(items);
	if (rc == 0 && refused > 0)
		rc = EXIT_REFUSED;
	return ca_close(&ca, rc);
}

static int
cmd_ca_sign(int argc, char **argv)
{
	const char *csr = NULL, *media = NULL, *token = NULL, *token_file = NULL;
	const char *out = NULL, *only = NULL;
	int list = 0, npos, r;
	char *pos[1], tbuf[256];
	opt opts[] = {
		{ "--csr", O_STR, &csr, 0, 0, 0, 0 },
		{ "--media", O_STR, &media, 0, 0, 0, 0 },
		{ "--token", O_STR, &token, 0, 0, 0, 0 },
		{ "--token-file", O_STR, &token_file, 0, 0, 0, 0 },
		{ "--out", O_STR, &out, 0, 0, 0, 0 },
		{ "--list", O_FLAG, 0, &list, 0, 0, 0 },
		{ "--only", O_STR, &only, 0, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if ((csr == NULL) == (media == NULL)) {
		cmsg("give either --csr FILE or --media DIR");
		return EXIT_USAGE;
	}
	if (media != NULL && (token || token_file || out)) {
		cmsg("--token, --token-file and --out go with --csr");
		return EXIT_USAGE;
	}
	if (csr != NULL && (list || only)) {
		cmsg("--list and --only go with --media");
		return EXIT_USAGE;
	}
	if (token && token_file) {
		cmsg("give --token or --token-file, not both");
		return EXIT_USAGE;
	}
	if (media != NULL)
		return ca_sign_media(media, list, only);
	if (token_resolve(&token, token_file, tbuf, sizeof tbuf, 1) < 0)
		return EXIT_USAGE;
	r = ca_sign_csr(csr, token, out);
	hostca_wipe(tbuf, sizeof tbuf);
	return r;
}

/* ---- revocation ---- */

static const char *const reason_names[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
	"superseded", "cessationOfOperation", "certificateHold", NULL,
	"removeFromCRL", "privilegeWithdrawn", "aACompromise"
};

static int
reason_parse(const char *s)
{
	int i;
	char *end;
	long v;

	for (i = 0; i <= 10; i++)
		if (reason_names[i] && i != 8 && strcasecmp(s, reason_names[i]) == 0)
			return i;
	v = strtol(s, &end, 10);
	if (*s && !*end && v >= 0 && v <= 10 && v != 7 && v != 8)
		return (int)v;
	return -1;
}

static const char *
reason_text(int r)
{
	return (r >= 0 && r <= 10 && reason_names[r]) ? reason_names[r] : "unspecified";
}

/* "crl": the CRL the CA publishes now. */
static void
crl_json(const ca_ctx *ca)
{
	char t1[32], t2[32];

	json_key("crl");
	printf("{\"number\":%llu,\"this_update\":\"%s\",\"next_update\":\"%s\"}",
		(unsigned long long)ca->crl_number, time_iso(t1, ca->crl_this),
		time_iso(t2, ca->crl_next));
}

/*
 * Revokes the serials of list ("A,B") with reason, and publishes the CRL
 * that carries them, in one commit; extra (" k=v") goes on the first
 * revoke event; json: print what was revoked (ca rollover --finish prints
 * ca show instead). 0, or an exit status (said why).
 */
static int
revoke_commit(ca_ctx *ca, const char *list, int reason, const char *extra, int json)
{
	char *f, sh[41];
	size_t i;
	int r;

	if ((f = malloc(strlen(list) + strlen(extra) + 64)) == NULL)
		return EXIT_USAGE;
	/* The revocation and the CRL that carries it: one commit. However
	 * many serials (I4), each event stays far below a journal line's
	 * limit: REVOKE_PER_EVENT serials an event. */
	{
		char c[160];
		size_t at = 0, len = strlen(list);
		r = 0;
		while (at < len && r == 0) {
			size_t take = 0, cnt = 0;
			while (at + take < len && cnt < REVOKE_PER_EVENT) {
				take += strcspn(list + at + take, ",");
				cnt++;
				if (cnt < REVOKE_PER_EVENT && list[at + take] == ',')
					take++;
			}
			if (take > 0 && list[at + take - 1] == ',')
				take--;
			snprintf(f, len + strlen(extra) + 64, "serials=%.*s reason=%d%s", (int)take,
				list + at, reason, at == 0 ? extra : "");
			if (journal_add(ca, "revoke", f) < 0) {
				cmsg("cannot record the revocation (journal entry refused)");
				r = 1;
			}
			at += take + (list[at + take] == ',');
		}
		crl_fields(ca, c, sizeof c, ca->crl_days);
		if (r == 0 && journal_add(ca, "crl", c) < 0) {
			cmsg("cannot record the CRL");
			r = 1;
		}
		if (r == 0 && journal_commit(ca) < 0)
			r = 1;
	}
	free(f);
	if (r)
		return EXIT_USAGE;
	fault_point("crl-before-pem");
	if (ca_write_crl_pem(ca) < 0)
		return EXIT_USAGE;
	if (g.json && json) {
		json_key("revoked");
		putchar('[');
	}
	for (i = 0; list[i];) {
		size_t l = strcspn(list + i, ",");
		snprintf(sh, sizeof sh, "%.*s", (int)l, list + i);
		cnote("revoked %s (%s)", sh, reason_text(reason));
		if (g.json && json) {
			unsigned char sb[20];
			size_t sl, ci;
			printf("%s{\"serial\":\"%s\",\"host_id\":", i ? "," : "", sh);
			if (serial_parse(sh, sb, &sl) == 0
				&& (ci = ca_find_serial(ca, sb, sl)) != SIZE_MAX)
				printf("\"%s\"", ca->certs[ci].hostid);
			else
				printf("null");
			printf(",\"reason\":\"%s\"}", reason_text(reason));
		}
		i += l + (list[i + l] == ',');
	}
	if (g.json && json) {
		putchar(']');
		crl_json(ca);
	}
	cnote("CRL #%llu written; carry it to the hosts (hostca ca export --media DIR)",
		(unsigned long long)ca->crl_number);
	return 0;
}

static int
cmd_ca_revoke(int argc, char **argv)
{
	const char *host = NULL, *serial = NULL, *reason_s = "unspecified";
	int npos, r, reason;
	char *pos[1], why[WHY_CAP], *list;
	ca_ctx ca;
	size_t n = 0;
	opt opts[] = {
		{ "--host", O_STR, &host, 0, 0, 0, 0 },
		{ "--serial", O_STR, &serial, 0, 0, 0, 0 },
		{ "--reason", O_STR, &reason_s, 0, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if ((host == NULL) == (serial == NULL)) {
		cmsg("give either --host HOST or --serial HEX");
		return EXIT_USAGE;
	}
	if ((reason = reason_parse(reason_s)) < 0) {
		if (strcasecmp(reason_s, "removeFromCRL") == 0 || strcmp(reason_s, "8") == 0)
			cmsg("--reason: removeFromCRL (8) belongs to delta CRLs (RFC 5280"
				" 5.3.1), which hostca does not issue; a revocation is not undone:"
				" the certificate stays on the CRL until it expires");
		else
			cmsg("--reason: '%s' is not an RFC 5280 reason (unspecified,"
				" keyCompromise, cACompromise, affiliationChanged, superseded,"
				" cessationOfOperation, certificateHold, privilegeWithdrawn,"
				" aACompromise, or its number: 0-6, 9 or 10)", reason_s);
		return EXIT_USAGE;
	}
	if ((r = ca_open_fast(&ca, 1, 1)) != 0)
		return ca_close(&ca, r);
	if ((list = malloc(41 * (ca.ncerts + 1))) == NULL)
		return ca_close(&ca, EXIT_USAGE);
	list[0] = 0;
	if (serial != NULL) {
		unsigned char s[20];
		size_t sl, k;
		if (serial_parse(serial, s, &sl) < 0) {
			cmsg("--serial: '%s' is not a hex serial number", serial);
			free(list);
			return ca_close(&ca, EXIT_USAGE);
		}
		if ((k = ca_find_serial(&ca, s, sl)) == SIZE_MAX) {
			cmsg("no certificate with serial %s was issued by this CA"
				" ('hostca ca list' shows them)", serial);
			free(list);
			return ca_close(&ca, EXIT_REFUSED);
		}
		if (ca.certs[k].revoked && (reason != REASON_KEY_COMPROMISE
			|| ca.certs[k].reason == REASON_KEY_COMPROMISE)) {
			cnote("certificate %s is revoked already (%s); only a raise to"
				" keyCompromise changes it", serial, reason_text(ca.certs[k].reason));
			free(list);
			return ca_close(&ca, 0);
		}
		if (ca.certs[k].revoked)     /* I2: raised */
			cnote("certificate %s was revoked as %s: its reason becomes"
				" keyCompromise, and its key is never certified again", serial,
				reason_text(ca.certs[k].reason));
		serial_hex(list, ca.certs[k].serial, ca.certs[k].serial_len);
		n = 1;
	} else {
		size_t hi = ca_resolve_host(&ca, host, why), k;
		char *big;
		if (hi == SIZE_MAX) {
			cmsg("%s", why);
			free(list);
			return ca_close(&ca, EXIT_REFUSED);
		}
		/* sized now: resolving the host may have loaded its
		 * certificates from the index */
		if ((big = realloc(list, 41 * (ca.hosts[hi].ncerts + 1))) == NULL) {
			free(list);
			return ca_close(&ca, EXIT_USAGE);
		}
		list = big;
		for (k = ca.hosts[hi].last; k != SIZE_MAX; k = ca.certs[k].prev_of_host) {
			if (!cert_is_valid(&ca.certs[k], g.now))
				continue;
			if (n++)
				str_append(list, ",");
			serial_hex(list + strlen(list), ca.certs[k].serial, ca.certs[k].serial_len);
		}
		if (n == 0) {
			/* nothing matched: a refusal (exit 1), as for an unknown serial */
			cmsg("host %s has no valid certificate: nothing to revoke",
				ca.hosts[hi].hostid);
			free(list);
			return ca_close(&ca, EXIT_REFUSED);
		}
	}
	r = revoke_commit(&ca, list, reason, "", 1);
	free(list);
	return ca_close(&ca, r);
}

static int
cmd_ca_allow_reissue(int argc, char **argv)
{
	const char *host = NULL, *for_s = "48h", *key_s = NULL;
	int npos, r;
	int64_t dur;
	char *pos[1], why[WHY_CAP], f[256], t[32], kh[65] = "";
	unsigned char kf[32];
	ca_ctx ca;
	size_t hi;
	opt opts[] = {
		{ "--host", O_STR, &host, 0, 0, 0, 0 },
		{ "--for", O_STR, &for_s, 0, 0, 0, 0 },
		{ "--key", O_STR, &key_s, 0, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (host == NULL) {
		cmsg("--host HOST is required");
		return EXIT_USAGE;
	}
	if (parse_duration("--for", for_s, &dur) < 0)
		return EXIT_USAGE;
	if (dur > 30 * 86400) {
		cmsg("--for: at most 30d");
		return EXIT_USAGE;
	}
	if (key_s != NULL) {
		const char *k = key_s;
		if (strncmp(k, "SHA256:", 7) == 0 || strncmp(k, "sha256:", 7) == 0)
			k += 7;
		if (hex_decode(kf, 32, k) != 32) {
			cmsg("--key: the key's SHA-256 fingerprint, 64 hex digits (colons and"
				" a SHA256: prefix optional), as 'hostca host request' prints it"
				" and 'hostca host status' shows it");
			return EXIT_USAGE;
		}
		hex_encode(kh, kf, 32, 0, 0);
	}
	if ((r = ca_open_fast(&ca, 1, 0)) != 0)
		return ca_close(&ca, r);
	if ((hi = ca_resolve_host(&ca, host, why)) == SIZE_MAX) {
		cmsg("%s", why);
		return ca_close(&ca, EXIT_REFUSED);
	}
	if (ca.security == SEC_VERY_HIGH) {
		/* I6: a window opened at very-high would stay inert for ever */
		cmsg("at security level very-high a reissue needs a reissue token"
			" (hostca token create --reissue --host %s); no window was opened",
			ca.hosts[hi].hostid);
		return ca_close(&ca, EXIT_REFUSED);
	}
	if (key_s != NULL && hashset_has(&ca.badkeys, kf)) {
		cmsg("--key: this key was revoked as compromised; it is never certified"
			" again");
		return ca_close(&ca, EXIT_REFUSED);
	}
	snprintf(f, sizeof f, "host=%s until=%lld level=%d%s%s", ca.hosts[hi].hostid,
		(long long)(g.now + dur), ca.security, kh[0] ? " key=" : "", kh);
	if (journal_add(&ca, "allow-reissue", f) < 0 || journal_commit(&ca) < 0)
		return ca_close(&ca, EXIT_USAGE);
	cnote("host %s may reissue without a token until %s (one reissue), with the"
		" key of its newest certificate (a rename)%s%s%s", ca.hosts[hi].hostid,
		time_iso(t, g.now + dur), kh[0] ? " or the key SHA256:" : "", kh,
		kh[0] ? " (a reinstall or a new key)" : "; for a reinstall or a new key,"
		" give that key's fingerprint with --key");
	if (g.json) {
		json_key("window");
		printf("{\"host_id\":\"%s\",\"until\":\"%s\",\"key_sha256\":",
			ca.hosts[hi].hostid, time_iso(t, g.now + dur));
		if (kh[0]) {
			char kc[96];
			fingerprint_text(kc, kf);
			printf("\"%s\"}", kc);
		} else {
			printf("null}");
		}
	}
	return ca_close(&ca, 0);
}

/*
 * ca repair: what a crash or a power cut can leave, put right. Any writer
 * already removes entries after the signed head (never acknowledged, a
 * torn append among them); repair does it on request and says what it
 * found. Damage before the signed head is tampering: refused. With
 * --sign-head, a journal whose head is missing or unsigned (an older
 * hostca) gets a signed head at its end -- which vouches for every entry
 * up to it, so check the history first.
 */
static int
cmd_ca_repair(int argc, char **argv)
{
	int sign_head = 0, npos, r;
	char *pos[1];
	ca_ctx ca;
	opt opts[] = { { "--sign-head", O_FLAG, 0, &sign_head, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	repair_sign_head = sign_head;
	r = ca_open(&ca, 1, 1);
	repair_sign_head = 0;
	if (r != 0) {
		if (!sign_head)
			cmsg("not repaired: what is damaged is not an unacknowledged tail"
				" (see 'hostca ca audit --verify')");
		return ca_close(&ca, r);
	}
	if (sign_head) {
		if (ca_write_head(&ca) < 0)
			return ca_close(&ca, EXIT_USAGE);
		cnote("journal.head now signs entry %llu; this vouches for every entry up"
			" to it, as 'hostca ca audit' shows them", (unsigned long long)ca.seq);
	}
	cnote("the journal is whole: %llu entries, its end signed by the CA key",
		(unsigned long long)ca.seq);
	return ca_close(&ca, 0);
}

/*
 * ca passphrase: a new passphrase for ca.key, or encryption added
 * (--encrypt) or removed (--remove). The key is read with the current
 * passphrase (--passphrase-file, HOSTCA_PASSPHRASE_FILE or the terminal),
 * the new one comes from --new-passphrase-file or the terminal (twice),
 * and the new file replaces the old in one rename: no copy of the old
 * key file stays behind.
 */
static int
cmd_ca_passphrase(int argc, char **argv)
{
	const char *newfile = NULL;
	int remove = 0, npos, r;
	char *pos[1], path[PATH_MAX], pass[MAX_PASSPHRASE];
	ca_ctx ca;
	opt opts[] = {
		{ "--new-passphrase-file", O_STR, &newfile, 0, 0, 0, 0 },
		{ "--remove", O_FLAG, 0, &remove, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (remove && newfile) {
		cmsg("give --new-passphrase-file or --remove, not both");
		return EXIT_USAGE;
	}
	pass[0] = 0;
	if ((r = ca_open_fast(&ca, 1, 1)) != 0)
		return ca_close(&ca, r);
	if (!remove) {
		/* the new passphrase: from its own file, or typed twice */
		const char *keep = g.passphrase_file;
		int got;
		g.passphrase_file = newfile != NULL ? newfile : "";   /* "": the terminal */
		got = passphrase_get(pass, sizeof pass, newfile == NULL, "new passphrase");
		g.passphrase_file = keep;
		if (got < 0) {
			hostca_wipe(pass, sizeof pass);
			return ca_close(&ca, EXIT_USAGE);
		}
	}
	/* during a rollover the retiring key goes under the same passphrase
	 * (it signs its CRL until --finish), first */
	if (ca.rolling) {
		/* a change killed between the two keys left prev.key under the
		 * new passphrase already: that one is tried second */
		int ok;
		msg_mute = newfile != NULL;
		ok = ca_load_prev(&ca, 1) == 0;
		msg_mute = 0;
		if (!ok && newfile != NULL) {
			const char *keep = g.passphrase_file;
			g.passphrase_file = newfile;
			ok = ca_load_prev(&ca, 1) == 0;
			g.passphrase_file = keep;
		}
		if (!ok) {
			hostca_wipe(pass, sizeof pass);
			return ca_close(&ca, EXIT_USAGE);
		}
	}
	if (ca.rolling && key_store_mode(path_join(path, sizeof path, ca.dir, "prev.key"),
		&ca.prev_key, remove ? NULL : pass, &ca.rng, 1) < 0) {
		hostca_wipe(pass, sizeof pass);
		msg_errno(path, "cannot write; the key files are unchanged");
		return ca_close(&ca, EXIT_USAGE);
	}
	fault_point("passphrase-prev-written");
	path_join(path, sizeof path, ca.dir, "ca.key");
	r = key_store_mode(path, &ca.key, remove ? NULL : pass, &ca.rng, 1);
	hostca_wipe(pass, sizeof pass);
	if (r < 0) {
		msg_errno(path, "cannot write; the old key file is unchanged");
		return ca_close(&ca, EXIT_USAGE);
	}
	if (journal_add(&ca, "note", remove ? "text=ca.key%20stored%20without%20a%20passphrase"
		: "text=ca.key%20passphrase%20changed") < 0 || journal_commit(&ca) < 0)
		return ca_close(&ca, EXIT_USAGE);
	if (g.json) {
		json_key("passphrase");
		printf("{\"encrypted\":%s}", remove ? "false" : "true");
	}
	cnote("%s", remove ? "ca.key is stored without a passphrase now: guard the"
		" CA machine accordingly" : "ca.key is encrypted under the new passphrase");
	return ca_close(&ca, 0);
}

static int
cmd_ca_crl(int argc, char **argv)
{
	const char *days_s = NULL;
	long days;
	int npos, r;
	char *pos[1], t[32];
	ca_ctx ca;
	opt opts[] = { { "--days", O_STR, &days_s, 0, 0, 0, 0 }, { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (days_s != NULL && parse_uint("--days", days_s, 1, 366, &days) < 0)
		return EXIT_USAGE;
	if ((r = ca_open_fast(&ca, 1, 1)) != 0)
		return ca_close(&ca, r);
	if (days_s == NULL)
		days = (long)ca.crl_days;
	if (ca_publish_crl(&ca, days) < 0)
		return ca_close(&ca, EXIT_USAGE);
	cnote("CRL #%llu, next update %s", (unsigned long long)ca.crl_number,
		time_iso(t, ca.crl_next));
	if (g.json)
		crl_json(&ca);
	return ca_close(&ca, 0);
}

static int
cmd_ca_export(int argc, char **argv)
{
	const char *media = NULL;
	int npos, r;
	char *pos[1];
	ca_ctx ca;
	opt opts[] = { { "--media", O_STR, &media, 0, 0, 0, 0 }, { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (media == NULL) {
		cmsg("--media DIR is required");
		return EXIT_USAGE;
	}
	if (media_check(media) < 0)
		return EXIT_USAGE;
	if ((r = ca_open_fast(&ca, 0, 0)) != 0)
		return ca_close(&ca, r);
	if (!ca_crl_current(&ca) || ca.crl_next <= g.now
		|| (ca.have_fp_rec && !ct_equal(ca.ca_fp_rec, ca.ca_fp, 32))) {
		/* An interrupted command left crl.pem or ca.pem behind the
		 * journal (the writer that opens now completes them), or
		 * the CRL has expired (I11: hosts would refuse every
		 * certificate): the media gets a current one, made now (this
		 * needs the key). */
		ca_free(&ca);
		if ((r = ca_open_fast(&ca, 1, 1)) != 0)
			return ca_close(&ca, r);
		if (ca.crl_next <= g.now) {
			if (ca_publish_crl(&ca, ca.crl_days) < 0)
				return ca_close(&ca, EXIT_USAGE);
			cnote("the CRL had expired: published CRL #%llu for the media",
				(unsigned long long)ca.crl_number);
		}
	}
	if (media_put_ca(&ca, media) < 0)
		return ca_close(&ca, EXIT_USAGE);
	cnote("ca.pem and crl.pem (CRL #%llu) written to %s",
		(unsigned long long)ca.crl_number, media);
	if (g.json) {
		crl_json(&ca);
		json_key("files");
		printf("[\"ca.pem\",\"crl.pem\"]");
	}
	return ca_close(&ca, 0);
}

/* ---- listings ---- */

static const char *
cert_status(const cert_rec *c)
{
	if (c->revoked)
		return "revoked";
	if (c->na < g.now)
		return "expired";
	return "valid";
}

/* "a,b" as ["a","b"] */
static void
json_names(const char *csv)
{
	int first = 1;

	putchar('[');
	while (*csv) {
		size_t l = strcspn(csv, ",");
		char one[HOSTCA_MAX_NAME_LEN + 1];
		snprintf(one, sizeof one, "%.*s", (int)l, csv);
		if (!first)
			putchar(',');
		first = 0;
		json_str(one);
		csv += l + (csv[l] == ',');
	}
	putchar(']');
}

static void
cert_line(ca_ctx *ca, size_t i, int first)
{
	const cert_rec *c = &ca->certs[i];
	char sh[41], nb[32], na[32], ra[32];

	serial_hex(sh, c->serial, c->serial_len);
	time_iso(nb, c->nb);
	time_iso(na, c->na);
	if (g.json) {
		printf("%s{\"serial\":\"%s\",\"host_id\":\"%s\",\"names\":", first ? "" : ",",
			sh, c->hostid);
		json_names(c->names);
		printf(",\"status\":\"%s\",\"kind\":\"%s\",\"not_before\":\"%s\","
			"\"not_after\":\"%s\"", cert_status(c), kind_names[c->kind], nb, na);
		if (c->revoked)
			printf(",\"revoked_at\":\"%s\",\"reason\":\"%s\"",
				time_iso(ra, c->rev_at), reason_text(c->reason));
		else
			printf(",\"revoked_at\":null,\"reason\":null");
		printf(",\"token\":");
		if (c->token >= 0)
			json_str(ca->tokens[c->token].name);
		else
			printf("null");
		printf("}");
	} else {
		printf("%-32s %s %-7s %.10s %s%s%s\n", sh, c->hostid, cert_status(c), na,
			c->names, c->revoked ? "  " : "", c->revoked ? reason_text(c->reason) : "");
	}
}

static int
cmd_ca_list(int argc, char **argv)
{
	const char *host = NULL, *status = NULL, *exp_s = NULL;
	long expiring = -1;
	int npos, r;
	char *pos[1], why[WHY_CAP];
	ca_ctx ca;
	size_t i, hi = SIZE_MAX, k = 0;
	opt opts[] = {
		{ "--host", O_STR, &host, 0, 0, 0, 0 },
		{ "--status", O_STR, &status, 0, 0, 0, 0 },
		{ "--expiring", O_STR, &exp_s, 0, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (status && strcmp(status, "valid") && strcmp(status, "revoked")
		&& strcmp(status, "expired")) {
		cmsg("--status: valid, revoked or expired");
		return EXIT_USAGE;
	}
	if (exp_s && parse_uint("--expiring", exp_s, 0, 36500, &expiring) < 0)
		return EXIT_USAGE;
	if ((r = ca_open(&ca, 0, 0)) != 0)
		return ca_close(&ca, r);
	if (host && (hi = ca_resolve_host(&ca, host, why)) == SIZE_MAX) {
		cmsg("%s", why);
		return ca_close(&ca, EXIT_REFUSED);
	}
	if (g.json) {
		json_key("certificates");
		putchar('[');
	} else if (ca.ncerts)
		printf("%-32s %-36s %-7s %-10s %s\n", "SERIAL", "HOST ID", "STATUS", "EXPIRES", "NAMES");
	for (i = 0; i < ca.ncerts; i++) {
		const cert_rec *c = &ca.certs[i];
		if (hi != SIZE_MAX && c->host != hi)
			continue;
		if (status && strcmp(status, cert_status(c)) != 0)
			continue;
		if (expiring >= 0 && (!cert_is_valid(c, g.now)
			|| c->na > g.now + expiring * 86400))
			continue;
		cert_line(&ca, i, k++ == 0);
	}
	if (g.json)
		putchar(']');
	return ca_close(&ca, 0);
}

static int
cmd_ca_hosts(int argc, char **argv)
{
	int npos, r;
	char *pos[1];
	ca_ctx ca;
	size_t i;
	opt opts[] = { { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if ((r = ca_open(&ca, 0, 0)) != 0)
		return ca_close(&ca, r);
	if (g.json) {
		json_key("hosts");
		putchar('[');
	} else if (ca.nhosts)
		printf("%-36s %-7s %-5s %s\n", "HOST ID", "STATUS", "CERTS", "NAMES");
	for (i = 0; i < ca.nhosts; i++) {
		const host_rec *h = &ca.hosts[i];
		const cert_rec *c = &ca.certs[h->last];
		if (g.json) {
			char sh[41];
			serial_hex(sh, c->serial, c->serial_len);
			printf("%s{\"host_id\":\"%s\",\"names\":", i ? "," : "", h->hostid);
			json_names(c->names);
			printf(",\"status\":\"%s\",\"certificates\":%zu,\"newest_serial\":\"%s\"}",
				cert_status(c), h->ncerts, sh);
		} else {
			printf("%s %-7s %-5zu %s\n", h->hostid, cert_status(c), h->ncerts, c->names);
		}
	}
	if (g.json)
		putchar(']');
	return ca_close(&ca, 0);
}

static int
cmd_ca_host(int argc, char **argv)
{
	int npos, r;
	char *pos[1], why[WHY_CAP], t[32];
	ca_ctx ca;
	size_t hi, k, j = 0;
	const struct window *w;
	opt opts[] = { { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 1, &npos) < 0)
		return EXIT_USAGE;
	if (npos != 1) {
		cmsg("which host? (hostca ca host HOST)");
		return EXIT_USAGE;
	}
	if ((r = ca_open(&ca, 0, 0)) != 0)
		return ca_close(&ca, r);
	if ((hi = ca_resolve_host(&ca, pos[0], why)) == SIZE_MAX) {
		cmsg("%s", why);
		return ca_close(&ca, EXIT_REFUSED);
	}
	w = window_find(&ca, ca.hosts[hi].hostid);
	if (g.json) {
		const host_rec *h = &ca.hosts[hi];
		json_key("host");
		printf("{\"host_id\":\"%s\",\"names\":", h->hostid);
		json_names(ca.certs[h->last].names);
		printf(",\"reissue_window_until\":");
		if (window_open(&ca, w))
			printf("\"%s\"", time_iso(t, w->until));
		else
			printf("null");
		printf(",\"reissue_window_key_sha256\":");
		if (window_open(&ca, w) && w->has_key) {
			char fh[96];
			fingerprint_text(fh, w->keyfp);
			printf("\"%s\"", fh);
		} else {
			printf("null");
		}
		printf(",\"certificates\":[");
		for (k = h->last; k != SIZE_MAX; k = ca.certs[k].prev_of_host)
			cert_line(&ca, k, j++ == 0);
		printf("]}");
	} else {
		const host_rec *h = &ca.hosts[hi];
		printf("host ID:  %s\nnames:    %s\n", h->hostid, ca.certs[h->last].names);
		if (window_open(&ca, w)) {
			char fh[65];
			hex_encode(fh, w->keyfp, 32, 0, 0);
			printf("reissue:  window open until %s, for the key of its newest"
				" certificate%s%s\n", time_iso(t, w->until),
				w->has_key ? " or the key SHA256:" : "", w->has_key ? fh : "");
		}
		printf("certificates (newest first):\n");
		for (k = h->last; k != SIZE_MAX; k = ca.certs[k].prev_of_host)
			cert_line(&ca, k, 0);
	}
	return ca_close(&ca, 0);
}

/* ---- audit and check ---- */


/* An entry's fields ("k=v k=v", values percent-escaped) as a JSON object:
 * keys in snake_case, values unescaped. */
static void
audit_fields_json(char *f)
{
	char *tok, *save = NULL;
	int first = 1;

	putchar('{');
	for (tok = f ? strtok_r(f, " ", &save) : NULL; tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '='), *k;
		if (eq == NULL)
			continue;
		*eq = 0;
		for (k = tok; *k; k++)
			if (*k == '-')
				*k = '_';
		printf("%s\"%s\":", first ? "" : ",", tok);
		first = 0;
		if (unesc(eq + 1) < 0)
			printf("null");
		else
			json_str(eq + 1);
	}
	putchar('}');
}

/* Walks the journal on its own (without trusting any of it) and reports
 * the first entry that breaks the chain. */
static int
journal_verify(const char *dir, int print, int verify, size_t *entries)
{
	char path[PATH_MAX];
	unsigned char *buf, prev[32], want[32], got[32], head_hash[32];
	size_t len, pos = 0, after = 0;
	unsigned long long seq = 0, head_seq = 0;
	int bad = 0, have_head = 0;
	ca_ctx *hc;

	*entries = 0;
	path_join(path, sizeof path, dir, "journal");
	if (file_read(path, (size_t)1 << 40, &buf, &len) < 0) {
		msg(path, "cannot read: %s", read_errstr(errno));
		return -1;
	}
	/* the signed head, checked with ca.pem (messages say what is wrong) */
	if ((hc = calloc(1, sizeof *hc)) == NULL) {
		free(buf);
		return -1;
	}
	hc->lock_fd = hc->dir_fd = hc->jfd = -1;
	hc->dir = dir;
	if (ca_cert_load(hc) == 0 && ca_head_load(hc) == 0) {
		have_head = 1;
		head_seq = hc->head_seq;
		memcpy(head_hash, hc->head_hash, 32);
	} else {
		bad = 1;
	}
	ca_free(hc);
	free(hc);
	memset(prev, 0, 32);
	while (pos < len) {
		char *line = (char *)buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t ll, body;
		unsigned long long s;
		char *sp;

		if (nl == NULL) {
			if (verify) {
				msg(path, "the last entry is incomplete (an interrupted write;"
					" the next CA command removes it)");
			}
			break;
		}
		ll = (size_t)(nl - line);
		*nl = 0;
		if (ll < 68 || memcmp(line + ll - 67, " h=", 3) != 0
			|| hex_decode(want, 32, line + ll - 64) != 32) {
			msg(path, "entry %llu: malformed line (edited?)", seq + 1);
			bad = 1;
			break;
		}
		body = ll - 67;
		chain_hash(prev, line, body, got);
		s = strtoull(line, &sp, 10);
		if (!ct_equal(got, want, 32)) {
			msg(path, "entry %llu: its hash does not match: this entry or the one"
				" before it was edited, removed or reordered", seq + 1);
			bad = 1;
			break;
		}
		if (s != seq + 1) {
			msg(path, "entry %llu: sequence number %llu out of order", seq + 1, s);
			bad = 1;
			break;
		}
		if (have_head && s == head_seq && !ct_equal(want, head_hash, 32)) {
			msg(path, "entry %llu differs from the signed journal.head", s);
			bad = 1;
			break;
		}
		if (have_head && s > head_seq)
			after++;
		seq = s;
		memcpy(prev, want, 32);
		if (print) {
			/* Readable history: time, event, fields, without the
			 * certificate itself. */
			char *t = sp + 1, *ev, *rest, tt[32];
			long long when = strtoll(t, &ev, 10);
			line[body] = 0;
			rest = strchr(ev + 1, ' ');
			if (g.json) {
				printf("%s{\"seq\":%llu,\"time\":\"%s\",\"event\":\"%.*s\",\"fields\":",
					seq == 1 ? "" : ",", seq, time_iso(tt, when),
					(int)(rest ? (size_t)(rest - ev - 1) : strlen(ev + 1)), ev + 1);
			} else {
				printf("%6llu %s %.*s", seq, time_iso(tt, when),
					(int)(rest ? (size_t)(rest - ev - 1) : strlen(ev + 1)), ev + 1);
			}
			{
				char *c = rest ? strstr(rest, " cert=") : NULL;
				if (c)
					*c = 0;
				if (g.json) {
					audit_fields_json(rest ? rest + 1 : NULL);
					putchar('}');
				} else {
					printf("%s%s\n", rest ? rest : "", c ? " cert=..." : "");
				}
			}
		}
		pos += ll + 1;
	}
	if (!bad && have_head && seq < head_seq) {
		msg(path, "the journal ends at entry %llu but journal.head records entry"
			" %llu: entries were removed", seq, head_seq);
		bad = 1;
	}
	if (!bad && after > 0 && verify)
		msg(path, "%zu entr%s after the signed end (entry %llu): never"
			" acknowledged, not history; the next CA command removes them", after,
			after == 1 ? "y" : "ies", head_seq);
	free(buf);
	*entries = (size_t)seq;
	return bad ? -1 : 0;
}

/*
 * ca renew: a new CA certificate for the same key and subject (so the
 * same subject key identifier): certificates issued before keep
 * validating under it. The journal records it (fingerprint and the
 * certificate) before ca.pem is replaced; a writer that finds ca.pem
 * behind the journal writes it (ca_open2). Hosts take it with host update
 * (signed by the key they pinned); ca export and ca sign --media carry it.
 */
static int
cmd_ca_renew(int argc, char **argv)
{
	const char *days_s = NULL;
	long days = 7300;
	int npos, r;
	char *pos[1], path[PATH_MAX], fp[65], t[32], *f;
	unsigned char h[32];
	unsigned char *cert;
	size_t cl;
	ca_ctx ca;
	opt opts[] = { { "--days", O_STR, &days_s, 0, 0, 0, 0 }, { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (days_s != NULL && parse_uint("--days", days_s, 1, 36500, &days) < 0)
		return EXIT_USAGE;
	if ((r = ca_open_fast(&ca, 1, 1)) != 0)
		return ca_close(&ca, r);
	/* not newer than it ends already: nothing to gain */
	if (g.now + (int64_t)days * 86400 <= ca.ca.na) {
		cmsg("the CA certificate is valid until %s already; --days %ld would"
			" end it sooner", time_iso(t, ca.ca.na), days);
		return ca_close(&ca, EXIT_REFUSED);
	}
	if ((cert = ca_cert_make(&ca, ca.name, days, &cl)) == NULL) {
		cmsg("cannot build the CA certificate");
		return ca_close(&ca, EXIT_USAGE);
	}
	sha256_once(h, cert, cl);
	hex_encode(fp, h, 32, 0, 0);
	if ((f = malloc(cl / 3 * 4 + 120)) == NULL) {
		free(cert);
		return ca_close(&ca, EXIT_USAGE);
	}
	snprintf(f, 80, "fp=%s cert=", fp);
	b64_encode(f + strlen(f), cert, cl);
	/* the index is not written by this command: the next writer, which
	 * completes an interrupted renewal first, writes it */
	ca.index_ok = 0;
	r = journal_add(&ca, "ca-renew", f) < 0 || journal_commit(&ca) < 0;
	free(f);
	if (r) {
		free(cert);
		return ca_close(&ca, EXIT_USAGE);
	}
	fault_point("ca-renew-before-pem");
	path_join(path, sizeof path, ca.dir, "ca.pem");
	if (pem_write(path, "CERTIFICATE", cert, cl, 0644) < 0) {
		msg_errno(path, "cannot write (the renewal is recorded: the next CA"
			" command writes it)");
		free(cert);
		return ca_close(&ca, EXIT_USAGE);
	}
	free(cert);
	{
		char fpt[100];
		fingerprint_text(fpt, h);
		if (!g.json)
			printf("%s\n", fpt);
		cnote("renewed the CA certificate: same key and subject, valid until %s;"
			" its SHA-256 fingerprint is above. Hosts take it with 'hostca host"
			" update' (or host sync) from a stick written by 'hostca ca export'"
			" or 'ca sign --media'", time_iso(t, g.now + (int64_t)days * 86400));
	}
	r = ca_close(&ca, 0);
	if (r == 0 && g.json) {
		char *none[1] = { NULL };
		r = cmd_ca_show(0, none);
	}
	return r;
}

/* ---- key rollover (section 7g) ----
 *
 * ca rollover makes a new CA key and its self-signed certificate, and a
 * link certificate: the new key and name as a CA, signed by the current
 * key. One journal entry records all three (with the retiring
 * certificate, and the tokens' MAC keys wrapped again under the new
 * key); ca_roll_settle
 * then switches the files. From then on the CA issues with the new key
 * and publishes a CRL for each key; sticks carry both CA certificates,
 * both CRLs and every link (link-KEYID.pem: the link signed by KEYID).
 * A host follows links from the CA it pins, each checked with the key
 * before it. --finish retires the old key once no host is on it
 * (--force revokes those that are), recording the old key's last CRL,
 * which lists the old CA certificate itself: hosts drop a key on that.
 */
static int ca_rollover_finish(int force);

static int
cmd_ca_rollover(int argc, char **argv)
{
	const char *keyname = NULL, *days_s = NULL, *name = NULL;
	long days = 7300;
	int npos, r, key_type, finish = 0, force = 0, enc;
	char *pos[1], path[PATH_MAX], pass[MAX_PASSPHRASE], fp[65], pfp[65];
	char t[32], en[3 * MAX_CA_NAME + 1], fpt[100];
	unsigned char *cert = NULL, *link = NULL, *f = NULL, h[32], base[32];
	size_t cl = 0, ll = 0, fl;
	hostca_key nk;
	ca_ctx ca;
	opt opts[] = {
		{ "--key", O_STR, &keyname, 0, 0, 0, 0 },
		{ "--days", O_STR, &days_s, 0, 0, 0, 0 },
		{ "--name", O_STR, &name, 0, 0, 0, 0 },
		{ "--finish", O_FLAG, 0, &finish, 0, 0, 0 },
		{ "--force", O_FLAG, 0, &force, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (finish) {
		if (keyname || days_s || name) {
			cmsg("--finish takes no --key, --days or --name");
			return EXIT_USAGE;
		}
		return ca_rollover_finish(force);
	}
	if (force) {
		cmsg("--force goes with --finish");
		return EXIT_USAGE;
	}
	if (keyname == NULL) {
		cmsg("--key TYPE is required: the new CA key's type (ec-p256, ec-p384,"
			" ec-p521, rsa-2048, rsa-3072, rsa-4096)");
		return EXIT_USAGE;
	}
	if ((key_type = hostca_key_type_parse(keyname)) == 0) {
		cmsg("--key: '%s' is not one of ec-p256, ec-p384, ec-p521,"
			" rsa-2048, rsa-3072, rsa-4096", keyname);
		return EXIT_USAGE;
	}
	if (days_s != NULL && parse_uint("--days", days_s, 1, 36500, &days) < 0)
		return EXIT_USAGE;
	if (name != NULL && (strlen(name) == 0 || strlen(name) > MAX_CA_NAME
		|| !text_clean((const unsigned char *)name, strlen(name)))) {
		cmsg("--name: 1 to %d printable characters", MAX_CA_NAME);
		return EXIT_USAGE;
	}
	memset(&nk, 0, sizeof nk);
	pass[0] = 0;
	if ((r = ca_open_fast(&ca, 1, 1)) != 0)
		return ca_close(&ca, r);
	if (ca.rolling) {
		char pf[100];
		fingerprint_text(pf, ca.prev_fp);
		cmsg("a rollover is in progress already (from the CA %s): finish it"
			" first with 'hostca ca rollover --finish'", pf);
		return ca_close(&ca, EXIT_REFUSED);
	}
	if (ca.ca.na <= g.now) {
		cmsg("the CA certificate has expired: its key can no longer vouch for a"
			" new one (hosts could not follow); renew it first ('hostca ca renew')");
		return ca_close(&ca, EXIT_REFUSED);
	}
	if (name == NULL)
		name = ca.name;
	/* the new key under the passphrase the current one has, if any:
	 * asked again, and checked against ca.key (a typo here would lock
	 * the CA out of its new key) */
	r = EXIT_USAGE;
	{
		unsigned char *kd, *der = NULL, *plain;
		size_t kl, pl;
		char banner[64];
		long n = -1;
		path_join(path, sizeof path, ca.dir, "ca.key");
		if (file_read(path, MAX_PEM_FILE, &kd, &kl) < 0) {
			msg(path, "cannot read: %s", read_errstr(errno));
			goto out;
		}
		if ((der = malloc(kl + 1)) != NULL)
			n = hostca_pem_decode(kd, kl, 0, banner, der, kl);
		hostca_wipe(kd, kl);
		free(kd);
		enc = n > 0 && strcmp(banner, "ENCRYPTED PRIVATE KEY") == 0;
		if (enc && passphrase_get(pass, sizeof pass, 0, "the new CA key (the same"
			" passphrase as the current one)") < 0) {
			free(der);
			goto out;
		}
		if (enc && key_decrypt(der, (size_t)n, pass, &plain, &pl) != 0) {
			msg(path, "that is not the passphrase of the current CA key: the new key"
				" takes the same one");
			free(der);
			goto out;
		}
		if (enc) {
			hostca_wipe(plain, pl);
			free(plain);
		}
		if (der != NULL && n > 0)
			hostca_wipe(der, (size_t)n);
		free(der);
	}
	if (key_type >= HOSTCA_KEY_RSA_3072)
		cnote("generating a %s key; this can take a while", keyname);
	if (key_generate(&nk, key_type, &ca.rng) < 0) {
		cmsg("key generation failed");
		goto out;
	}
	path_join(path, sizeof path, ca.dir, "next.key");
	if (key_store(path, &nk, pass[0] ? pass : NULL, &ca.rng) < 0) {
		msg_errno(path, "cannot write");
		goto out;
	}
	/* the new CA certificate (self-signed), then the link (signed by the
	 * current key, ending when the current CA certificate ends) */
	{
		hostca_key cur = ca.key;
		ca.key = nk;
		cert = ca_cert_make(&ca, name, days, &cl);
		ca.key = cur;
	}
	if (cert == NULL || (link = ca_cert_make_for(&ca, &nk, name, days, ca.ca.na, &ll)) == NULL) {
		cmsg("cannot build the new CA certificates");
		goto out;
	}
	/* the tokens' MAC keys, wrapped again under the new key's wrap key
	 * (nothing of the old key stays in use after the rollover) */
	if (ca_kek(&ca) < 0 || key_kek_base(&nk, base) < 0) {
		cmsg("cannot wrap the tokens' keys again");
		goto out;
	}
	sha256_once(h, cert, cl);
	hex_encode(fp, h, 32, 0, 0);
	hex_encode(pfp, ca.ca_fp, 32, 0, 0);
	fl = (cl + ll + ca.ca_len) / 3 * 4 + 600 + sizeof en
		+ ca.ntokens * (2 * TOKEN_ID_LEN + 66);
	if ((f = malloc(fl)) == NULL)
		goto out;
	{
		size_t n = (size_t)snprintf((char *)f, fl, "name=%s key=%s fp=%s prev=%s",
			esc(en, sizeof en, name), keyname, fp, pfp);
		size_t t;
		int first = 1;
		for (t = 0; t < ca.ntokens; t++) {
			unsigned char k[32], w[32];
			const token_rec *tk = &ca.tokens[t];
			if (!tk->v2 || tk->forgotten)
				continue;
			token_wrap(&ca, tk->id, tk->wk, k);
			token_wrap_kek(base, tk->id, k, w);
			memcpy(f + n, first ? " rewrap=" : ",", first ? 8 : 1);
			n += first ? 8 : 1;
			first = 0;
			hex_encode((char *)f + n, tk->id, TOKEN_ID_LEN, 0, 0);
			n += 2 * TOKEN_ID_LEN;
			f[n++] = ':';
			hex_encode((char *)f + n, w, 32, 0, 0);
			n += 64;
			hostca_wipe(k, sizeof k);
		}
		n += (size_t)snprintf((char *)f + n, fl - n, " cert=");
		n += b64_encode((char *)f + n, cert, cl);
		n += (size_t)snprintf((char *)f + n, fl - n, " link=");
		n += b64_encode((char *)f + n, link, ll);
		n += (size_t)snprintf((char *)f + n, fl - n, " prevcert=");
		n += b64_encode((char *)f + n, ca.ca_der, ca.ca_len);
		f[n] = 0;
	}
	/* the decision: one entry, signed at its end by the current key */
	ca.index_ok = 0;
	if (journal_add(&ca, "ca-rollover", (char *)f) < 0 || journal_commit(&ca) < 0)
		goto out;
	fault_point("rollover-committed");
	if ((r = ca_roll_settle(&ca, 0, &nk)) != 0 || (r = ca_load_key(&ca)) != 0)
		goto out;
	r = EXIT_USAGE;
	fault_point("rollover-switched");
	/* a CRL of each key, the head signed by the new key */
	if (ca_publish_crl(&ca, ca.crl_days) < 0)
		goto out;
	fingerprint_text(fpt, h);
	if (!g.json)
		printf("%s\n", fpt);
	cnote("rolled over to a new %s CA key: certificates are issued with it from"
		" now on (its certificate's SHA-256 fingerprint is above, valid until %s);"
		" a link certificate signed by the old key vouches for it. Hosts take it"
		" with 'hostca host update' from a stick written by 'hostca ca export' or"
		" 'ca sign --media', and renew onto it with no token. When no certificate of"
		" the old key is valid any more: 'hostca ca rollover --finish'", keyname,
		time_iso(t, g.now + (int64_t)days * 86400));
	r = 0;
out:
	hostca_wipe(pass, sizeof pass);
	hostca_wipe(base, sizeof base);
	hostca_key_wipe(&nk);
	free(cert);
	free(link);
	free(f);
	r = ca_close(&ca, r);
	if (r == 0 && g.json) {
		char *none[1] = { NULL };
		r = cmd_ca_show(0, none);
	}
	return r;
}

/* 1 when one of the CA's keys (the current one, or one it rolled over
 * from) signed certificate c, under that key's name. */
static int
ca_signed_it(ca_ctx *ca, const x509_info *c)
{
	size_t i;
	x509_info *o;
	char why[WHY_CAP];
	int ok = 0;

	if (cert_signed_by(c, &ca->ca))
		return 1;
	for (i = 0; i < ca->nolds && !ok; i++) {
		if (cert_decode_alloc(&o, ca->olds[i].der, ca->olds[i].len, why) < 0)
			continue;
		ok = cert_signed_by(c, o);
		free(o);
	}
	return ok;
}

/* The retiring key's certificates that are still valid (the full fold:
 * certificates issued before the rollover's entry): newest 1, those that
 * are their host's newest certificate (the host has not moved); else
 * those that a newer certificate of their host superseded. */
static size_t
ca_prev_valid(ca_ctx *ca, int newest, char **list)
{
	size_t i, n = 0, at = 0;
	char sh[41];

	if (list != NULL && (*list = malloc(41 * (ca->ncerts + 1))) != NULL)
		(*list)[0] = 0;
	for (i = 0; i < ca->ncerts; i++) {
		const cert_rec *c = &ca->certs[i];
		if (c->seq >= ca->roll_seq || !cert_is_valid(c, g.now)
			|| (ca->hosts[c->host].last == i) != newest)
			continue;
		if (list != NULL && *list != NULL) {
			serial_hex(sh, c->serial, c->serial_len);
			at += (size_t)sprintf(*list + at, "%s%s", n ? "," : "", sh);
		}
		n++;
	}
	return n;
}

static int
ca_rollover_finish(int force)
{
	ca_ctx ca;
	char *list = NULL, path[PATH_MAX], f[100], pf[100];
	size_t n, i;
	int r;
	static const char *const gone[] = { "prev.key", "prev.pem", "crl-prev.pem", NULL };

	if ((r = ca_open(&ca, 1, 1)) != 0)
		return ca_close(&ca, r);
	if (!ca.rolling) {
		cmsg("no rollover is in progress (start one with 'hostca ca rollover --key TYPE')");
		return ca_close(&ca, EXIT_REFUSED);
	}
	fingerprint_text(pf, ca.prev_fp);
	n = ca_prev_valid(&ca, 1, force ? &list : NULL);
	if (n > 0 && !force) {
		cmsg("%zu host%s still on a certificate of the old key: the old CA stays"
			" until they renew onto the new key (host update, then host renew or"
			" host sync) or their certificates expire ('hostca ca hosts' shows"
			" them); --force revokes those certificates and finishes", n,
			n == 1 ? " is" : "s are");
		return ca_close(&ca, EXIT_REFUSED);
	}
	/* certificates of the old key that a renewal superseded: revoked
	 * (superseded) -- the host has moved */
	{
		char *sup = NULL;
		size_t ns = ca_prev_valid(&ca, 0, &sup);
		if (ns > 0) {
			char ex[160], et[100];
			if (sup == NULL) {
				free(list);
				return ca_close(&ca, EXIT_USAGE);
			}
			snprintf(ex, sizeof ex, " text=%s", esc(et, sizeof et, "ca rollover --finish"));
			r = revoke_commit(&ca, sup, REASON_SUPERSEDED, ex, 0);
			free(sup);
			if (r != 0) {
				free(list);
				return ca_close(&ca, r);
			}
			cnote("revoked %zu certificate%s of the old key that renewals onto the"
				" new key superseded", ns, ns == 1 ? "" : "s");
		} else {
			free(sup);
		}
	}
	if (n > 0) {
		if (list == NULL)
			return ca_close(&ca, EXIT_USAGE);
		/* cessationOfOperation, on both keys' CRLs */
		char ex[160], et[100];
		snprintf(ex, sizeof ex, " text=%s", esc(et, sizeof et, "ca rollover --finish --force"));
		r = revoke_commit(&ca, list, 5, ex, 0);
		free(list);
		if (r != 0)
			return ca_close(&ca, r);
		cnote("revoked %zu certificate%s of the old key (cessationOfOperation)",
			n, n == 1 ? "" : "s");
	}
	/*
	 * One commit: a CRL event, and the retirement carrying the old key's
	 * last CRL (that number, signed by the old key), which lists the old
	 * CA certificate itself (cessationOfOperation): the signed word that
	 * hosts drop that key on. Sticks carry it from the journal.
	 */
	hex_encode(f, ca.prev_fp, 32, 0, 0);
	if (ca_load_prev(&ca, 1) < 0)
		return ca_close(&ca, EXIT_USAGE);
	{
		char c[160], *fl;
		unsigned char *fin;
		size_t finl;
		crl_fields(&ca, c, sizeof c, ca.crl_days);
		if (journal_add(&ca, "crl", c) < 0)
			return ca_close(&ca, EXIT_USAGE);
		if ((fin = ca_build_crl_final(&ca, &finl)) == NULL
			|| (fl = malloc(finl / 3 * 4 + 120)) == NULL) {
			free(fin);
			msg(ca.dir, "cannot build the old key's last CRL");
			return ca_close(&ca, EXIT_USAGE);
		}
		snprintf(fl, 100, "prev=%.64s crl=", f);
		b64_encode(fl + strlen(fl), fin, finl);
		free(fin);
		ca.index_ok = 0;
		r = journal_add(&ca, "ca-retire", fl) < 0 || journal_commit(&ca) < 0;
		free(fl);
		if (r)
			return ca_close(&ca, EXIT_USAGE);
	}
	fault_point("retire-committed");
	if (ca_write_crl_pem(&ca) < 0)
		return ca_close(&ca, EXIT_USAGE);
	for (i = 0; gone[i] != NULL; i++) {
		path_join(path, sizeof path, ca.dir, gone[i]);
		if (unlink(path) < 0 && errno != ENOENT)
			msg_errno(path, "cannot remove (the next CA command removes it)");
	}
	fsync_dir(ca.dir);
	cnote("the old CA key (%s) is retired and its key file removed; hosts drop"
		" the old CA at their next 'hostca host update' from a stick written now",
		pf);
	r = ca_close(&ca, 0);
	if (r == 0 && g.json) {
		char *none[1] = { NULL };
		r = cmd_ca_show(0, none);
	}
	return r;
}

/* ---- backup and restore (section 7f) ----
 *
 * ca backup writes the whole CA (ca.key as stored -- still under its own
 * passphrase if it has one --, ca.pem, crl.pem, journal, journal.head;
 * the index is a cache and is rebuilt) as one file, hostca-backup.hcb:
 *
 *   hostca-backup 1            header lines, then the ciphertext
 *   ca <SHA-256 of ca.pem>
 *   time <when> / entries <journal entries> / crl <CRL number>
 *   kdf pbkdf2-sha256 <iterations> <salt>   (a backup passphrase)
 *   kdf shares <K> <N> <id>                 (or K of N shares)
 *   nonce <12 bytes> / len <ciphertext bytes>
 *   mac <HMAC-SHA256 over every line above and the ciphertext>
 *
 * The backup key BK (32 bytes) comes from the passphrase (PBKDF2, as for
 * ca.key) or is random and split with Shamir's scheme over GF(2^8) into N
 * shares, any K of which give it back; each share goes to its own stick as
 * hostca-share-I-of-N.txt, with its index, K, N, the backup's id and a
 * checksum a person can check. From BK: AES-256-CTR key and HMAC key (by
 * HMAC-SHA256 with fixed labels); encrypt-then-MAC. Fewer than K shares
 * say nothing about BK; a flipped bit anywhere fails the MAC or a share's
 * checksum, and nothing is written.
 */
#define BACKUP_FILE "hostca-backup.hcb"
#define BACKUP_MAX  ((size_t)1 << 31)

static unsigned char
gf256_mul(unsigned a, unsigned b)
{
	unsigned p = 0;

	while (b) {
		if (b & 1)
			p ^= a;
		a = (a << 1) ^ ((a & 0x80) ? 0x11b : 0);
		b >>= 1;
	}
	return (unsigned char)p;
}

static unsigned char
gf256_inv(unsigned char a)
{
	unsigned char r = 1;
	int i;

	for (i = 0; i < 254; i++)      /* a^254 = a^-1 */
		r = gf256_mul(r, a);
	return r;
}

/* Shamir: share x (1..255) of secret[32] with coefficients coef[K-1][32]. */
static void
shamir_share(const unsigned char secret[32], const unsigned char *coef, int k,
	unsigned char x, unsigned char out[32])
{
	int j, t;

	for (j = 0; j < 32; j++) {
		unsigned char y = 0, xp = 1;
		for (t = 0; t < k; t++) {
			unsigned char c = t == 0 ? secret[j] : coef[(t - 1) * 32 + j];
			y ^= gf256_mul(c, xp);
			xp = gf256_mul(xp, x);
		}
		out[j] = y;
	}
}

/* The secret from k shares (xs distinct, non-zero): Lagrange at 0. */
static void
shamir_combine(const unsigned char *xs, const unsigned char (*ys)[32], int k,
	unsigned char out[32])
{
	int i, m, j;

	memset(out, 0, 32);
	for (i = 0; i < k; i++) {
		unsigned char l = 1;
		for (m = 0; m < k; m++)
			if (m != i)
				l = gf256_mul(l, gf256_mul(xs[m], gf256_inv((unsigned char)(xs[m] ^ xs[i]))));
		for (j = 0; j < 32; j++)
			out[j] ^= gf256_mul(ys[i][j], l);
	}
}

static void
backup_keys(const unsigned char bk[32], unsigned char enc[32], unsigned char mac[32])
{
	hmac_sha256(bk, 32, "hostca backup v1 enc", 20, NULL, 0, enc);
	hmac_sha256(bk, 32, "hostca backup v1 mac", 20, NULL, 0, mac);
}

static void
backup_ctr(const unsigned char key[32], const unsigned char nonce[12], unsigned char *data,
	size_t len)
{
	br_aes_ct64_ctr_keys k;

	br_aes_ct64_ctr_init(&k, key, 32);
	br_aes_ct64_ctr_run(&k, nonce, 1, data, len);
	hostca_wipe(&k, sizeof k);
}

/* The share file's checksum: 8 hex digits of SHA-256 over its lines. */
static void
share_check(const char *body, char out[9])
{
	unsigned char h[32];

	sha256_once(h, body, strlen(body));
	hex_encode(out, h, 4, 0, 0);
}

/* A passphrase for the backup: --backup-passphrase-file, or the terminal. */
static int
backup_passphrase(const char *file, char *buf, size_t cap, int confirm)
{
	int tty = file == NULL ? open("/dev/tty", O_RDONLY | O_CLOEXEC) : -1;

	if (tty >= 0)
		close(tty);
	if (file == NULL && tty < 0) {
		cmsg("give --backup-passphrase-file F (or --shares K-of-N): there is no"
			" terminal to ask for a backup passphrase");
		return -1;
	}
	/* the CA key's passphrase file is not the backup's */
	return passphrase_from(file, buf, cap, confirm, "backup passphrase");
}

static int
cmd_ca_backup(int argc, char **argv)
{
	const char *media[HOSTCA_MAX_NAMES], *shares_s = NULL, *pf = NULL;
	size_t nmedia = 0, plen = 0, pcap = 0, i, hl;
	int npos, r, k = 0, n = 0;
	char *pos[1], path[PATH_MAX], line[512], head[2048], hx[129], pass[MAX_PASSPHRASE];
	unsigned char bk[32], ek[32], mk[32], nonce[12], salt[16], mac[32], id[8];
	unsigned char *plain = NULL, *out = NULL;
	ca_ctx ca;
	opt opts[] = {
		{ "--media", O_MULTI, 0, 0, media, &nmedia, 0 },
		{ "--shares", O_STR, &shares_s, 0, 0, 0, 0 },
		{ "--backup-passphrase-file", O_STR, &pf, 0, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (shares_s != NULL && (sscanf(shares_s, "%d-of-%d", &k, &n) != 2 || k < 2 || n < k
		|| n > 16)) {
		cmsg("--shares K-of-N: 2 <= K <= N <= 16 (e.g. 3-of-5)");
		return EXIT_USAGE;
	}
	if (nmedia != (shares_s ? (size_t)n : 1)) {
		cmsg(shares_s ? "--shares K-of-N wants --media DIR N times: one stick per share"
			: "--media DIR: where the backup goes (once)");
		return EXIT_USAGE;
	}
	if (shares_s && pf) {
		cmsg("--shares and --backup-passphrase-file: one or the other");
		return EXIT_USAGE;
	}
	for (i = 0; i < nmedia; i++)
		if (media_check(media[i]) < 0)
			return EXIT_USAGE;
	/* A snapshot under the lock: no writer changes it meanwhile. */
	if ((r = ca_open_fast(&ca, 0, 0)) != 0)
		return ca_close(&ca, r);
	for (i = 0; ca_files[i]; i++) {
		unsigned char *d;
		size_t dl;
		int nl;
		path_join(path, sizeof path, ca.dir, ca_files[i]);
		if (i >= CA_FILES_REQUIRED && !path_exists(path))
			continue;
		if (file_read(path, BACKUP_MAX, &d, &dl) < 0) {
			msg(path, "cannot read: %s", read_errstr(errno));
			free(plain);
			return ca_close(&ca, EXIT_USAGE);
		}
		nl = snprintf(line, sizeof line, "%s %zu\n", ca_files[i], dl);
		if (grow((void **)&plain, &pcap, plen + (size_t)nl + dl + 1, 1) < 0) {
			hostca_wipe(d, dl);
			free(d);
			free(plain);
			return ca_close(&ca, EXIT_USAGE);
		}
		memcpy(plain + plen, line, (size_t)nl);
		memcpy(plain + plen + nl, d, dl);
		plen += (size_t)nl + dl;
		hostca_wipe(d, dl);
		free(d);
	}
	rng_bytes(&ca.rng, nonce, sizeof nonce);
	hex_encode(hx, ca.ca_fp, 32, 0, 0);
	hl = (size_t)snprintf(head, sizeof head, "hostca-backup 1\nca %s\ntime %lld\nentries %llu\n"
		"crl %llu\n", hx, (long long)g.now, (unsigned long long)ca.seq,
		(unsigned long long)ca.crl_number);
	if (shares_s) {
		rng_bytes(&ca.rng, bk, 32);
		rng_bytes(&ca.rng, id, sizeof id);
		hex_encode(hx, id, sizeof id, 0, 0);
		hl += (size_t)snprintf(head + hl, sizeof head - hl, "kdf shares %d %d %s\n", k, n, hx);
	} else {
		if (backup_passphrase(pf, pass, sizeof pass, 1) < 0) {
			free(plain);
			return ca_close(&ca, EXIT_USAGE);
		}
		rng_bytes(&ca.rng, salt, sizeof salt);
		pbkdf2_sha256(pass, salt, sizeof salt, PBKDF2_ITERATIONS, bk, 32);
		hostca_wipe(pass, sizeof pass);
		hex_encode(hx, salt, sizeof salt, 0, 0);
		hl += (size_t)snprintf(head + hl, sizeof head - hl, "kdf pbkdf2-sha256 %d %s\n",
			PBKDF2_ITERATIONS, hx);
	}
	hex_encode(hx, nonce, sizeof nonce, 0, 0);
	hl += (size_t)snprintf(head + hl, sizeof head - hl, "nonce %s\nlen %zu\n", hx, plen);
	backup_keys(bk, ek, mk);
	backup_ctr(ek, nonce, plain, plen);
	hmac_sha256(mk, 32, head, hl, plain, plen, mac);
	hex_encode(hx, mac, 32, 0, 0);
	hl += (size_t)snprintf(head + hl, sizeof head - hl, "mac %s\n\n", hx);
	if ((out = malloc(hl + plen)) == NULL) {
		free(plain);
		return ca_close(&ca, EXIT_USAGE);
	}
	memcpy(out, head, hl);
	memcpy(out + hl, plain, plen);
	free(plain);
	/* The backup (ciphertext) on every stick; with shares, one share each. */
	r = 0;
	for (i = 0; i < nmedia && r == 0; i++) {
		path_join(path, sizeof path, media[i], BACKUP_FILE);
		if (atomic_write_sync(path, out, hl + plen, 0600, SYNC_DATA) < 0) {
			msg_errno(path, "cannot write");
			r = EXIT_USAGE;
			break;
		}
		fault_point("backup-written");
		if (shares_s) {
			unsigned char *coef = malloc((size_t)(k - 1) * 32), sh[32];
			char body[512], chk[9], fname[64], sid[17];
			if (coef == NULL) {
				r = EXIT_USAGE;
				break;
			}
			/* the same polynomial for every share: seeded once */
			{
				unsigned char seed[32];
				size_t t;
				hmac_sha256(bk, 32, "hostca backup v1 coef", 21, id, sizeof id, seed);
				for (t = 0; t < (size_t)(k - 1); t++)
					hmac_sha256(seed, 32, &t, sizeof t, NULL, 0, coef + 32 * t);
				hostca_wipe(seed, sizeof seed);
			}
			shamir_share(bk, coef, k, (unsigned char)(i + 1), sh);
			hostca_wipe(coef, (size_t)(k - 1) * 32);
			free(coef);
			hex_encode(sid, id, sizeof id, 0, 0);
			hex_encode(hx, sh, 32, 0, 0);
			hostca_wipe(sh, sizeof sh);
			snprintf(body, sizeof body, "hostca-backup-share 1\nbackup %s\nindex %zu\n"
				"threshold %d\nshares %d\nshare %s\n", sid, i + 1, k, n, hx);
			share_check(body, chk);
			snprintf(body + strlen(body), sizeof body - strlen(body), "check %s\n", chk);
			hostca_wipe(hx, sizeof hx);
			snprintf(fname, sizeof fname, "hostca-share-%zu-of-%d.txt", i + 1, n);
			path_join(path, sizeof path, media[i], fname);
			if (atomic_write_sync(path, body, strlen(body), 0600, SYNC_DATA) < 0) {
				msg_errno(path, "cannot write");
				r = EXIT_USAGE;
			}
			hostca_wipe(body, sizeof body);
		}
		if (r == 0 && fsync_dir(media[i]) < 0) {
			msg_errno(media[i], "cannot sync");
			r = EXIT_USAGE;
		}
	}
	hostca_wipe(bk, sizeof bk);
	hostca_wipe(ek, sizeof ek);
	hostca_wipe(mk, sizeof mk);
	free(out);
	if (r == 0) {
		if (shares_s)
			cnote("backup of %llu journal entries (CRL #%llu) on %zu sticks, each with"
				" one share: any %d of them restore it, fewer cannot",
				(unsigned long long)ca.seq, (unsigned long long)ca.crl_number, nmedia, k);
		else
			cnote("backup of %llu journal entries (CRL #%llu) written to %s/%s, under"
				" the backup passphrase", (unsigned long long)ca.seq,
				(unsigned long long)ca.crl_number, media[0], BACKUP_FILE);
		if (g.json) {
			json_key("backup");
			printf("{\"entries\":%llu,\"crl_number\":%llu,\"shares\":%d,\"threshold\":%d}",
				(unsigned long long)ca.seq, (unsigned long long)ca.crl_number, n, k);
		}
	}
	return ca_close(&ca, r);
}

/* The value of the backup's header line "KEY VALUE" (copied into buf,
 * at most 127 characters), or NULL. */
static char bf_buf[128];

static const char *
backup_field(const char *head, const char *key)
{
	size_t kl = strlen(key), vl;
	const char *p = head;

	while (*p) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
			vl = strcspn(p + kl + 1, "\n");
			if (vl >= sizeof bf_buf)
				return NULL;
			memcpy(bf_buf, p + kl + 1, vl);
			bf_buf[vl] = 0;
			return bf_buf;
		}
		p += strcspn(p, "\n");
		if (*p)
			p++;
	}
	return NULL;
}

/* A backup's header, as backup_header reads it. */
typedef struct {
	size_t off, clen;            /* the ciphertext: data + off, clen bytes */
	char *head;                  /* the header text (allocated), NUL-ended */
	size_t mac_at;               /* bytes of head the MAC covers */
	unsigned char nonce[12], mac[32];
	long long when;
	unsigned long long entries, crlnum;
	int shares, k, n;            /* shares: K of N, id sid */
	char sid[17];
	unsigned long iter;          /* or a passphrase: PBKDF2 */
	unsigned char salt[16];
} backup_hdr;

/* Reads a backup's header (untrusted: it comes off a stick). 0, or -1
 * with why set; h->head is to be freed either way. */
static int
backup_header(const unsigned char *data, size_t dl, backup_hdr *h, char *why)
{
	size_t hl;
	const char *v, *ml;
	char hx[65];

	memset(h, 0, sizeof *h);
	if (dl < 16 || memcmp(data, "hostca-backup 1\n", 16) != 0) {
		set_why(why, "not a hostca backup");
		return -1;
	}
	for (hl = 0; hl + 1 < dl && hl <= 4000 && !(data[hl] == '\n' && data[hl + 1] == '\n'); hl++)
		;
	if (hl + 1 >= dl || hl > 4000 || memchr(data, 0, hl) != NULL) {
		set_why(why, "damaged: no end to its header");
		return -1;
	}
	if ((h->head = malloc(hl + 2)) == NULL) {
		set_why(why, "out of memory");
		return -1;
	}
	memcpy(h->head, data, hl + 1);
	h->head[hl + 1] = 0;
	h->off = hl + 2;
	h->clen = dl - h->off;
	if ((v = backup_field(h->head, "len")) == NULL || strtoull(v, NULL, 10) != h->clen
		|| (v = backup_field(h->head, "nonce")) == NULL || hex_decode(h->nonce, 12, v) != 12
		|| (v = backup_field(h->head, "mac")) == NULL || strlen(v) != 64) {
		set_why(why, "truncated or damaged (its header does not match its length)");
		return -1;
	}
	memcpy(hx, v, 65);
	if (hex_decode(h->mac, 32, hx) != 32 || (ml = strstr(h->head, "\nmac ")) == NULL) {
		set_why(why, "damaged: its MAC line");
		return -1;
	}
	h->mac_at = (size_t)(ml - h->head) + 1;
	h->when = (v = backup_field(h->head, "time")) ? strtoll(v, NULL, 10) : 0;
	h->entries = (v = backup_field(h->head, "entries")) ? strtoull(v, NULL, 10) : 0;
	h->crlnum = (v = backup_field(h->head, "crl")) ? strtoull(v, NULL, 10) : 0;
	if ((v = backup_field(h->head, "kdf")) == NULL) {
		set_why(why, "damaged: no key derivation line");
		return -1;
	}
	if (strncmp(v, "shares ", 7) == 0) {
		h->shares = 1;
		if (sscanf(v + 7, "%d %d %16s", &h->k, &h->n, h->sid) != 3 || h->k < 2
			|| h->n < h->k || h->n > 16 || strlen(h->sid) != 16) {
			set_why(why, "damaged: its shares line");
			return -1;
		}
	} else if (strncmp(v, "pbkdf2-sha256 ", 14) == 0) {
		char shx[40];
		if (sscanf(v + 14, "%lu %32s", &h->iter, shx) != 2 || h->iter < 1000
			|| h->iter > 10000000 || hex_decode(h->salt, 16, shx) != 16) {
			set_why(why, "damaged: its key derivation line");
			return -1;
		}
	} else {
		set_why(why, "damaged: an unknown key derivation");
		return -1;
	}
	return 0;
}

/* A share file's text (untrusted), NUL-ended, at most 511 bytes: its
 * checksum checked, then its fields. 0, or -1 with why. */
static int
share_parse(char *body, char sid[17], int *idx, int *k, int *n, unsigned char sh[32],
	char *why)
{
	char chk[9], *c, shx[65];

	if (strncmp(body, "hostca-backup-share 1\n", 22) != 0
		|| (c = strstr(body, "\ncheck ")) == NULL) {
		set_why(why, "not a share file");
		return -1;
	}
	c++;
	*c = 0;
	share_check(body, chk);
	if (strncmp(c + 6, chk, 8) != 0) {
		set_why(why, "damaged: its checksum does not match (a changed or mistyped"
			" character); this share is not used");
		return -1;
	}
	if (sscanf(body, "hostca-backup-share 1\nbackup %16s\nindex %d\nthreshold %d\n"
		"shares %d\nshare %64s", sid, idx, k, n, shx) != 5 || strlen(sid) != 16
		|| *idx < 1 || *idx > 16 || hex_decode(sh, 32, shx) != 32) {
		hostca_wipe(shx, sizeof shx);
		set_why(why, "damaged: its fields");
		return -1;
	}
	hostca_wipe(shx, sizeof shx);
	return 0;
}

/* The backup's plaintext: "NAME SIZE\n" then SIZE bytes, for each of
 * ca_files exactly once. put() gets each (index into ca_files).
 * 0, or -1 (not a whole CA), or what put() returned (non-zero). */
static int
backup_unpack(const unsigned char *d, size_t len,
	int (*put)(void *ctx, int idx, const unsigned char *data, size_t n), void *ctx)
{
	size_t p = 0;
	unsigned seen = 0;

	while (p < len) {
		char name[40], *sp, *end;
		const unsigned char *nl = memchr(d + p, '\n', len - p < 40 ? len - p : 40);
		size_t l;
		unsigned long long fl;
		int j, r;
		if (nl == NULL)
			return -1;
		l = (size_t)(nl - (d + p));
		memcpy(name, d + p, l);
		name[l] = 0;
		if (memchr(name, 0, l) != NULL || (sp = strchr(name, ' ')) == NULL)
			return -1;
		*sp = 0;
		if (sp[1] < '0' || sp[1] > '9')
			return -1;
		fl = strtoull(sp + 1, &end, 10);
		if (*end != 0)
			return -1;
		for (j = 0; ca_files[j] && strcmp(ca_files[j], name) != 0; j++)
			;
		p += l + 1;
		if (ca_files[j] == NULL || fl > len - p || (seen & (1u << j)))
			return -1;
		seen |= 1u << j;
		if ((r = put(ctx, j, d + p, (size_t)fl)) != 0)
			return r;
		p += (size_t)fl;
	}
	return (seen & ((1u << CA_FILES_REQUIRED) - 1)) == (1u << CA_FILES_REQUIRED) - 1 ? 0 : -1;
}

/* backup_unpack's put for a restore: each file into the new directory. */
static int
restore_put(void *ctx, int idx, const unsigned char *data, size_t n)
{
	char path[PATH_MAX];

	path_join(path, sizeof path, (const char *)ctx, ca_files[idx]);
	if (atomic_write_sync(path, data, n, idx == 0 || strcmp(ca_files[idx], "prev.key") == 0
		? 0600 : 0644, SYNC_DATA) < 0) {
		msg_errno(path, "cannot write");
		return EXIT_USAGE;
	}
	return 0;
}

static int cmd_ca_check(int argc, char **argv);

static int
cmd_ca_restore(int argc, char **argv)
{
	const char *from[HOSTCA_MAX_NAMES], *pf = NULL, *seen_media = NULL;
	size_t nfrom = 0, i, dl = 0;
	int npos, r = EXIT_USAGE, got = 0;
	char *pos[1], path[PATH_MAX], tmp[PATH_MAX], parent[PATH_MAX], why[WHY_CAP];
	char pass[MAX_PASSPHRASE], t[32];
	unsigned char *data = NULL, bk[32], ek[32], mk[32], mac[32];
	unsigned char xs[16], ys[16][32];
	backup_hdr bh;
	opt opts[] = {
		{ "--from", O_MULTI, 0, 0, from, &nfrom, 0 },
		{ "--backup-passphrase-file", O_STR, &pf, 0, 0, 0, 0 },
		{ "--media", O_STR, &seen_media, 0, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	memset(&bh, 0, sizeof bh);
	memset(ek, 0, sizeof ek);
	memset(mk, 0, sizeof mk);
	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (nfrom == 0) {
		cmsg("--from DIR: where the backup is (give it once per stick with shares)");
		return EXIT_USAGE;
	}
	/* Never over an existing CA. */
	if (ca_dir_is_new(g.ca_dir, "a restore") < 0)
		return EXIT_USAGE;
	for (i = 0; i < nfrom && data == NULL; i++) {
		path_join(path, sizeof path, from[i], BACKUP_FILE);
		if (path_exists(path) && file_read(path, BACKUP_MAX + 4096, &data, &dl) < 0) {
			msg(path, "cannot read: %s", read_errstr(errno));
			return EXIT_USAGE;
		}
	}
	if (data == NULL) {
		cmsg("no %s in %s%s", BACKUP_FILE, from[0], nfrom > 1 ? " or the other --from" : "");
		return EXIT_USAGE;
	}
	if (backup_header(data, dl, &bh, why) < 0) {
		msg(BACKUP_FILE, "%s; nothing was restored", why);
		goto out;
	}
	if (bh.shares) {
		/* the shares on the sticks given: checked, distinct, this backup's */
		for (i = 0; i < nfrom && got < bh.k; i++) {
			DIR *d = opendir(from[i]);
			struct dirent *de;
			if (d == NULL)
				continue;
			while ((de = readdir(d)) != NULL && got < bh.k) {
				unsigned char *sd, sh[32];
				size_t sl;
				char body[512], bid[17];
				int idx, kk, nn, m, dup = 0;
				if (strncmp(de->d_name, "hostca-share-", 13) != 0)
					continue;
				path_join(path, sizeof path, from[i], de->d_name);
				if (file_read(path, 1024, &sd, &sl) < 0)
					continue;
				if (sl >= sizeof body || memchr(sd, 0, sl) != NULL) {
					hostca_wipe(sd, sl);
					free(sd);
					msg(path, "not a share file");
					continue;
				}
				memcpy(body, sd, sl);
				body[sl] = 0;
				hostca_wipe(sd, sl);
				free(sd);
				if (share_parse(body, bid, &idx, &kk, &nn, sh, why) < 0) {
					msg(path, "%s", why);
				} else if (strcmp(bid, bh.sid) != 0 || kk != bh.k || nn != bh.n || idx > bh.n) {
					msg(path, "a share of another backup; not used");
				} else {
					for (m = 0; m < got; m++)
						dup |= xs[m] == idx;
					if (!dup) {
						memcpy(ys[got], sh, 32);
						xs[got++] = (unsigned char)idx;
					}
				}
				hostca_wipe(body, sizeof body);
				hostca_wipe(sh, sizeof sh);
			}
			closedir(d);
		}
		if (got < bh.k) {
			cmsg("%d share%s of this backup found, %d needed: nothing was restored",
				got, got == 1 ? "" : "s", bh.k);
			r = EXIT_REFUSED;
			goto out;
		}
		shamir_combine(xs, (const unsigned char (*)[32])ys, bh.k, bk);
		hostca_wipe(ys, sizeof ys);
	} else {
		if (backup_passphrase(pf, pass, sizeof pass, 0) < 0)
			goto out;
		pbkdf2_sha256(pass, bh.salt, 16, (uint32_t)bh.iter, bk, 32);
		hostca_wipe(pass, sizeof pass);
	}
	backup_keys(bk, ek, mk);
	hostca_wipe(bk, sizeof bk);
	/* the MAC covers the header up to its mac line, and the ciphertext */
	hmac_sha256(mk, 32, bh.head, bh.mac_at, data + bh.off, bh.clen, mac);
	if (!ct_equal(mac, bh.mac, 32)) {
		cmsg("the backup does not check: a wrong passphrase or shares, or a changed"
			" byte in %s; nothing was restored", BACKUP_FILE);
		r = EXIT_REFUSED;
		goto out;
	}
	backup_ctr(ek, bh.nonce, data + bh.off, bh.clen);
	/* into a new directory next to the target, renamed into place */
	path_dir(parent, sizeof parent, g.ca_dir);
	init_leftovers_remove(parent, g.ca_dir);
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.init-" MKSTEMP_X, g.ca_dir) >= sizeof tmp
		|| mkdtemp(tmp) == NULL) {
		msg_errno(g.ca_dir, "cannot create a directory next to it");
		goto out;
	}
	r = backup_unpack(data + bh.off, bh.clen, restore_put, tmp);
	if (r < 0) {
		cmsg("the backup's content is not a whole CA; nothing was restored");
		r = EXIT_USAGE;
	}
	fault_point("restore-before-rename");
	if (r == 0 && (fsync_dir(tmp) < 0 || rename(tmp, g.ca_dir) < 0)) {
		msg_errno(g.ca_dir, "cannot create");
		r = EXIT_USAGE;
	}
	if (r != 0) {
		ca_dir_unfinished_remove(tmp);
		goto out;
	}
	fsync_dir(parent);
	cnote("restored %s from a backup of %s: %llu journal entries, CRL #%llu",
		g.ca_dir, time_iso(t, bh.when), bh.entries, bh.crlnum);
	/* Rollback: the newest CRL the hosts have seen, and numbers above it. */
	if (seen_media != NULL) {
		static const char *const lb[] = { "X509 CRL", NULL };
		unsigned char *crl = NULL;
		size_t rl;
		crl_info ci;
		ca_ctx ca;
		char kid[17];
		uint64_t num = 0;
		if ((r = ca_open_fast(&ca, 1, 1)) != 0)
			goto rolled;
		ca_keyid(kid, ca.ca.spki, ca.ca.spki_len);
		media_ca_path(path, sizeof path, seen_media, "crl", kid);
		if (pem_file_load(path, lb, MAX_CRL_FILE, &crl, &rl, NULL) != 0
			|| crl_decode(&ci, crl, rl, why) < 0 || crl_verify_sig(&ci, &ca.ca, why) < 0) {
			msg(path, "no CRL of this CA to compare with");
			free(crl);
			r = ca_close(&ca, EXIT_REFUSED);
			goto rolled;
		}
		for (i = 0; i < ci.number_len && i < 8; i++)
			num = num << 8 | ci.number[i];
		free(crl);
		if (num > ca.crl_number) {
			msg("warning", "the hosts have seen CRL #%llu; the backup ends at CRL #%llu:"
				" what the CA did after the backup is missing (certificates it issued"
				" are unknown here and stay valid until they expire; revocations after"
				" it must be done again). CRL numbers go on above #%llu, so hosts"
				" accept the next CRL", (unsigned long long)num,
				(unsigned long long)ca.crl_number, (unsigned long long)num);
			ca.crl_number = num;
			if (ca_publish_crl(&ca, ca.crl_days) < 0) {
				r = ca_close(&ca, EXIT_USAGE);
				goto rolled;
			}
			cnote("published CRL #%llu; carry it to the hosts (ca export --media DIR)",
				(unsigned long long)ca.crl_number);
		} else {
			cnote("the hosts' newest CRL (#%llu) is not newer than the backup's: no"
				" history is missing", (unsigned long long)num);
		}
		r = ca_close(&ca, 0);
	}
rolled:
	if (r == 0) {
		/* ca check on it (with --json: its "check" in this document) */
		char *none[1] = { NULL };
		r = cmd_ca_check(0, none);
	}
	if (g.json) {
		json_key("restored");
		printf("{\"time\":\"%s\",\"entries\":%llu,\"crl_number\":%llu}",
			time_iso(t, bh.when), bh.entries, bh.crlnum);
	}
out:
	hostca_wipe(ek, sizeof ek);
	hostca_wipe(mk, sizeof mk);
	if (data != NULL)
		hostca_wipe(data, dl);
	free(data);
	free(bh.head);
	return r;
}

/* ---- names: who holds which (I5), shared names, releasing one ---- */

typedef struct {
	char name[HOSTCA_MAX_NAME_LEN + 1];
	size_t host, cert;
	int64_t since;
} name_row;

static int
name_row_cmp(const void *a, const void *b)
{
	const name_row *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : x->since < y->since ? -1 : x->since > y->since;
}

/*
 * Every name held now (or only name): one row per holding host, with the
 * newest valid certificate that carries it and since when the host has
 * held it without a break. *n rows, allocated; NULL when out of memory.
 */
static name_row *
name_rows(ca_ctx *ca, const char *only, size_t *n)
{
	name_row *rows = NULL;
	size_t cap = 0, i, k, j;

	*n = 0;
	for (i = 0; i < ca->nhosts; i++) {
		size_t first = *n;
		for (k = ca->hosts[i].last; k != SIZE_MAX; k = ca->certs[k].prev_of_host) {
			const cert_rec *c = &ca->certs[k];
			const char *p = c->names;
			if (!cert_is_valid(c, g.now))
				continue;
			while (*p) {
				size_t l = strcspn(p, ","), m;
				char nm[HOSTCA_MAX_NAME_LEN + 1];
				snprintf(nm, sizeof nm, "%.*s", (int)l, p);
				p += l + (p[l] == ',');
				if (only != NULL && strcmp(nm, only) != 0)
					continue;
				for (j = first; j < *n && strcmp(rows[j].name, nm) != 0; j++)
					;
				if (j < *n)
					continue;        /* a newer certificate has it */
				if (grow((void **)&rows, &cap, *n + 1, sizeof *rows) < 0) {
					free(rows);
					return NULL;
				}
				strcpy(rows[*n].name, nm);
				rows[*n].host = i;
				rows[*n].cert = k;
				/* held since: back through the host's certificates
				 * while they carry it */
				for (m = k; ca->certs[m].prev_of_host != SIZE_MAX; ) {
					const cert_rec *pc = &ca->certs[ca->certs[m].prev_of_host];
					int64_t end = pc->revoked && pc->rev_at < pc->na ? pc->rev_at : pc->na;
					if (!names_has(pc->names, nm) || end < ca->certs[m].issued)
						break;       /* a break: nobody held it between */
					m = ca->certs[m].prev_of_host;
				}
				rows[(*n)++].since = ca->certs[m].issued;
			}
		}
	}
	if (*n > 1)
		qsort(rows, *n, sizeof *rows, name_row_cmp);
	if (rows == NULL && (rows = malloc(1)) == NULL)
		return NULL;
	return rows;
}

static int
cmd_ca_names(int argc, char **argv)
{
	int npos, r;
	char *pos[1], t[32], sh[41], canon[HOSTCA_MAX_NAME_LEN + 1];
	ca_ctx ca;
	name_row *rows;
	size_t n, i;
	opt opts[] = { { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 1, &npos) < 0)
		return EXIT_USAGE;
	if (npos) {
		/* the name as certificates carry it: DNS lower-case, IPs canonical */
		hostname hn;
		if (hostname_parse(&hn, pos[0]) < 0) {
			cmsg("'%s' is not a DNS name or IP address", pos[0]);
			return EXIT_USAGE;
		}
		snprintf(canon, sizeof canon, "%s", hn.text);
	}
	if ((r = ca_open(&ca, 0, 0)) != 0)
		return ca_close(&ca, r);
	if ((rows = name_rows(&ca, npos ? canon : NULL, &n)) == NULL)
		return ca_close(&ca, EXIT_USAGE);
	if (g.json) {
		json_key("names");
		putchar('[');
	} else if (n > 0) {
		printf("%-32s %-36s %-20s %s\n", "NAME", "HOST ID", "SINCE", "SERIAL");
	}
	for (i = 0; i < n; i++) {
		const cert_rec *c = &ca.certs[rows[i].cert];
		int shared = share_has(&ca, rows[i].name, ca.hosts[rows[i].host].hostid);
		serial_hex(sh, c->serial, c->serial_len);
		time_iso(t, rows[i].since);
		if (g.json) {
			printf("%s{\"name\":", i ? "," : "");
			json_str(rows[i].name);
			printf(",\"host_id\":\"%s\",\"since\":\"%s\",\"serial\":\"%s\","
				"\"shared\":%s}", ca.hosts[rows[i].host].hostid, t, sh,
				shared ? "true" : "false");
		} else {
			printf("%-32s %s %s %s%s\n", rows[i].name, ca.hosts[rows[i].host].hostid,
				t, sh, shared ? "  (shared)" : "");
		}
	}
	if (g.json)
		putchar(']');
	free(rows);
	if (npos && n == 0) {
		cmsg("nobody holds '%s' (no valid certificate carries it)", canon);
		return ca_close(&ca, EXIT_REFUSED);
	}
	return ca_close(&ca, 0);
}

/*
 * ca share: a service name (a virtual IP, a cluster's DNS name) that the
 * hosts of an HA pair or group may all hold at once; every other name
 * stays exclusive (I5). --remove ends it (the certificates that carry it
 * stay valid; new ones follow I5 again).
 */
static int
cmd_ca_share(int argc, char **argv)
{
	const char *name = NULL, *hosts = NULL;
	int remove = 0, npos, r;
	char *pos[1], why[WHY_CAP], *list = NULL, f[64 + 3 * HOSTCA_MAX_NAME_LEN];
	char en[3 * HOSTCA_MAX_NAME_LEN + 1];
	hostname h;
	ca_ctx ca;
	size_t n = 0;
	opt opts[] = {
		{ "--name", O_STR, &name, 0, 0, 0, 0 },
		{ "--hosts", O_STR, &hosts, 0, 0, 0, 0 },
		{ "--remove", O_FLAG, 0, &remove, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (name == NULL || (hosts == NULL) == !remove) {
		cmsg("give --name NAME and either --hosts A,B,... or --remove");
		return EXIT_USAGE;
	}
	if (hostname_parse(&h, name) < 0) {
		cmsg("--name: '%s' is not a DNS name or IP address", name);
		return EXIT_USAGE;
	}
	/* the whole state: who holds the name now (listed against --hosts) */
	if ((r = ca_open(&ca, 1, 1)) != 0)
		return ca_close(&ca, r);
	if (remove) {
		if (share_find(&ca, h.text) == NULL) {
			cmsg("'%s' is not shared", h.text);
			return ca_close(&ca, EXIT_REFUSED);
		}
	} else {
		const char *p = hosts;
		if ((list = malloc(strlen(hosts) / 2 * (HOSTCA_UUID_LEN + 1) + HOSTCA_UUID_LEN + 2))
			== NULL)
			return ca_close(&ca, EXIT_USAGE);
		list[0] = 0;
		while (*p) {
			size_t l = strcspn(p, ","), hi;
			char one[HOSTCA_MAX_NAME_LEN + 1];
			snprintf(one, sizeof one, "%.*s", (int)l, p);
			p += l + (p[l] == ',');
			if (l == 0 || l > HOSTCA_MAX_NAME_LEN) {
				cmsg("--hosts: an empty or overlong entry");
				free(list);
				return ca_close(&ca, EXIT_USAGE);
			}
			if ((hi = ca_resolve_host(&ca, one, why)) == SIZE_MAX) {
				cmsg("--hosts: %s", why);
				free(list);
				return ca_close(&ca, EXIT_REFUSED);
			}
			if (names_has(list, ca.hosts[hi].hostid))
				continue;
			if (n++ > 0)
				strcat(list, ",");
			strcat(list, ca.hosts[hi].hostid);
		}
		if (n < 2 || n > 16) {
			cmsg("--hosts: a share is for 2 to 16 hosts (%zu given)", n);
			free(list);
			return ca_close(&ca, EXIT_USAGE);
		}
		/* every host that holds the name now must be in the share */
		{
			name_row *rows;
			size_t nr, j;
			if ((rows = name_rows(&ca, h.text, &nr)) == NULL) {
				free(list);
				return ca_close(&ca, EXIT_USAGE);
			}
			for (j = 0; j < nr; j++)
				if (!names_has(list, ca.hosts[rows[j].host].hostid)) {
					cmsg("host %s holds '%s' now and is not in --hosts: include it,"
						" or release the name first (ca release)",
						ca.hosts[rows[j].host].hostid, h.text);
					free(rows);
					free(list);
					return ca_close(&ca, EXIT_REFUSED);
				}
			free(rows);
		}
	}
	snprintf(f, sizeof f, "name=%s hosts=", esc(en, sizeof en, h.text));
	{
		char *ev = malloc(strlen(f) + (list ? strlen(list) : 1) + 2);
		if (ev == NULL) {
			free(list);
			return ca_close(&ca, EXIT_USAGE);
		}
		strcpy(ev, f);
		strcat(ev, list ? list : "-");
		r = journal_add(&ca, "share", ev) < 0 || journal_commit(&ca) < 0;
		free(ev);
	}
	if (r) {
		free(list);
		return ca_close(&ca, EXIT_USAGE);
	}
	if (remove)
		cnote("'%s' is not shared any more: one holder again for new certificates",
			h.text);
	else
		cnote("'%s' is shared by %zu hosts: %s", h.text, n, list);
	if (g.json) {
		json_key("shared");
		printf("{\"name\":");
		json_str(h.text);
		printf(",\"hosts\":");
		json_names(list ? list : "");
		putchar('}');
	}
	free(list);
	return ca_close(&ca, 0);
}

/*
 * ca release: frees a name whose holder is gone. Every valid certificate
 * that carries it is revoked (cessationOfOperation), after the operator
 * saw what that affects and confirmed (--yes, or y at a terminal); the
 * revocation is journaled with the name and the reason.
 */
static int
cmd_ca_release(int argc, char **argv)
{
	const char *name = NULL, *reason = NULL;
	int yes = 0, npos, r;
	char *pos[1], *list, en[3 * HOSTCA_MAX_NAME_LEN + 1], er[3 * MAX_REASON_TEXT + 1];
	char *extra;
	hostname h;
	ca_ctx ca;
	size_t i, k, n = 0;
	opt opts[] = {
		{ "--name", O_STR, &name, 0, 0, 0, 0 },
		{ "--reason", O_STR, &reason, 0, 0, 0, 0 },
		{ "--yes", O_FLAG, 0, &yes, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (name == NULL || reason == NULL || !*reason) {
		cmsg("give --name NAME and --reason TEXT (why the holder is gone)");
		return EXIT_USAGE;
	}
	if (strlen(reason) > MAX_REASON_TEXT
		|| !text_clean((const unsigned char *)reason, strlen(reason))) {
		cmsg("--reason: at most %d printable characters", MAX_REASON_TEXT);
		return EXIT_USAGE;
	}
	if (hostname_parse(&h, name) < 0) {
		cmsg("--name: '%s' is not a DNS name or IP address", name);
		return EXIT_USAGE;
	}
	if ((r = ca_open(&ca, 1, 1)) != 0)
		return ca_close(&ca, r);
	if ((list = malloc(41 * (ca.ncerts + 1))) == NULL)
		return ca_close(&ca, EXIT_USAGE);
	list[0] = 0;
	for (k = 0; k < ca.ncerts; k++) {
		const cert_rec *c = &ca.certs[k];
		char sh[41];
		if (!cert_is_valid(c, g.now) || !names_has(c->names, h.text))
			continue;
		serial_hex(sh, c->serial, c->serial_len);
		if (n++)
			strcat(list, ",");
		strcat(list, sh);
		note(sh, "holds '%s': host %s, names %s -- will be revoked", h.text, c->hostid,
			c->names);
	}
	if (n == 0) {
		cmsg("nobody holds '%s' (no valid certificate carries it): nothing to release",
			h.text);
		free(list);
		return ca_close(&ca, EXIT_REFUSED);
	}
	if (!yes) {
		char line[16] = "";
		if (isatty(0) && isatty(2)) {
			fprintf(stderr, "hostca: %s: revoke %zu certificate%s to release '%s'? [y/N] ",
				g.cmd, n, n == 1 ? "" : "s", h.text);
			if (fgets(line, sizeof line, stdin) == NULL)
				line[0] = 0;
		}
		if (line[0] != 'y' && line[0] != 'Y') {
			cmsg("not confirmed: nothing was changed (give --yes to confirm"
				" revoking the %zu certificate%s above)", n, n == 1 ? "" : "s");
			free(list);
			return ca_close(&ca, EXIT_REFUSED);
		}
	}
	if ((extra = malloc(sizeof en + sizeof er + 32)) == NULL) {
		free(list);
		return ca_close(&ca, EXIT_USAGE);
	}
	snprintf(extra, sizeof en + sizeof er + 32, " release=%s text=%s",
		esc(en, sizeof en, h.text), esc(er, sizeof er, reason));
	r = revoke_commit(&ca, list, 5, extra, 1);
	free(extra);
	if (r == 0) {
		cnote("'%s' is free: a new host may be certified for it", h.text);
		if (g.json) {
			json_key("released");
			printf("{\"name\":");
			json_str(h.text);
			printf(",\"reason\":");
			json_str(reason);
			printf(",\"serials\":[");
			for (i = 0; list[i];) {
				size_t l = strcspn(list + i, ",");
				printf("%s\"%.*s\"", i ? "," : "", (int)l, list + i);
				i += l + (list[i + l] == ',');
			}
			printf("]}");
		}
	}
	free(list);
	return ca_close(&ca, r);
}

static int
cmd_ca_audit(int argc, char **argv)
{
	int verify = 0, npos, r;
	char *pos[1];
	size_t n;
	ca_ctx ca;
	opt opts[] = { { "--verify", O_FLAG, 0, &verify, 0, 0, 0 }, { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	memset(&ca, 0, sizeof ca);
	ca.lock_fd = ca.dir_fd = -1;
	ca.dir = g.ca_dir;
	if (ca_lock(&ca, 0) < 0)
		return EXIT_USAGE;
	if (g.json && !verify) {
		json_key("entries");
		putchar('[');
	}
	r = journal_verify(g.ca_dir, !verify, verify, &n);
	if (g.json && !verify)
		putchar(']');
	if (verify) {
		if (g.json) {
			json_key("verified");
			printf("%s", r == 0 ? "true" : "false");
			json_key("entry_count");
			printf("%zu", n);
		} else if (r == 0) {
			printf("%zu entries, hash chain intact, its end signed by the CA key:"
					" no entry was edited, removed, reordered or added except"
					" by someone holding the CA key\n", n);
		}
	}
	if (ca.dir_fd >= 0)
		close(ca.dir_fd);
	return r == 0 ? 0 : EXIT_REFUSED;
}

/*
 * The index (a cache): when present and current, it must be well-formed,
 * sorted, and agree with the fold of the journal. 0 good, 1 not.
 */
static int
check_index(ca_ctx *full)
{
	ca_ctx *ix;
	char path[PATH_MAX];
	size_t i, k, n = 0;
	int bad = 0, f;

	path_join(path, sizeof path, full->dir, "index/state");
	if (!path_exists(path))
		return 0;
	if ((ix = calloc(1, sizeof *ix)) == NULL)
		return 1;
	ix->lock_fd = ix->dir_fd = -1;
	ix->dir = full->dir;
	ix->ca = full->ca;                /* checks the index's signature */
	path_join(path, sizeof path, full->dir, "journal");
	ix->jfd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (ix->jfd < 0 || snap_open(ix) < 0) {
		cnote("the index does not match the journal (stale or damaged);"
			" the next writer rebuilds it");
		ca_free(ix);
		free(ix);
		return 0;
	}
	{
		size_t b;
		if (ix_check_all(ix, &f, &b) < 0) {
			cmsg("index/%s.%llu: block %zu is not what the signed index/state says"
				" (edited or damaged)", ix_names[f], (unsigned long long)ix->snap.seq,
				b + 1);
			bad = 1;
		}
	}
	for (f = 0; f < IX_COUNT && !bad; f++) {
		size_t w = ix_width[f], cnt = ix_count(ix, f);
		for (i = 0; i < cnt; i++) {
			const char *r = ix_rec(ix, f, i);
			if (r[w - 1] != '\n' || memchr(r, 0, w) != NULL
				|| (i > 0 && memcmp(ix_rec(ix, f, i - 1), r, w) >= 0)) {
				cmsg("index/%s.%llu: record %zu is malformed or out of order",
					ix_names[f], (unsigned long long)ix->snap.seq, i + 1);
				bad = 1;
				break;
			}
		}
	}
	for (i = 0; i < full->ncerts && !bad; i++) {
		const cert_rec *c = &full->certs[i];
		char key[41];
		const char *r;
		if (c->seq > ix->snap.seq)
			continue;
		n++;
		serial_key(key, c->serial, c->serial_len);
		r = ix_find(ix, IX_SERIAL, key, 40);
		if (r != NULL) {
			/* the entry the record vouches for is the journal's */
			char *e = journal_read_entry(ix, c->line_off, r + 87, NULL);
			if (e == NULL)
				r = NULL;
			free(e);
		}
		if (r == NULL || (uint64_t)ix_num(r + 41, 14) != c->line_off
			|| (r[56] == 'R' && !c->revoked)) {
			cmsg("index: certificate %s disagrees with the journal", key);
			bad = 1;
		}
	}
	k = ix_count(ix, IX_SERIAL);
	if (!bad && (n != k || n != ix->snap.ncerts)) {
		cmsg("index: %zu certificates indexed, the journal has %zu up to entry %llu",
			k, n, (unsigned long long)ix->snap.seq);
		bad = 1;
	}
	if (bad)
		cmsg("the index is a cache of the journal: remove %s/index and the"
			" next writer rebuilds it", full->dir);
	ca_free(ix);
	free(ix);
	return bad;
}

/*
 * crl.pem says what the state says: every entry is a certificate the
 * journal revoked, with its reason and date, and every revocation that
 * belongs on the current CRL is there. 0, or -1 (said why).
 */
static int
check_crl_entries(ca_ctx *ca, const crl_info *ci, const char *path)
{
	derr r;
	size_t i, seen = 0, want = 0;
	char sh[41];

	dr_init(&r, ci->entries, ci->entries_len);
	while (dr_more(&r)) {
		const unsigned char *s;
		size_t sl, k;
		int reason;
		int64_t when;
		const cert_rec *c;
		if (crl_entry_decode(&r, &s, &sl, &when, &reason) < 0) {
			msg(path, "a malformed entry");
			return -1;
		}
		while (sl > 1 && *s == 0)
			s++, sl--;
		k = sl <= 20 ? imap_get(&ca->by_serial, s, sl, key_serial, ca) : SIZE_MAX;
		c = k != SIZE_MAX ? &ca->certs[k] : NULL;
		serial_hex(sh, s, sl < 20 ? sl : 20);
		if (c == NULL || !c->revoked) {
			msg(path, "lists %s, which the journal %s", sh, c == NULL
				? "never issued" : "did not revoke");
			return -1;
		}
		if ((reason < 0 ? 0 : reason) != c->reason || when != c->rev_at) {
			msg(path, "lists %s as %s on %lld; the journal says %s on %lld", sh,
				reason_text(reason < 0 ? 0 : reason), (long long)when,
				reason_text(c->reason), (long long)c->rev_at);
			return -1;
		}
		seen++;
	}
	for (i = 0; i < ca->ncerts; i++)
		if (ca->certs[i].revoked && ca->certs[i].na >= ca->crl_keep)
			want++;
	if (seen != want) {
		msg(path, "lists %zu revocations; the journal has %zu that belong on it"
			" (a revocation was left out)", seen, want);
		return -1;
	}
	return 0;
}

static int
cmd_ca_check(int argc, char **argv)
{
	int npos, r = 0, bad = 0;
	char *pos[1], path[PATH_MAX], why[WHY_CAP], sh[41];
	ca_ctx ca;
	size_t i, n, used;
	DIR *d;
	struct dirent *de;
	opt opts[] = { { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (journal_verify(g.ca_dir, 0, 1, &n) < 0 || (r = ca_open(&ca, 0, 0)) != 0) {
		if (g.json) {
			/* no counts: the journal could not be read */
			json_key("check");
			printf("{\"consistent\":false,\"problems\":");
			json_errors();
			putchar('}');
		}
		if (r != 0)
			return ca_close(&ca, r == EXIT_USAGE ? EXIT_REFUSED : r);
		return EXIT_REFUSED;
	}
	/* ca.pem is the certificate the journal records (init, ca renew). */
	if (!ca.have_fp_rec) {
		msg("ca.pem", "the journal records no CA certificate");
		bad = 1;
	} else if (!ct_equal(ca.ca_fp_rec, ca.ca_fp, 32)) {
		x509_info *rn = NULL;
		if (ca.renew_der != NULL && cert_decode_alloc(&rn, ca.renew_der, ca.renew_len, why) == 0
			&& rn->spki_len == ca.ca.spki_len
			&& memcmp(rn->spki, ca.ca.spki, rn->spki_len) == 0) {
			msg("ca.pem", "pending recovery: the certificate before the last"
				" 'ca renew' (same key); the next CA command that holds the key"
				" writes the renewed one (e.g. 'hostca ca crl')");
		} else {
			msg("ca.pem", "is not the CA certificate the journal records");
			bad = 1;
		}
		free(rn);
	}
	if (ca.ca.pathlen != 0 || !ca.ca.is_ca
		|| sig_verify(&ca.ca.pub, ca.ca.sig_alg, ca.ca.tbs, ca.ca.tbs_len,
			ca.ca.sig, ca.ca.sig_len) < 0) {
		msg("ca.pem", "is not a valid self-signed CA certificate");
		bad = 1;
	}
	/* The key file is private. */
	{
		struct stat st;
		path_join(path, sizeof path, ca.dir, "ca.key");
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			msg(path, "missing or not a regular file");
			bad = 1;
		} else if (st.st_mode & 077) {
			msg(path, "readable by others (mode %03o): chmod 600", (unsigned)st.st_mode & 0777);
			bad = 1;
		}
		/* The key belongs to ca.pem: its public half computed from the
		 * private one (commands trust the point the file carries). An
		 * encrypted key is checked by every command that unlocks it. */
		{
			static const char *const kb[] = { "PRIVATE KEY", NULL };
			unsigned char *kd = NULL, fa[32], fb[32];
			size_t kl;
			char banner[64];
			hostca_key k;
			int sq = g.quiet;
			g.quiet = 1;
			if (pem_file_load(path, NULL, MAX_PEM_FILE, &kd, &kl, banner) == 0
				&& strcmp(banner, kb[0]) == 0) {
				if (hostca_key_decode(&k, kd, kl) < 0 || hostca_key_fingerprint(&k, fa) < 0
					|| pubkey_fingerprint(&ca.ca.pub, fb) < 0 || !ct_equal(fa, fb, 32)) {
					msg(path, "this key does not belong to ca.pem");
					bad = 1;
				}
				hostca_key_wipe(&k);
			}
			if (kd != NULL) {
				hostca_wipe(kd, kl);
				free(kd);
			}
			g.quiet = sq;
		}
	}
	/* crl.pem: signed by the CA, the latest number. */
	{
		static const char *const b[] = { "X509 CRL", NULL };
		unsigned char *der;
		size_t dl;
		crl_info ci;
		path_join(path, sizeof path, ca.dir, "crl.pem");
		if (pem_file_load(path, b, MAX_CRL_FILE, &der, &dl, NULL) != 0) {
			bad = 1;
		} else {
			if (crl_decode(&ci, der, dl, why) < 0 || crl_verify_sig(&ci, &ca.ca, why) < 0) {
				msg(path, "invalid: %s", why);
				bad = 1;
			} else {
				uint64_t num = 0;
				for (i = 0; i < ci.number_len; i++)
					num = num << 8 | ci.number[i];
				/* Behind: a command was interrupted between its journal
				 * entry and the file; that is a state the protocol
				 * expects, and the next writer completes it. Ahead:
				 * impossible without tampering. */
				if (num < ca.crl_number) {
					msg(path, "pending recovery: it is CRL #%llu, the journal is at"
						" #%llu (an interrupted command); the next CA command that"
						" holds the key rewrites it (e.g. 'hostca ca crl')",
						(unsigned long long)num, (unsigned long long)ca.crl_number);
				} else if (num > ca.crl_number) {
					msg(path, "is CRL #%llu, but the journal has only reached #%llu",
						(unsigned long long)num, (unsigned long long)ca.crl_number);
					bad = 1;
				} else if (!ca.crl_dirty && check_crl_entries(&ca, &ci, path) < 0) {
					bad = 1;
				}
			}
			free(der);
		}
		if (ca.crl_dirty)
			msg(ca.dir, "pending recovery: revocations of an interrupted command are"
				" not on a CRL yet; the next CA command that holds the key"
				" publishes one (e.g. 'hostca ca crl')");
	}
	/* Every certificate: parses, signed by the CA, matches its record. */
	for (i = 0; i < ca.ncerts; i++) {
		const unsigned char *der;
		size_t dl;
		x509_info *c = malloc(sizeof *c);
		cert_rec *cr = &ca.certs[i];
		unsigned char fp[32];
		serial_hex(sh, cr->serial, cr->serial_len);
		if (c == NULL)
			return ca_close(&ca, EXIT_USAGE);
		if ((der = ca_cert_der(&ca, i, &dl)) == NULL || cert_decode(c, der, dl, why) < 0) {
			msg(sh, "certificate record unreadable");
			bad = 1;
		} else if (c->serial_len != cr->serial_len
			|| memcmp(c->serial, cr->serial, cr->serial_len) != 0
			|| strcmp(c->hostid, cr->hostid) != 0 || c->na != cr->na
			|| pubkey_fingerprint(&c->pub, fp) < 0 || !ct_equal(fp, cr->keyfp, 32)) {
			msg(sh, "certificate does not match its record");
			bad = 1;
		} else if (!ca_signed_it(&ca, c)) {
			msg(sh, "certificate is not signed by this CA");
			bad = 1;
		}
		free(c);
	}
	/* Tokens never over-spent. */
	for (i = 0; i < ca.ntokens; i++) {
		if (ca.tokens[i].uses > ca.tokens[i].max) {
			msg(ca.tokens[i].name, "used %u times, allowed %u", ca.tokens[i].uses,
				ca.tokens[i].max);
			bad = 1;
		}
	}
	/* Leftovers of interrupted writes (harmless, reported). */
	used = 0;
	if ((d = opendir(ca.dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp-") != NULL)
				used++;
		closedir(d);
	}
	if (used)
		cnote("%zu temporary file%s left by interrupted writes (harmless)",
			used, used == 1 ? "" : "s");
	if (check_index(&ca))
		bad = 1;
	if (g.json) {
		json_key("check");
		printf("{\"consistent\":%s,\"entries\":%zu,\"certificates\":%zu,"
			"\"revoked\":%zu,\"hosts\":%zu,\"tokens\":%zu,\"crl_number\":%llu,"
			"\"problems\":", bad ? "false" : "true", n, ca.ncerts, ca.nrevoked,
			ca.nhosts, ca.ntokens, (unsigned long long)ca.crl_number);
		json_errors();
		putchar('}');
	} else if (!bad)
		printf("%s: consistent: %zu journal entr%s, %zu certificate%s (%zu revoked),"
			" %zu host%s, %zu token%s, CRL #%llu\n", ca.dir, n, n == 1 ? "y" : "ies",
			ca.ncerts, ca.ncerts == 1 ? "" : "s", ca.nrevoked, ca.nhosts,
			ca.nhosts == 1 ? "" : "s", ca.ntokens, ca.ntokens == 1 ? "" : "s",
			(unsigned long long)ca.crl_number);
	return ca_close(&ca, bad ? EXIT_REFUSED : 0);
}

#ifdef HOSTCA_TEST_HOOKS
/*
 * Bench helper, test builds only: `ca test-fill --issued N --revoked M`
 * appends N issue events (random serials, host IDs and names) and revokes
 * M of them, committing every 10,000 events. To stay fast, every record
 * carries a copy of one real certificate, so `ca check` would flag them:
 * this makes CAs of bench size, nothing else.
 */
static int
cmd_ca_test_fill(int argc, char **argv)
{
	const char *is = NULL, *rs = NULL;
	long ni = 0, nr = 0, i, k;
	int npos, r;
	char *pos[1], *b64, *f, *list;
	ca_ctx ca;
	opt opts[] = {
		{ "--issued", O_STR, &is, 0, 0, 0, 0 },
		{ "--revoked", O_STR, &rs, 0, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0 || is == NULL
		|| parse_uint("--issued", is, 1, 10000000, &ni) < 0
		|| (rs && parse_uint("--revoked", rs, 0, ni, &nr) < 0))
		return EXIT_USAGE;
	if ((r = ca_open(&ca, 1, 1)) != 0)
		return ca_close(&ca, r);
	b64 = malloc(ca.ca_len / 3 * 4 + 8);
	f = malloc(ca.ca_len / 3 * 4 + 41 * 200 + 1024);
	list = malloc(41 * 200 + 1);
	if (b64 == NULL || f == NULL || list == NULL)
		return ca_close(&ca, EXIT_USAGE);
	b64_encode(b64, ca.ca_der, ca.ca_len);
	ca.index_ok = 0;   /* the index is written once, at the end */
	for (i = 0; i < ni; i++) {
		unsigned char s[16], kf[32], rq[32];
		char sh[33], id[37], kh[65], rh[65];
		rng_bytes(&ca.rng, s, 16);
		s[0] = (unsigned char)((s[0] & 0x7f) | 1);
		rng_bytes(&ca.rng, kf, 32);
		rng_bytes(&ca.rng, rq, 32);
		uuid_from_random(id, &ca.rng);
		hex_encode(sh, s, 16, 1, 0);
		hex_encode(kh, kf, 32, 0, 0);
		hex_encode(rh, rq, 32, 0, 0);
		snprintf(f, ca.ca_len / 3 * 4 + 41 * 200 + 1024, "serial=%s host=%s names=h%ld.bench"
			" nb=%lld na=%lld keyfp=%s req=%s token=- kind=new cert=%s", sh, id, i,
			(long long)g.now, (long long)(g.now + 365 * 86400), kh, rh, b64);
		if (journal_add(&ca, "issue", f) < 0)
			return ca_close(&ca, EXIT_USAGE);
		if (ca.pend_len > (size_t)16 << 20 && journal_commit(&ca) < 0)
			return ca_close(&ca, EXIT_USAGE);
	}
	for (i = 0; i < nr; i += 200) {
		list[0] = 0;
		for (k = i; k < nr && k < i + 200; k++) {
			/* spread over the issued ones */
			size_t c = (size_t)(k * (ni / (nr ? nr : 1)));
			if (k > i)
				str_append(list, ",");
			serial_hex(list + strlen(list), ca.certs[c].serial, ca.certs[c].serial_len);
		}
		snprintf(f, ca.ca_len / 3 * 4 + 41 * 200 + 1024, "serials=%s reason=1", list);
		if (journal_add(&ca, "revoke", f) < 0)
			return ca_close(&ca, EXIT_USAGE);
	}
	free(b64);
	free(f);
	free(list);
	if (journal_commit(&ca) < 0 || (nr > 0 && ca_publish_crl(&ca, ca.crl_days) < 0))
		return ca_close(&ca, EXIT_USAGE);
	if (snap_write(&ca) < 0) {
		cmsg("cannot write the index");
		return ca_close(&ca, EXIT_USAGE);
	}
	cnote("%ld issued, %ld revoked", ni, nr);
	return ca_close(&ca, 0);
}
#endif

/* ======================================================================
 * 9c. Commands for anyone: verify, show
 * ====================================================================== */

static int
cmd_verify(int argc, char **argv)
{
	static const char *const cb[] = { "CERTIFICATE", NULL };
	static const char *const lb[] = { "X509 CRL", NULL };
	const char *ca_f = NULL, *crl_f = NULL, *at_s = NULL;
	char *pos[1], why[WHY_CAP], t[32];
	unsigned char *cert = NULL, *ca = NULL, *crl = NULL;
	size_t cl, al, rl = 0;
	int64_t at;
	int npos, r, reason;
	opt opts[] = {
		{ "--ca", O_STR, &ca_f, 0, 0, 0, 0 },
		{ "--crl", O_STR, &crl_f, 0, 0, 0, 0 },
		{ "--at", O_STR, &at_s, 0, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 1, &npos) < 0)
		return EXIT_USAGE;
	if (ca_f == NULL || npos != 1) {
		cmsg("usage: hostca verify --ca CA.pem [--crl CRL.pem] [--at TIME] CERT.pem");
		return EXIT_USAGE;
	}
	at = g.now;
	if (at_s != NULL && time_parse(at_s, &at) < 0) {
		cmsg("--at: '%s' is not a time (YYYY-MM-DD[THH:MM[:SS]][Z] or unix seconds)", at_s);
		return EXIT_USAGE;
	}
	if ((r = pem_file_load(ca_f, cb, MAX_PEM_FILE, &ca, &al, NULL)) != 0)
		return EXIT_USAGE;
	if ((r = pem_file_load(pos[0], cb, MAX_PEM_FILE, &cert, &cl, NULL)) != 0) {
		free(ca);
		return r;
	}
	if (crl_f && (r = pem_file_load(crl_f, lb, MAX_CRL_FILE, &crl, &rl, NULL)) != 0) {
		free(ca);
		free(cert);
		return EXIT_USAGE;
	}
	r = cert_verify_full(cert, cl, ca, al, crl, rl, at, &reason, why);
	if (g.json) {
		hostca_cert_info *info = malloc(sizeof *info);
		int ok = info != NULL && hostca_cert_info_decode(info, cert, cl) == 0;
		json_key("verify");
		printf("{\"valid\":%s,\"reason\":", r == 0 ? "true" : "false");
		if (r == 0)
			printf("null");
		else
			json_str(why);
		printf(",\"revocation_reason\":");
		if (r == HOSTCA_ERR_REVOKED)
			printf("\"%s\"", reason_text(reason < 0 ? 0 : reason));
		else
			printf("null");
		printf(",\"host_id\":");
		if (ok && info->hostid[0])
			json_str(info->hostid);
		else
			printf("null");
		printf(",\"not_after\":");
		if (ok)
			printf("\"%s\"", time_iso(t, info->not_after));
		else
			printf("null");
		printf(",\"crl_checked\":%s}", crl_f ? "true" : "false");
		free(info);
	}
	if (r == 0) {
		hostca_cert_info *info = g.json ? NULL : malloc(sizeof *info);
		if (info != NULL && hostca_cert_info_decode(info, cert, cl) == 0)
			printf("%s: OK (host %s, valid until %s)\n", pos[0],
				info->hostid[0] ? info->hostid : "-", time_iso(t, info->not_after));
		else if (!g.json)
			printf("%s: OK\n", pos[0]);
		free(info);
	} else if (r == HOSTCA_ERR_REVOKED) {
		msg(pos[0], "%s (reason: %s)", why, reason_text(reason < 0 ? 0 : reason));
	} else {
		msg(pos[0], "%s", why);
	}
	free(ca);
	free(cert);
	free(crl);
	return r == 0 ? 0 : EXIT_REFUSED;
}

static int
show_cert(const unsigned char *der, size_t len, int first)
{
	x509_info *c = malloc(sizeof *c);
	char why[WHY_CAP], sh[41], nb[32], na[32], kt[16], fp[100], kfp[96];
	unsigned char h[32], k[32];
	size_t i;

	if (c == NULL)
		return -1;
	if (cert_decode(c, der, len, why) < 0) {
		msg("certificate", "%s", why);
		free(c);
		return -1;
	}
	serial_hex(sh, c->serial, c->serial_len);
	sha256_once(h, der, len);
	fingerprint_text(fp, h);
	pubkey_fingerprint(&c->pub, k);
	hex_encode(kfp, k, 32, !!g.json, g.json ? ':' : 0);
	pubkey_type_name(kt, &c->pub);
	time_iso(nb, c->nb);
	time_iso(na, c->na);
	if (g.json) {
		printf("%s{\"type\":\"certificate\",\"subject\":", first ? "" : ",");
		json_str(c->subject_text);
		printf(",\"issuer\":");
		json_str(c->issuer_text);
		printf(",\"serial\":\"%s\",\"not_before\":\"%s\",\"not_after\":\"%s\","
			"\"key_type\":\"%s\",\"key_sha256\":\"%s\",\"sha256\":\"%s\",\"ca\":%s,"
			"\"host_id\":", sh, nb, na, kt, kfp, fp, c->is_ca ? "true" : "false");
		if (c->hostid[0])
			json_str(c->hostid);
		else
			printf("null");
		printf(",\"names\":[");
		for (i = 0; i < c->nnames; i++) {
			if (i)
				putchar(',');
			json_str(c->names[i].text);
		}
		printf("]}");
	} else {
		printf("certificate\n  subject:  %s\n  issuer:   %s\n  serial:   %s\n"
			"  valid:    %s to %s\n  key:      %s SHA256:%s\n  SHA-256:  %s\n",
			c->subject_text, c->issuer_text, sh, nb, na, kt, kfp, fp);
		if (c->is_ca)
			printf("  CA:       yes (path length %d)\n", c->pathlen);
		if (c->hostid[0])
			printf("  host ID:  %s\n", c->hostid);
		if (c->nnames) {
			printf("  names:   ");
			for (i = 0; i < c->nnames; i++)
				printf(" %s", c->names[i].text);
			putchar('\n');
		}
	}
	free(c);
	return 0;
}

static int
show_csr(const unsigned char *der, size_t len, int first)
{
	csr_info *c = malloc(sizeof *c);
	char why[WHY_CAP], kt[16], kfp[96];
	unsigned char k[32];
	size_t i;
	int err;

	if (c == NULL)
		return -1;
	if ((err = csr_decode(c, der, len, why)) < 0) {
		msg("request", "refused by hostca: %s", why);
		free(c);
		return -1;
	}
	pubkey_fingerprint(&c->pub, k);
	hex_encode(kfp, k, 32, !!g.json, g.json ? ':' : 0);
	pubkey_type_name(kt, &c->pub);
	if (g.json) {
		printf("%s{\"type\":\"request\",\"subject\":", first ? "" : ",");
		json_str(c->subject);
		printf(",\"key_type\":\"%s\",\"key_sha256\":\"%s\",\"host_id\":", kt, kfp);
		if (c->hostid[0])
			json_str(c->hostid);
		else
			printf("null");
		printf(",\"has_challenge\":%s,\"names\":[", c->has_challenge ? "true" : "false");
		for (i = 0; i < c->nnames; i++) {
			if (i)
				putchar(',');
			json_str(c->names[i].text);
		}
		printf("]}");
	} else {
		printf("certificate request (signature verified)\n  subject:  %s\n"
			"  key:      %s SHA256:%s\n  host ID:  %s\n", c->subject, kt, kfp,
			c->hostid[0] ? c->hostid : "(none: the CA assigns one)");
		printf("  names:   ");
		for (i = 0; i < c->nnames; i++)
			printf(" %s", c->names[i].text);
		printf("%s\n  token:    %s\n", c->nnames ? "" : " (none)",
			c->has_challenge ? "present (not shown)" : "none");
	}
	free(c);
	return 0;
}

static int
show_crl(const unsigned char *der, size_t len, int first)
{
	crl_info c;
	char why[WHY_CAP], t1[32], t2[32], num[41], sh[41], tw[32];
	derr r;
	int count = 0;

	if (crl_decode(&c, der, len, why) < 0) {
		msg("CRL", "%s", why);
		return -1;
	}
	hex_encode(num, c.number, c.number_len, 1, 0);
	time_iso(t1, c.this_update);
	time_iso(t2, c.next_update);
	if (g.json) {
		uint64_t nv = 0;
		size_t i;
		for (i = 0; i < c.number_len && i < 8; i++)
			nv = nv << 8 | c.number[i];
		printf("%s{\"type\":\"crl\",\"number\":", first ? "" : ",");
		if (c.number_len <= 7)
			printf("%llu", (unsigned long long)nv);
		else
			printf("\"%s\"", num);
		printf(",\"this_update\":\"%s\",\"next_update\":\"%s\",\"entries\":%zu,"
			"\"revoked\":[", t1, t2, c.count);
	}
	else
		printf("CRL\n  number:   %s (hex)\n  updated:  %s\n  next:     %s\n"
			"  entries:  %zu\n", num, t1, t2, c.count);
	dr_init(&r, c.entries, c.entries_len);
	while (dr_more(&r)) {
		const unsigned char *s;
		size_t sl;
		int64_t w;
		int rs;
		if (crl_entry_decode(&r, &s, &sl, &w, &rs) < 0)
			break;
		serial_hex(sh, s, sl);
		if (g.json)
			printf("%s{\"serial\":\"%s\",\"revoked_at\":\"%s\",\"reason\":\"%s\"}",
				count ? "," : "", sh, time_iso(tw, w), reason_text(rs < 0 ? 0 : rs));
		else
			printf("    %s %s %s\n", sh, time_iso(tw, w), reason_text(rs < 0 ? 0 : rs));
		count++;
	}
	if (g.json)
		printf("]}");
	return 0;
}

static int
cmd_show(int argc, char **argv)
{
	char *pos[1], banner[64];
	unsigned char *data, *der;
	size_t len, i, shown = 0, printed = 0, failed = 0;
	long n;
	int npos, k;
	opt opts[] = { { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 1, &npos) < 0)
		return EXIT_USAGE;
	if (npos != 1) {
		cmsg("usage: hostca show FILE");
		return EXIT_USAGE;
	}
	if (file_read(pos[0], MAX_CRL_FILE, &data, &len) < 0) {
		msg(pos[0], "cannot read: %s", read_errstr(errno));
		return EXIT_USAGE;
	}
	if ((der = malloc(len + 1)) == NULL) {
		free(data);
		return EXIT_USAGE;
	}
	if (g.json) {
		json_key("objects");
		putchar('[');
	}
	for (i = 0; i < MAX_PEM_BLOCKS; i++) {
		n = hostca_pem_decode(data, len, i, banner, der, len);
		if (n <= 0)
			break;
		if (!g.json && printed)
			putchar('\n');
		if (strcmp(banner, "CERTIFICATE") == 0)
			k = show_cert(der, (size_t)n, printed == 0);
		else if (strcmp(banner, "CERTIFICATE REQUEST") == 0
			|| strcmp(banner, "NEW CERTIFICATE REQUEST") == 0)
			k = show_csr(der, (size_t)n, printed == 0);
		else if (strcmp(banner, "X509 CRL") == 0)
			k = show_crl(der, (size_t)n, printed == 0);
		else
			k = 1;
		if (k == 0)
			printed++;
		else if (k < 0)
			failed++;
		else if (strstr(banner, "PRIVATE KEY") != NULL) {
			if (!g.json)
				printf("%s (not shown)\n", banner);
		} else if (!g.json) {
			printf("%s (not a kind hostca shows)\n", banner);
		}
		shown++;
	}
	if (shown == 0 && len > 0 && data[0] == 0x30) {
		/* DER: try each kind */
		csr_info *c = malloc(sizeof *c);
		x509_info *x = malloc(sizeof *x);
		crl_info cl;
		char why[WHY_CAP];
		if (c && x && cert_decode(x, data, len, why) == 0)
			show_cert(data, len, 1), shown++;
		else if (c && csr_decode(c, data, len, why) == 0)
			show_csr(data, len, 1), shown++;
		else if (crl_decode(&cl, data, len, why) == 0)
			show_crl(data, len, 1), shown++;
		printed = shown;
		free(c);
		free(x);
	}
	if (g.json)
		putchar(']');
	free(data);
	free(der);
	if (shown == 0) {
		msg(pos[0], "no certificate, request or CRL found");
		return EXIT_REFUSED;
	}
	return failed ? EXIT_REFUSED : 0;
}

/* ======================================================================
 * 8. The host: identity, requests, install, renew, update, status
 * ====================================================================== */

#define HOST_MAX_XCA 8     /* CAs a host keeps besides its pin */

typedef struct {
	char dir[PATH_MAX];
	char hostid[HOSTCA_UUID_LEN + 1];
	hostca_key key, newkey;
	int have_key, have_newkey;
	unsigned char *cert, *ca, *crl;
	size_t cert_len, ca_len, crl_len;
	int64_t floor;               /* newest notBefore / thisUpdate seen */
	int lock1;                   /* the host directory flock()ed, fd + 1 */
	/* the other CAs of a key rollover: next-KEYID.pem (newer keys,
	 * reached through links from the pinned one) and old-KEYID.pem (the
	 * key the host was pinned to before it renewed onto a newer one), each
	 * with its CRL (crl-KEYID.pem) */
	struct hca {
		char kid[17];
		int next;                /* next-, or old- */
		unsigned char *der, *crl;
		size_t len, crl_len;
	} x[HOST_MAX_XCA];
	size_t nx;
} host_ctx;

static const char *
hpath(host_ctx *h, char *buf, const char *name)
{
	return path_join(buf, PATH_MAX, h->dir, name);
}

static void
host_xca_free(host_ctx *h)
{
	size_t i;

	for (i = 0; i < h->nx; i++) {
		free(h->x[i].der);
		free(h->x[i].crl);
	}
	h->nx = 0;
}

static void
host_free(host_ctx *h)
{
	if (h->lock1 > 0)
		close(h->lock1 - 1);
	hostca_key_wipe(&h->key);
	hostca_key_wipe(&h->newkey);
	free(h->cert);
	free(h->ca);
	free(h->crl);
	host_xca_free(h);
	memset(h, 0, sizeof *h);
}

/*
 * The host's keys. A key file carries its public point next to the
 * scalar; when that point is the one in hint (the installed certificate,
 * which an earlier install checked against the key) it is taken as it
 * is, which spares a scalar multiplication per command. Otherwise (a first
 * install, a new key) the point is computed from the scalar, never taken
 * from anything on the media.
 */
static int
host_load_keys(host_ctx *h, const pubkey *hint)
{
	char p[PATH_MAX];

	if (path_exists(hpath(h, p, "host.key"))) {
		if (key_load_hint(p, &h->key, hint) != 0)
			return EXIT_USAGE;
		h->have_key = 1;
	}
	if (path_exists(hpath(h, p, "host.key.new"))) {
		if (key_load_hint(p, &h->newkey, hint) != 0)
			return EXIT_USAGE;
		h->have_newkey = 1;
	}
	return 0;
}

/*
 * One host command at a time: flock() on the host directory (an install
 * and an update at once could leave the older CRL). Then whatever an
 * interrupted writer left is removed: its temporary files, keys among
 * them (".host.key.tmp-*"), which nothing else would ever clean.
 */
static int
host_lock(host_ctx *h)
{
	int fd, waited = 0;
	DIR *d;
	struct dirent *de;

	if ((fd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		struct timespec ts = { 0, 100000000L };
		if ((errno != EWOULDBLOCK && errno != EINTR) || waited >= 300) {
			msg(h->dir, "another hostca host command holds this host directory"
				" (waited 30 s); a lock goes with its process, so wait for it");
			close(fd);
			return -1;
		}
		if (waited++ == 10)
			note(h->dir, "waiting for another hostca host command to finish...");
		nanosleep(&ts, NULL);
	}
	h->lock1 = fd + 1;
	if ((d = opendir(h->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp-") != NULL) {
				char p[PATH_MAX];
				struct stat st;
				if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
					&& S_ISREG(st.st_mode) && unlinkat(dirfd(d), de->d_name, 0) == 0)
					note(hpath(h, p, de->d_name), "removed: left by an"
						" interrupted command");
			}
		}
		closedir(d);
	}
	return 0;
}

static int host_xca_load(host_ctx *h);
static int host_xca_settle(host_ctx *h);
static int host_crl_pinned(const unsigned char *ca, size_t al, const crl_info *o);
static int host_xca_drop(host_ctx *h, size_t i);

/* Loads what the host directory holds; missing files stay empty. The
 * host directory is locked until host_free. */
static int
host_load(host_ctx *h, int need_id)
{
	pubkey certpub;
	int have_certpub = 0;

	static const char *const cb[] = { "CERTIFICATE", NULL };
	static const char *const lb[] = { "X509 CRL", NULL };
	char p[PATH_MAX], why[WHY_CAP];
	unsigned char *d;
	size_t len;

	memset(h, 0, sizeof *h);
	snprintf(h->dir, sizeof h->dir, "%s", g.host_dir);
	if (host_lock(h) < 0)
		return EXIT_USAGE;
	if (file_read(hpath(h, p, "hostid"), 64, &d, &len) == 0) {
		size_t n = strcspn((char *)d, "\r\n");
		if (n == HOSTCA_UUID_LEN) {
			memcpy(h->hostid, d, n);
			h->hostid[n] = 0;
		}
		free(d);
		if (!hostca_uuid_check(h->hostid)) {
			msg(p, "damaged: not a host ID (remove it with 'hostca host clean --force')");
			return EXIT_USAGE;
		}
		uuid_lower(h->hostid);
	} else if (need_id) {
		msg(g.host_dir, "no host identity here: run 'hostca host request' first (or give -H DIR)");
		return EXIT_USAGE;
	}
	if (path_exists(hpath(h, p, "ca.pem"))) {
		x509_info *x;
		if (pem_file_load(p, cb, MAX_PEM_FILE, &h->ca, &h->ca_len, NULL) != 0
			|| cert_decode_alloc(&x, h->ca, h->ca_len, why) < 0) {
			msg(p, "damaged pinned CA certificate");
			return EXIT_USAGE;
		}
		free(x);
	}
	if (path_exists(hpath(h, p, "host.pem"))) {
		x509_info *x;
		if (pem_file_load(p, cb, MAX_PEM_FILE, &h->cert, &h->cert_len, NULL) != 0
			|| cert_decode_alloc(&x, h->cert, h->cert_len, why) < 0) {
			msg(p, "damaged certificate");
			return EXIT_USAGE;
		}
		if (x->nb > h->floor)
			h->floor = x->nb;
		certpub = x->pub;
		have_certpub = 1;
		free(x);
	}
	if (path_exists(hpath(h, p, "crl.pem"))) {
		crl_info ci;
		if (pem_file_load(p, lb, MAX_CRL_FILE, &h->crl, &h->crl_len, NULL) != 0
			|| crl_decode(&ci, h->crl, h->crl_len, why) < 0) {
			msg(p, "damaged CRL");
			return EXIT_USAGE;
		}
		if (ci.this_update > h->floor)
			h->floor = ci.this_update;
	}
	if (host_xca_load(h) < 0 || host_xca_settle(h) < 0)
		return EXIT_USAGE;
	return host_load_keys(h, have_certpub ? &certpub : NULL);
}

/*
 * An install that moved the pin to a new key and was interrupted before
 * it removed next-KEYID.pem leaves the pin's own key among the others:
 * that file goes, and its CRL (crl-KEYID.pem) becomes crl.pem when
 * crl.pem is not the pinned CA's.
 */
static int
host_xca_settle(host_ctx *h)
{
	char pin[17], p[PATH_MAX], q[PATH_MAX], name[64], why[WHY_CAP];
	size_t i;

	if (h->ca == NULL || h->nx == 0)
		return 0;
	ca_keyid_of(pin, h->ca, h->ca_len);
	for (i = 0; i < h->nx; i++) {
		struct hca *x = &h->x[i];
		int mine = 0;
		if (strcmp(x->kid, pin) != 0)
			continue;
		if (h->crl != NULL) {
			crl_info ci;
			mine = crl_decode(&ci, h->crl, h->crl_len, why) == 0
				&& host_crl_pinned(h->ca, h->ca_len, &ci);
		}
		snprintf(name, sizeof name, "crl-%.16s.pem", x->kid);
		if (!mine && x->crl != NULL) {
			if (rename(hpath(h, p, name), hpath(h, q, "crl.pem")) < 0) {
				msg_errno(q, "cannot replace");
				return -1;
			}
			free(h->crl);
			h->crl = x->crl;
			h->crl_len = x->crl_len;
			x->crl = NULL;
		}
		if (host_xca_drop(h, i) < 0) {
			msg_errno(h->dir, "cannot remove the pinned key's copy");
			return -1;
		}
		note(h->dir, "completed an interrupted install (the pin had moved to"
			" the CA key %s)", pin);
		break;
	}
	return 0;
}

/* 1 when s is 16 lower-case hex digits. */
static int
is_kid(const char *s)
{
	size_t i;

	for (i = 0; i < 16; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[16] == 0;
}

/* The host's other CAs (next-KEYID.pem, old-KEYID.pem) and their CRLs. */
static int
host_xca_load(host_ctx *h)
{
	static const char *const cb[] = { "CERTIFICATE", NULL };
	static const char *const lb[] = { "X509 CRL", NULL };
	DIR *d;
	struct dirent *de;
	char p[PATH_MAX], name[64], kid[17], why[WHY_CAP];
	int r = 0;

	if ((d = opendir(h->dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && r == 0) {
		const char *n = de->d_name;
		size_t l = strlen(n);
		int next = strncmp(n, "next-", 5) == 0;
		struct hca *x;
		x509_info *xi;
		if (!(next || strncmp(n, "old-", 4) == 0) || l != (next ? 5u : 4u) + 16 + 4
			|| strcmp(n + l - 4, ".pem") != 0)
			continue;
		memcpy(kid, n + (next ? 5 : 4), 16);
		kid[16] = 0;
		if (!is_kid(kid))
			continue;
		if (h->nx >= HOST_MAX_XCA) {
			msg(h->dir, "more than %d other CAs: %s is not read", HOST_MAX_XCA, n);
			continue;
		}
		x = &h->x[h->nx];
		memset(x, 0, sizeof *x);
		strcpy(x->kid, kid);
		x->next = next;
		if (pem_file_load(hpath(h, p, n), cb, MAX_PEM_FILE, &x->der, &x->len, NULL) != 0
			|| cert_decode_alloc(&xi, x->der, x->len, why) < 0) {
			msg(p, "damaged CA certificate (remove it; the next host update from a"
				" stick of the CA brings it back)");
			free(x->der);
			r = -1;
			break;
		}
		free(xi);
		snprintf(name, sizeof name, "crl-%s.pem", kid);
		if (path_exists(hpath(h, p, name))
			&& pem_file_load(p, lb, MAX_CRL_FILE, &x->crl, &x->crl_len, NULL) != 0) {
			free(x->der);
			r = -1;
			break;
		}
		h->nx++;
	}
	closedir(d);
	return r;
}

/*
 * trust.pem and crls.pem: every CA certificate this host trusts (the
 * pinned one first) and their CRLs, for TLS software that verifies peers
 * -- during a rollover, peers of either key.
 */
static int
host_write_trust(host_ctx *h)
{
	char p[PATH_MAX], *buf = NULL;
	size_t pass, i, len = 0, cap = 0;
	int r = 0;

	for (pass = 0; pass < 2 && r == 0; pass++) {
		const char *banner = pass ? "X509 CRL" : "CERTIFICATE";
		len = 0;
		for (i = 0; i <= h->nx; i++) {
			const unsigned char *d = i == 0 ? (pass ? h->crl : h->ca)
				: (pass ? h->x[i - 1].crl : h->x[i - 1].der);
			size_t dl = i == 0 ? (pass ? h->crl_len : h->ca_len)
				: (pass ? h->x[i - 1].crl_len : h->x[i - 1].len);
			size_t n;
			if (d == NULL)
				continue;
			n = hostca_pem_encode(NULL, banner, d, dl);
			if (grow((void **)&buf, &cap, len + n + 1, 1) < 0) {
				r = -1;
				break;
			}
			hostca_pem_encode(buf + len, banner, d, dl);
			len += n;
		}
		hpath(h, p, pass ? "crls.pem" : "trust.pem");
		if (r == 0 && len == 0)
			unlink(p);
		else if (r == 0 && atomic_write(p, buf, len, 0644) < 0)
			r = -1;
		if (r < 0)
			msg_errno(p, "cannot write");
	}
	free(buf);
	return r;
}

/* trust.pem and crls.pem from what h's directory holds now (h locked;
 * its own copies may be older than the files). */
static int
host_refresh_trust(host_ctx *h)
{
	static const char *const cb[] = { "CERTIFICATE", NULL };
	static const char *const lb[] = { "X509 CRL", NULL };
	host_ctx t;
	char p[PATH_MAX];
	int r = -1, sq = g.quiet;

	memset(&t, 0, sizeof t);
	memcpy(t.dir, h->dir, sizeof t.dir);
	g.quiet = 1;
	if (pem_file_load(hpath(&t, p, "ca.pem"), cb, MAX_PEM_FILE, &t.ca, &t.ca_len, NULL) == 0
		&& (!path_exists(hpath(&t, p, "crl.pem"))
			|| pem_file_load(p, lb, MAX_CRL_FILE, &t.crl, &t.crl_len, NULL) == 0)
		&& host_xca_load(&t) == 0)
		r = 0;
	g.quiet = sq;
	if (r == 0)
		r = host_write_trust(&t);
	free(t.ca);
	free(t.crl);
	host_xca_free(&t);
	return r;
}

/* Removes the host's other CA kid (its certificate and CRL). */
static int
host_xca_drop(host_ctx *h, size_t i)
{
	char p[PATH_MAX], name[64];

	snprintf(name, sizeof name, "%s-%s.pem", h->x[i].next ? "next" : "old", h->x[i].kid);
	if (unlink(hpath(h, p, name)) < 0 && errno != ENOENT)
		return -1;
	snprintf(name, sizeof name, "crl-%s.pem", h->x[i].kid);
	if (unlink(hpath(h, p, name)) < 0 && errno != ENOENT)
		return -1;
	free(h->x[i].der);
	free(h->x[i].crl);
	h->x[i] = h->x[--h->nx];
	return 0;
}

/* Writes the host's other CA (certificate, and CRL if given). */
static int
host_xca_put(host_ctx *h, const char *kid, int next, const unsigned char *der,
	size_t len, const unsigned char *crl, size_t crl_len)
{
	char p[PATH_MAX], name[64];

	if (crl != NULL) {
		snprintf(name, sizeof name, "crl-%.16s.pem", kid);
		if (pem_write(hpath(h, p, name), "X509 CRL", crl, crl_len, 0644) < 0) {
			msg_errno(p, "cannot write");
			return -1;
		}
	}
	snprintf(name, sizeof name, "%s-%.16s.pem", next ? "next" : "old", kid);
	if (pem_write(hpath(h, p, name), "CERTIFICATE", der, len, 0644) < 0) {
		msg_errno(p, "cannot write");
		return -1;
	}
	return 0;
}

/*
 * Follows the stick's links from the pinned CA: link-KEYID.pem is the
 * next CA key and name, signed by key KEYID. Each link is checked with
 * the key before it (a CA certificate, issued under that key's name);
 * the next key's own certificate (ca-KEYID.pem: self-signed, the same key
 * and name) makes it a CA in play. A key whose certificate is not on the
 * stick is retired: the chain goes on through it. Fills out[] (up to
 * HOST_MAX_XCA) and returns how many, or -1 (a link that does not check:
 * said why). *links: how many links were followed.
 */
struct media_ca { char kid[17]; unsigned char *der; size_t len; };

static int
host_follow_links(const char *media, const unsigned char *pin, size_t pin_len,
	struct media_ca *out, size_t *links)
{
	static const char *const cb[] = { "CERTIFICATE", NULL };
	char p[PATH_MAX], name[64], kid[17], seen[256][17], why[WHY_CAP];
	x509_info *cur = NULL, *lk = NULL, *self = NULL;
	unsigned char *d = NULL, *sd = NULL, *curd = NULL;
	size_t dl, sl, nseen = 0, n = 0, i;
	int r = 0, sq = g.quiet;

	*links = 0;
	if (cert_decode_alloc(&cur, pin, pin_len, why) < 0)
		return -1;
	ca_keyid(kid, cur->spki, cur->spki_len);
	strcpy(seen[nseen++], kid);
	for (;;) {
		snprintf(name, sizeof name, "link-%s.pem", kid);
		path_join(p, sizeof p, media, name);
		if (!path_exists(p))
			break;
		if (pem_file_load(p, cb, MAX_PEM_FILE, &d, &dl, NULL) != 0) {
			r = -1;
			break;
		}
		if (cert_decode_alloc(&lk, d, dl, why) < 0 || !lk->is_ca
			|| !cert_signed_by(lk, cur)) {
			msg(p, "refused: not a CA certificate signed by the CA key %s (%s)",
				kid, lk == NULL ? why : "its signature or names do not check");
			r = -1;
			break;
		}
		(*links)++;
		ca_keyid(kid, lk->spki, lk->spki_len);
		for (i = 0; i < nseen; i++)
			if (strcmp(seen[i], kid) == 0)
				break;
		if (i < nseen || nseen >= sizeof seen / sizeof seen[0])
			break;            /* a loop, or absurdly long: stop */
		strcpy(seen[nseen++], kid);
		/* its own certificate, if it is in play */
		snprintf(name, sizeof name, "ca-%s.pem", kid);
		path_join(p, sizeof p, media, name);
		g.quiet = 1;
		if (path_exists(p) && n < HOST_MAX_XCA
			&& pem_file_load(p, cb, MAX_PEM_FILE, &sd, &sl, NULL) == 0) {
			g.quiet = sq;
			if (cert_decode_alloc(&self, sd, sl, why) == 0 && self->is_ca
				&& self->spki_len == lk->spki_len
				&& memcmp(self->spki, lk->spki, lk->spki_len) == 0
				&& self->subject_len == lk->subject_len
				&& memcmp(self->subject, lk->subject, lk->subject_len) == 0
				&& cert_signed_by(self, self)) {
				strcpy(out[n].kid, kid);
				out[n].der = sd;
				out[n].len = sl;
				sd = NULL;
				n++;
			} else {
				msg(p, "refused: not the self-signed certificate of the key that"
					" the link vouches for");
				r = -1;
			}
			free(self);
			self = NULL;
			free(sd);
			sd = NULL;
			if (r < 0)
				break;
		}
		g.quiet = sq;
		/* the link is the key to check the next one with (its
		 * decoded fields point into its DER, kept as curd) */
		free(cur);
		free(curd);
		cur = lk;
		curd = d;
		lk = NULL;
		d = NULL;
	}
	g.quiet = sq;
	free(d);
	free(cur);
	free(curd);
	free(lk);
	if (r < 0) {
		for (i = 0; i < n; i++)
			free(out[i].der);
		return -1;
	}
	return (int)n;
}

/* Host time: the later of the clock and the newest time seen (for
 * devices without a real-time clock). */
static int64_t
host_now(const host_ctx *h)
{
	return g.now > h->floor ? g.now : h->floor;
}

static int
host_write_request(host_ctx *h, const char *media, const hostca_key *key,
	const hostname *names, size_t nnames, const char *token, rng_state *rng,
	const char *what)
{
	unsigned char nonce[16], proof[TOKEN_PROOF_LEN];
	char rdir[PATH_MAX], path[PATH_MAX], fname[64], head[256];
	unsigned char *der = NULL;
	size_t dl, pl, hl, ql;
	char *pem;
	int r;

	if (media_check(media) < 0)
		return EXIT_USAGE;
	rng_bytes(rng, nonce, sizeof nonce);
	/* The token never goes on the media: a proof bound to this request
	 * does (section 4, "Token proofs"). */
	if ((der = csr_build(key, h->hostid, names, nnames, NULL, nonce, &dl)) == NULL
		|| (token != NULL && hostca_token_proof_encode(proof, token, der, dl)
			!= TOKEN_PROOF_LEN)) {
		if (der == NULL) {
			cmsg("cannot build the request");
		} else {
			cmsg("the token is mistyped: a token is 16 letters A-Z (spaces and"
				" dashes are ignored)");
			free(der);
		}
		return EXIT_USAGE;
	}
	hl = (size_t)snprintf(head, sizeof head, "hostca %s: host %s\n", what, h->hostid);
	pl = hostca_pem_encode(NULL, "CERTIFICATE REQUEST", der, dl);
	ql = token != NULL ? hostca_pem_encode(NULL, "HOSTCA TOKEN PROOF", proof,
		TOKEN_PROOF_LEN) : 0;
	if ((pem = malloc(hl + pl + ql)) == NULL) {
		free(der);
		return EXIT_USAGE;
	}
	memcpy(pem, head, hl);
	hostca_pem_encode(pem + hl, "CERTIFICATE REQUEST", der, dl);
	if (token != NULL)
		hostca_pem_encode(pem + hl + pl, "HOSTCA TOKEN PROOF", proof, TOKEN_PROOF_LEN);
	pl += ql;
	free(der);
	path_join(rdir, sizeof rdir, media, "requests");
	if (mkdir_ok(rdir, 0755) < 0) {
		msg_errno(rdir, "cannot create");
		free(pem);
		return EXIT_USAGE;
	}
	snprintf(fname, sizeof fname, "%s.pem", h->hostid);
	path_join(path, sizeof path, rdir, fname);
	r = atomic_write(path, pem, hl + pl, 0644);
	free(pem);
	if (r < 0) {
		msg_errno(path, "cannot write");
		return EXIT_USAGE;
	}
	cnote("wrote %s; carry the media to the CA", path);
	if (g.json) {
		unsigned char kf[32];
		char kh[96], kt[24] = "";
		size_t i;
		json_key("request");
		printf("{\"file\":");
		json_str(path);
		printf(",\"host_id\":\"%s\",\"names\":[", h->hostid);
		for (i = 0; i < nnames; i++) {
			if (i)
				putchar(',');
			json_str(names[i].text);
		}
		if (hostca_key_type_name(key->type))
			snprintf(kt, sizeof kt, "%s", hostca_key_type_name(key->type));
		printf("],\"key_type\":\"%s\",\"new_key\":%s,\"key_sha256\":", kt,
			key == &h->newkey ? "true" : "false");
		if (hostca_key_fingerprint(key, kf) == 0) {
			fingerprint_text(kh, kf);
			printf("\"%s\"", kh);
		} else {
			printf("null");
		}
		putchar('}');
	}
	return 0;
}

static int
cmd_host_request(int argc, char **argv)
{
	const char *media = NULL, *name = NULL, *token = NULL, *token_file = NULL;
	const char *keyname = NULL, *alt[HOSTCA_MAX_NAMES];
	size_t nalt = 0, nn = 0, i, k;
	int new_key = 0, npos, r, type;
	char *pos[1], p[PATH_MAX], tbuf[256];
	hostname names[HOSTCA_MAX_NAMES];
	host_ctx h;
	rng_state rng;
	opt opts[] = {
		{ "--media", O_STR, &media, 0, 0, 0, 0 },
		{ "--name", O_STR, &name, 0, 0, 0, 0 },
		{ "--alt-name", O_MULTI, 0, 0, alt, &nalt, 0 },
		{ "--token", O_STR, &token, 0, 0, 0, 0 },
		{ "--token-file", O_STR, &token_file, 0, 0, 0, 0 },
		{ "--key", O_STR, &keyname, 0, 0, 0, 0 },
		{ "--new-key", O_FLAG, 0, &new_key, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (media == NULL || name == NULL) {
		cmsg("--media DIR and --name NAME are required");
		return EXIT_USAGE;
	}
	if (token && token_file) {
		cmsg("give --token or --token-file, not both");
		return EXIT_USAGE;
	}
	type = keyname ? hostca_key_type_parse(keyname) : HOSTCA_KEY_EC_P256;
	if (type == 0) {
		cmsg("--key: '%s' is not one of ec-p256, ec-p384, ec-p521, rsa-2048,"
			" rsa-3072, rsa-4096", keyname);
		return EXIT_USAGE;
	}
	for (i = 0; i <= nalt; i++) {
		const char *s = i == 0 ? name : alt[i - 1];
		hostname hn;
		if (hostname_parse(&hn, s) < 0) {
			char st[300];
			cmsg("'%s' is not a host name or IP address",
				safe_text(st, sizeof st, s));
			return EXIT_USAGE;
		}
		for (k = 0; k < nn; k++)
			if (hostname_eq(&names[k], &hn))
				break;
		if (k == nn)
			names[nn++] = hn;
	}
	tbuf[0] = 0;
	if (token_resolve(&token, token_file, tbuf, sizeof tbuf, 1) < 0)
		return EXIT_USAGE;
	if (token != NULL) {
		char letters[TOKEN_LETTERS + 1];
		if (token_normalize(token, letters) < 0) {
			cmsg("the token is mistyped: a token is 16 letters A-Z"
				" (spaces and dashes are ignored)");
			hostca_wipe(tbuf, sizeof tbuf);
			return EXIT_USAGE;
		}
		/* canonical form travels in the request */
		snprintf(tbuf, sizeof tbuf, "%s", letters);
		hostca_wipe(letters, sizeof letters);
		token = tbuf;
	}
	if (media_check(media) < 0) {
		hostca_wipe(tbuf, sizeof tbuf);
		return EXIT_USAGE;     /* before any identity is made */
	}
	if (mkdir_ok(g.host_dir, 0700) < 0) {
		msg_errno(g.host_dir, "cannot create");
		return EXIT_USAGE;
	}
	if ((r = host_load(&h, 0)) != 0) {
		host_free(&h);
		return r;
	}
	if (rng_open(&rng) < 0) {
		msg("random", "no system random source");
		host_free(&h);
		return EXIT_USAGE;
	}
	if (h.hostid[0] == 0) {
		char line[HOSTCA_UUID_LEN + 2];
		uuid_from_random(h.hostid, &rng);
		snprintf(line, sizeof line, "%s\n", h.hostid);
		if (exclusive_write(hpath(&h, p, "hostid"), line, strlen(line), 0644) < 0) {
			msg_errno(p, "cannot write");
			host_free(&h);
			return EXIT_USAGE;
		}
		cnote("new host ID %s", h.hostid);
	}
	if (!h.have_key) {
		if (key_generate(&h.key, type, &rng) < 0
			|| key_store(hpath(&h, p, "host.key"), &h.key, NULL, &rng) < 0) {
			msg_errno(p, "cannot create the host key");
			host_free(&h);
			return EXIT_USAGE;
		}
		h.have_key = 1;
		cnote("new %s host key in %s", hostca_key_type_name(type), p);
	} else if (new_key && !h.have_newkey) {
		if (key_generate(&h.newkey, type, &rng) < 0
			|| key_store(hpath(&h, p, "host.key.new"), &h.newkey, NULL, &rng) < 0) {
			msg_errno(p, "cannot create the new key");
			host_free(&h);
			return EXIT_USAGE;
		}
		h.have_newkey = 1;
		cnote("new %s key in %s; it replaces host.key when the certificate"
			" for it is installed", hostca_key_type_name(type), p);
	} else if (new_key && keyname != NULL && h.newkey.type != type) {
		/* a pending new key of another type is not silently reused */
		cmsg("host.key.new (waiting for its certificate) is %s, not %s: the"
			" request would be for it; to start over with a new %s key, remove"
			" host.key.new (or run without --key to reuse it)",
			hostca_key_type_name(h.newkey.type), hostca_key_type_name(type),
			hostca_key_type_name(type));
		host_free(&h);
		return EXIT_REFUSED;
	} else if (keyname != NULL && !new_key && h.key.type != type) {
		cmsg("the host key is %s; to change it, add --new-key",
			hostca_key_type_name(h.key.type));
		host_free(&h);
		return EXIT_USAGE;
	}
	r = host_write_request(&h, media, h.have_newkey ? &h.newkey : &h.key, names, nn,
		token, &rng, "request");
	if (r == 0) {
		/* what the CA operator gives to 'ca allow-reissue --key' (I6) */
		unsigned char kf[32];
		char kh[65];
		if (hostca_key_fingerprint(h.have_newkey ? &h.newkey : &h.key, kf) == 0) {
			hex_encode(kh, kf, 32, 0, 0);
			cnote("the request's key is SHA256:%s", kh);
		}
	}
	hostca_wipe(tbuf, sizeof tbuf);
	hostca_wipe(&rng, sizeof rng);
	host_free(&h);
	return r;
}

/* Reads responses/<hostid>.pem (never a name from the media itself). */
static int
media_read_response(const char *media, const char *hostid, unsigned char **cert,
	size_t *cl, unsigned char **ca, size_t *al)
{
	char path[PATH_MAX], fname[64], banner[64];
	unsigned char *data;
	size_t len;
	long n;

	*cert = *ca = NULL;
	snprintf(fname, sizeof fname, "responses/%s.pem", hostid);
	path_join(path, sizeof path, media, fname);
	if (file_read(path, MAX_PEM_FILE, &data, &len) < 0) {
		char rq[PATH_MAX], rn[64];
		snprintf(rn, sizeof rn, "requests/%s.pem", hostid);
		path_join(rq, sizeof rq, media, rn);
		if (errno == ENOENT && path_exists(rq))
			msg(path, "no response for this host: its request is still on the media,"
				" so the CA has not signed it yet or refused it (the CA operator sees"
				" why with 'hostca ca sign --media DIR --list')");
		else
			msg(path, "%s", errno == ENOENT ? "no response for this host on the media"
				" (has the CA signed the request?)" : read_errstr(errno));
		return EXIT_USAGE;
	}
	*cert = malloc(len + 1);
	*ca = malloc(len + 1);
	if (*cert == NULL || *ca == NULL) {
		free(data);
		return EXIT_USAGE;
	}
	n = hostca_pem_decode(data, len, 0, banner, *cert, len);
	if (n <= 0 || strcmp(banner, "CERTIFICATE") != 0) {
		msg(path, "not a response: no certificate");
		free(data);
		return EXIT_REFUSED;
	}
	*cl = (size_t)n;
	n = hostca_pem_decode(data, len, 1, banner, *ca, len);
	if (n > 0 && strcmp(banner, "CERTIFICATE") == 0) {
		*al = (size_t)n;
	} else {
		free(*ca);
		*ca = NULL;
		*al = 0;
	}
	free(data);
	return 0;
}

/* 1 when CA certificate ca (DER) signed CRL o. */
static int
host_crl_pinned(const unsigned char *ca, size_t al, const crl_info *o)
{
	x509_info *a;
	char why[WHY_CAP];
	int ok;

	if (cert_decode_alloc(&a, ca, al, why) < 0)
		return 0;
	ok = crl_verify_sig(o, a, why) == 0;
	free(a);
	return ok;
}

/* A CRL from the media for CA cert (DER), newer than have (or have is
 * NULL): 1, 0 when not newer, -1 refused (why). */
static int
crl_newer(const unsigned char *cert, size_t cl, const unsigned char *have, size_t hl,
	const unsigned char *crl, size_t rl, char *why)
{
	x509_info *a;
	crl_info n, o;
	int err;

	if (crl_decode(&n, crl, rl, why) < 0 || cert_decode_alloc(&a, cert, cl, why) < 0)
		return -1;
	err = crl_verify_sig(&n, a, why);
	free(a);
	if (err < 0)
		return -1;
	if (have != NULL && crl_decode(&o, have, hl, why) == 0) {
		int c = bignum_cmp(n.number, n.number_len, o.number, o.number_len);
		if (c < 0) {
			set_why(why, "the CRL on the media is older than this host's"
				" (a lower CRL number)");
			return -1;
		}
		return c > 0;
	}
	return 1;
}

/* Takes a CRL from the media if it is newer and signed by the pinned CA
 * (compared with the host's CRL when the pinned CA signed that one).
 * Returns 1 if taken, 0 if not newer, -1 if refused. */
static int
host_take_crl(host_ctx *h, const unsigned char *ca, size_t al,
	const unsigned char *crl, size_t cl, char *why)
{
	crl_info o;
	int mine = h->crl != NULL && crl_decode(&o, h->crl, h->crl_len, why) == 0
		&& host_crl_pinned(ca, al, &o);

	return crl_newer(ca, al, mine ? h->crl : NULL, mine ? h->crl_len : 0, crl, cl, why);
}

static int
cmd_host_install(int argc, char **argv)
{
	static const char *const lb[] = { "X509 CRL", NULL };
	const char *media = NULL, *fp_s = NULL;
	int tofu = 0, npos, r, err, use_new = 0, crl_ok = 0, force = 0;
	int64_t at;
	char *pos[1], p[PATH_MAX], why[WHY_CAP], id[HOSTCA_UUID_LEN + 1], t[32], fp[100];
	unsigned char *cert = NULL, *ca = NULL, *crl = NULL, want[32], have[32];
	size_t cl = 0, al = 0, rl = 0;
	host_ctx h;
	x509_info *c = NULL, *a = NULL;
	const unsigned char *pin;
	size_t pin_len, sw = SIZE_MAX, old_crl_len = 0;
	unsigned char *old_crl = NULL;
	opt opts[] = {
		{ "--media", O_STR, &media, 0, 0, 0, 0 },
		{ "--ca-fingerprint", O_STR, &fp_s, 0, 0, 0, 0 },
		{ "--trust-on-first-use", O_FLAG, 0, &tofu, 0, 0, 0 },
		{ "--force", O_FLAG, 0, &force, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (media == NULL) {
		cmsg("--media DIR is required");
		return EXIT_USAGE;
	}
	if (fp_s && tofu) {
		cmsg("give --ca-fingerprint or --trust-on-first-use, not both");
		return EXIT_USAGE;
	}
	if (fp_s && hex_decode(want, 32, fp_s) != 32) {
		unsigned char t[64];
		if (hex_decode(t, sizeof t, fp_s) == 20)
			cmsg("--ca-fingerprint: that is the CA's SHA-1 fingerprint; a CA is"
				" pinned by its SHA-256 fingerprint (the SHA-256 line of"
				" 'hostca ca show', or what 'hostca ca init' printed)");
		else
			cmsg("--ca-fingerprint: 64 hex digits (colons optional), as"
				" 'hostca ca init' and 'hostca ca show' print it");
		return EXIT_USAGE;
	}
	if (media_check(media) < 0)
		return EXIT_USAGE;
	if ((r = host_load(&h, 1)) != 0)
		goto out;
	if (!h.have_key) {
		msg(g.host_dir, "no host key: run 'hostca host request' first");
		r = EXIT_USAGE;
		goto out;
	}
	if ((r = media_read_response(media, h.hostid, &cert, &cl, &ca, &al)) != 0)
		goto out;
	r = EXIT_REFUSED;
	/* Which CA: the pinned one, or (first install) the one the operator
	 * vouched for by fingerprint. */
	if (h.ca != NULL) {
		pin = h.ca;
		pin_len = h.ca_len;
		if (ca != NULL && (al != h.ca_len || memcmp(ca, h.ca, al) != 0)) {
			size_t k;
			int known = 0;
			for (k = 0; k < h.nx; k++)
				known |= h.x[k].len == al && memcmp(h.x[k].der, ca, al) == 0;
			if (!known)
				cnote("the response names another CA certificate than the pinned"
					" one; only the pinned CA is trusted");
		}
	} else {
		if (ca == NULL) {
			static const char *const cb[] = { "CERTIFICATE", NULL };
			free(ca);
			ca = NULL;
			if (pem_file_load(path_join(p, sizeof p, media, "ca.pem"), cb,
				MAX_PEM_FILE, &ca, &al, NULL) != 0)
				goto out;
		}
		sha256_once(have, ca, al);
		fingerprint_text(fp, have);
		if (fp_s != NULL) {
			if (!ct_equal(have, want, 32)) {
				cmsg("the CA on the media has fingerprint %s, not the one you"
					" gave: refused (a foreign or forged CA?)", fp);
				goto out;
			}
		} else if (!tofu) {
			cmsg("first install: give --ca-fingerprint with the fingerprint that"
				" the CA's operator reads out to you ('hostca ca show' prints it on the"
				" CA machine), or --trust-on-first-use if you accept whatever CA is"
				" on this media");
			r = EXIT_USAGE;
			goto out;
		}
		pin = ca;
		pin_len = al;
	}
	if ((err = cert_decode_alloc(&a, pin, pin_len, why)) < 0
		|| (err = cert_decode_alloc(&c, cert, cl, why)) < 0) {
		cmsg("response: %s", why);
		goto out;
	}
	/* During a rollover: a response of the new key (a CA this host took
	 * through a link) moves the pin to it; the old one stays beside. */
	if (h.ca != NULL && !cert_signed_by(c, a)) {
		size_t k;
		for (k = 0; k < h.nx && sw == SIZE_MAX; k++) {
			x509_info *xa = NULL;
			if (h.x[k].next && cert_decode_alloc(&xa, h.x[k].der, h.x[k].len, why) == 0
				&& cert_signed_by(c, xa)) {
				sw = k;
				free(a);
				a = xa;
				xa = NULL;
			}
			free(xa);
		}
		if (sw != SIZE_MAX) {
			pin = h.x[sw].der;
			pin_len = h.x[sw].len;
			old_crl = h.crl;
			old_crl_len = h.crl_len;
			h.crl = h.x[sw].crl;
			h.crl_len = h.x[sw].crl_len;
			h.x[sw].crl = NULL;
		}
	}
	/*
	 * A device without a clock reads 1970: the newest time it has seen
	 * is its floor. A CRL of the pinned CA counts once its signature is
	 * checked, and so does the response: it is checked at its own
	 * notBefore at the earliest, which it passes only if the pinned CA
	 * signed it. (The pinned CA's own copy on the stick first.)
	 */
	{
		char kid[17];
		ca_keyid_of(kid, pin, pin_len);
		media_ca_path(p, sizeof p, media, "crl", kid);
	}
	if (path_exists(p)) {
		crl_info ci;
		unsigned char *cd;
		size_t cdl;
		int sq = g.quiet;
		g.quiet = 1;
		if (pem_file_load(p, lb, MAX_CRL_FILE, &cd, &cdl, NULL) == 0) {
			crl = cd;
			rl = cdl;
			crl_ok = crl_decode(&ci, crl, rl, why) == 0 && crl_verify_sig(&ci, a, why) == 0;
			if (crl_ok && ci.this_update > h.floor)
				h.floor = ci.this_update;
		}
		g.quiet = sq;
	}
	at = host_now(&h) > c->nb ? host_now(&h) : c->nb;
	strcpy(id, h.hostid);
	err = HOSTCA_ERR_KEY_MISMATCH;
	if (h.have_newkey) {
		err = response_check(c, a, &h.newkey, id, 1, at, why);
		use_new = err == 0;
	}
	if (err == HOSTCA_ERR_KEY_MISMATCH) {
		strcpy(id, h.hostid);
		err = response_check(c, a, &h.key, id, 1, at, why);
	}
	if (err < 0) {
		cmsg("response refused: %s", why);
		goto out;
	}
	/*
	 * I11: hosts never step back. No certificate that a CRL this host
	 * has verified revokes (the installed one, or the media's), and none
	 * older than the installed one (an old stick) unless --force.
	 */
	{
		crl_info ci;
		int rs;
		int64_t w;
		x509_info *old = NULL;
		if ((crl_ok && crl_decode(&ci, crl, rl, why) == 0
			&& crl_find(&ci, c->serial, c->serial_len, &rs, &w))
			|| (h.crl != NULL && crl_decode(&ci, h.crl, h.crl_len, why) == 0
			&& crl_verify_sig(&ci, a, why) == 0
			&& crl_find(&ci, c->serial, c->serial_len, &rs, &w))) {
			cmsg("the certificate in the response is revoked (%s, on %s): not"
				" installed", reason_text(rs < 0 ? 0 : rs), time_iso(t, w));
			goto out;
		}
		if (h.cert != NULL && cert_decode_alloc(&old, h.cert, h.cert_len, why) == 0) {
			int older = c->nb < old->nb;
			char sh[41], t2[32];
			serial_hex(sh, old->serial, old->serial_len);
			time_iso(t2, old->nb);
			free(old);
			if (older && !force) {
				cmsg("the certificate in the response is older (notBefore %s) than"
					" the installed one (%s, notBefore %s): an old stick? not"
					" installed (--force installs it all the same)",
					time_iso(t, c->nb), sh, t2);
				goto out;
			}
			if (older)
				cnote("installing an older certificate than %s (--force)", sh);
		}
	}
	/* The CRL on the media, if it is newer, is taken too. */
	if (path_exists(p)) {
		int taken;
		if (crl == NULL && pem_file_load(p, lb, MAX_CRL_FILE, &crl, &rl, NULL) != 0)
			goto out;
		taken = host_take_crl(&h, pin, pin_len, crl, rl, why);
		if (taken < 0) {
			msg(p, "not taken: %s", why);
			free(crl);
			crl = NULL;
		} else if (taken == 0) {
			free(crl);
			crl = NULL;
		}
	}
	/* Install: pin first, then key (a new key replaces the old one only
	 * now that its certificate is here), certificate, CRL. */
	r = EXIT_USAGE;
	if (sw != SIZE_MAX) {
		/* the old pin becomes old-KEYID.pem (with its CRL), first */
		char ok[17];
		ca_keyid_of(ok, h.ca, h.ca_len);
		if (host_xca_put(&h, ok, 0, h.ca, h.ca_len, old_crl, old_crl_len) < 0)
			goto out;
	}
	if ((h.ca == NULL || sw != SIZE_MAX)
		&& pem_write(hpath(&h, p, "ca.pem"), "CERTIFICATE", pin, pin_len, 0644) < 0) {
		msg_errno(p, "cannot write");
		goto out;
	}
	if (sw != SIZE_MAX && crl == NULL) {
		/* the new pin's CRL as this host had it (or none) */
		if (h.crl != NULL ? pem_write(hpath(&h, p, "crl.pem"), "X509 CRL", h.crl,
			h.crl_len, 0644) < 0 : unlink(hpath(&h, p, "crl.pem")) < 0 && errno != ENOENT) {
			msg_errno(p, "cannot write");
			goto out;
		}
	}
	if (use_new) {
		char np[PATH_MAX];
		hpath(&h, np, "host.key.new");
		if (rename(np, hpath(&h, p, "host.key")) < 0 || fsync_parent(p) < 0) {
			msg_errno(p, "cannot replace the key");
			goto out;
		}
		cnote("host.key replaced by the new key");
	}
	if (pem_write(hpath(&h, p, "host.pem"), "CERTIFICATE", cert, cl, 0644) < 0) {
		msg_errno(p, "cannot write");
		goto out;
	}
	if (crl != NULL && pem_write(hpath(&h, p, "crl.pem"), "X509 CRL", crl, rl, 0644) < 0) {
		msg_errno(p, "cannot write");
		goto out;
	}
	if (sw != SIZE_MAX) {
		char name[64];
		snprintf(name, sizeof name, "next-%.16s.pem", h.x[sw].kid);
		unlink(hpath(&h, p, name));
		snprintf(name, sizeof name, "crl-%.16s.pem", h.x[sw].kid);
		unlink(hpath(&h, p, name));
	}
	if (host_refresh_trust(&h) < 0)
		goto out;
	/* The adopted host ID last: until it is written, a re-run after a
	 * crash still finds the response under the ID the request had. */
	if (strcmp(id, h.hostid) != 0) {
		char line[HOSTCA_UUID_LEN + 2];
		snprintf(line, sizeof line, "%s\n", id);
		if (atomic_write(hpath(&h, p, "hostid"), line, strlen(line), 0644) < 0) {
			msg_errno(p, "cannot write");
			goto out;
		}
		cnote("adopted host ID %s from the CA (was %s): this host is"
			" reissued under its earlier identity", id, h.hostid);
	}
	if (sw != SIZE_MAX) {
		cnote("now pinned to the new CA key %s; the old one stays trusted (for"
			" peers still on it) until the CA finishes its rollover", h.x[sw].kid);
	}
	{
		char sh[41];
		serial_hex(sh, c->serial, c->serial_len);
		cnote("installed certificate %s for host %s, valid until %s", sh, id,
			time_iso(t, c->na));
		if (g.json) {
			char nb[32];
			size_t i;
			json_key("certificate");
			printf("{\"serial\":\"%s\",\"host_id\":\"%s\",\"not_before\":\"%s\","
				"\"not_after\":\"%s\",\"names\":[", sh, id, time_iso(nb, c->nb), t);
			for (i = 0; i < c->nnames; i++) {
				if (i)
					putchar(',');
				json_str(c->names[i].text);
			}
			printf("]}");
		}
	}
	r = 0;
out:
	free(c);
	free(a);
	free(cert);
	free(ca);
	free(crl);
	free(old_crl);
	host_free(&h);
	return r;
}

static int
cmd_host_renew(int argc, char **argv)
{
	const char *media = NULL, *token = NULL, *token_file = NULL;
	int npos, r, err, rs;
	char *pos[1], why[WHY_CAP], t[32], tbuf[256];
	host_ctx h;
	x509_info *c = NULL, *a = NULL;
	crl_info ci;
	int64_t w;
	opt opts[] = {
		{ "--media", O_STR, &media, 0, 0, 0, 0 },
		{ "--token", O_STR, &token, 0, 0, 0, 0 },
		{ "--token-file", O_STR, &token_file, 0, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (media == NULL) {
		cmsg("--media DIR is required");
		return EXIT_USAGE;
	}
	if (token && token_file) {
		cmsg("give --token or --token-file, not both");
		return EXIT_USAGE;
	}
	/* At very-high a renewal needs a token too: its proof goes along. */
	tbuf[0] = 0;
	if (token_resolve(&token, token_file, tbuf, sizeof tbuf, 0) < 0)
		return EXIT_USAGE;
	if ((r = host_load(&h, 1)) != 0)
		goto out;
	r = EXIT_REFUSED;
	if (h.cert == NULL || h.ca == NULL || !h.have_key) {
		msg(g.host_dir, "no installed certificate to renew: use 'hostca host request'");
		goto out;
	}
	if (cert_decode_alloc(&c, h.cert, h.cert_len, why) < 0
		|| cert_decode_alloc(&a, h.ca, h.ca_len, why) < 0) {
		msg(g.host_dir, "%s", why);
		goto out;
	}
	err = chain_check(c, a, host_now(&h), why);
	if (err == 0 && h.crl != NULL && crl_decode(&ci, h.crl, h.crl_len, why) == 0
		&& crl_find(&ci, c->serial, c->serial_len, &rs, &w)) {
		set_why(why, "revoked on %s", time_iso(t, w));
		err = HOSTCA_ERR_REVOKED;
	}
	if (err < 0) {
		cmsg("the certificate is %s: renewal needs a valid certificate; ask the"
			" CA operator for a reissue token (hostca token create --reissue --host %s)"
			" and run 'hostca host request --token T'",
			err == HOSTCA_ERR_EXPIRED || err == HOSTCA_ERR_REVOKED ? why : "not usable",
			h.hostid);
		goto out;
	}
	{
		rng_state rng;
		if (rng_open(&rng) < 0) {
			msg("random", "no system random source");
			r = EXIT_USAGE;
			goto out;
		}
		r = host_write_request(&h, media, &h.key, c->names, c->nnames, token, &rng,
			"renewal");
		hostca_wipe(&rng, sizeof rng);
	}
out:
	hostca_wipe(tbuf, sizeof tbuf);
	free(c);
	free(a);
	host_free(&h);
	return r;
}

/*
 * host update, the rollover part: the CAs the stick's links lead to from
 * the pinned one become next-KEYID.pem (a stick with no link from the
 * pinned key changes nothing); every other CA's CRL is taken when newer,
 * and a CA whose own CRL lists its own certificate (retired) goes. *any: something changed. 0, or an exit status.
 */
static int
host_update_rollover(host_ctx *h, const char *media, int *any)
{
	static const char *const lb[] = { "X509 CRL", NULL };
	struct media_ca m[HOST_MAX_XCA];
	char p[PATH_MAX], name[64], why[WHY_CAP], t[32];
	size_t nl, i, k;
	int n, r = 0;

	if ((n = host_follow_links(media, h->ca, h->ca_len, m, &nl)) < 0)
		return EXIT_REFUSED;
	for (i = 0; nl > 0 && i < (size_t)n; i++) {
		for (k = 0; k < h->nx; k++)
			if (strcmp(h->x[k].kid, m[i].kid) == 0)
				break;
		if (k < h->nx && h->x[k].len == m[i].len
			&& memcmp(h->x[k].der, m[i].der, m[i].len) == 0)
			continue;
		if (k < h->nx) {
			/* a renewed certificate of that key: only a later one */
			x509_info *a = NULL, *b = NULL;
			int later = cert_decode_alloc(&a, m[i].der, m[i].len, why) == 0
				&& cert_decode_alloc(&b, h->x[k].der, h->x[k].len, why) == 0
				&& a->na > b->na;
			free(a);
			free(b);
			if (!later)
				continue;
		}
		if (host_xca_put(h, m[i].kid, k < h->nx ? h->x[k].next : 1, m[i].der,
			m[i].len, NULL, 0) < 0) {
			r = EXIT_USAGE;
			break;
		}
		if (k < h->nx) {
			free(h->x[k].der);
			h->x[k].der = m[i].der;
			h->x[k].len = m[i].len;
			m[i].der = NULL;
			cnote("took the renewed certificate of the CA key %s", m[i].kid);
		} else if (h->nx < HOST_MAX_XCA) {
			struct hca *x = &h->x[h->nx++];
			memset(x, 0, sizeof *x);
			strcpy(x->kid, m[i].kid);
			x->next = 1;
			x->der = m[i].der;
			x->len = m[i].len;
			m[i].der = NULL;
			cnote("took the CA's new key %s through the link signed by the CA key"
				" this host trusts (both are trusted while the CA rolls over): renew"
				" onto it with hostca host renew (or host sync)", x->kid);
		}
		*any = 1;
	}
	for (i = 0; i < (size_t)n; i++)
		free(m[i].der);
	if (r != 0)
		return r;
	/* the other CAs' CRLs; a CA whose own certificate its CRL lists
	 * (cessationOfOperation: ca rollover --finish) is retired and goes.
	 * A CRL refused does not stop the others, nor the pinned CA's. */
	for (k = 0; k < h->nx;) {
		unsigned char *crl;
		size_t rl;
		int taken, rs;
		int64_t w;
		crl_info ci;
		x509_info *xa = NULL;
		snprintf(name, sizeof name, "crl-%s.pem", h->x[k].kid);
		if (!path_exists(path_join(p, sizeof p, media, name))) {
			k++;
			continue;
		}
		if (pem_file_load(p, lb, MAX_CRL_FILE, &crl, &rl, NULL) != 0) {
			r = EXIT_REFUSED;
			k++;
			continue;
		}
		taken = crl_newer(h->x[k].der, h->x[k].len, h->x[k].crl, h->x[k].crl_len,
			crl, rl, why);
		if (taken < 0) {
			msg(p, "refused: %s", why);
			free(crl);
			r = EXIT_REFUSED;
			k++;
			continue;
		}
		if (crl_decode(&ci, crl, rl, why) == 0
			&& cert_decode_alloc(&xa, h->x[k].der, h->x[k].len, why) == 0
			&& crl_find(&ci, xa->serial, xa->serial_len, &rs, &w)) {
			char kid[17];
			free(xa);
			free(crl);
			strcpy(kid, h->x[k].kid);
			if (host_xca_drop(h, k) < 0)
				return EXIT_USAGE;
			cnote("dropped the CA key %s: the CA retired it (its last CRL, signed by"
				" it, says so)", kid);
			*any = 1;
			continue;
		}
		free(xa);
		if (taken == 0) {
			free(crl);
			k++;
			continue;
		}
		if (pem_write(hpath(h, p, name), "X509 CRL", crl, rl, 0644) < 0) {
			msg_errno(p, "cannot write");
			free(crl);
			return EXIT_USAGE;
		}
		free(h->x[k].crl);
		h->x[k].crl = crl;
		h->x[k].crl_len = rl;
		{
			crl_info ci;
			char num[41];
			crl_decode(&ci, crl, rl, why);
			hex_encode(num, ci.number, ci.number_len, 1, 0);
			cnote("took CRL number %s of the CA key %s (next update %s)", num,
				h->x[k].kid, time_iso(t, ci.next_update));
		}
		*any = 1;
		k++;
	}
	return r;
}

static int
cmd_host_update(int argc, char **argv)
{
	static const char *const cb[] = { "CERTIFICATE", NULL };
	static const char *const lb[] = { "X509 CRL", NULL };
	const char *media = NULL;
	int npos, r, rr = 0, any = 0, ca_taken = 0, xany = 0;
	char kid[17];
	unsigned long long crl_taken = 0;
	size_t k;
	char *pos[1], p[PATH_MAX], q[PATH_MAX], why[WHY_CAP];
	unsigned char *ca = NULL, *crl = NULL;
	size_t al, rl;
	host_ctx h;
	opt opts[] = { { "--media", O_STR, &media, 0, 0, 0, 0 }, { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (media == NULL) {
		cmsg("--media DIR is required");
		return EXIT_USAGE;
	}
	if (media_check(media) < 0)
		return EXIT_USAGE;
	if ((r = host_load(&h, 0)) != 0)
		goto out;
	if (h.ca == NULL) {
		msg(g.host_dir, "no pinned CA yet: install a certificate first");
		r = EXIT_USAGE;
		goto out;
	}
	r = 0;
	ca_keyid_of(kid, h.ca, h.ca_len);
	/* A CA certificate: identical, or a new one for the same key (its
	 * own copy on the stick first, then the plain name if it is this
	 * key's: during a rollover it is the new key's). */
	media_ca_path(p, sizeof p, media, "ca", kid);
	if (path_exists(p)) {
		x509_info *n = NULL, *o = NULL;
		if (pem_file_load(p, cb, MAX_PEM_FILE, &ca, &al, NULL) != 0) {
			r = EXIT_REFUSED;
		} else if (al == h.ca_len && memcmp(ca, h.ca, al) == 0) {
			/* the same */
		} else if (cert_decode_alloc(&n, ca, al, why) < 0
			|| cert_decode_alloc(&o, h.ca, h.ca_len, why) < 0
			|| n->spki_len != o->spki_len || memcmp(n->spki, o->spki, n->spki_len) != 0
			|| !n->is_ca || sig_verify(&o->pub, n->sig_alg, n->tbs, n->tbs_len,
				n->sig, n->sig_len) < 0) {
			msg(p, "refused: not signed by the pinned CA key");
			r = EXIT_REFUSED;
		} else if (n->na <= o->na) {
			note(p, "not newer than the pinned CA certificate: kept the pinned one");
		} else if (pem_write(hpath(&h, q, "ca.pem"), "CERTIFICATE", ca, al, 0644) < 0) {
			msg_errno(q, "cannot write");
			r = EXIT_USAGE;
		} else {
			cnote("CA certificate updated (same CA key)");
			any = 1;
			ca_taken = 1;
			free(h.ca);
			h.ca = ca;
			h.ca_len = al;
			ca = NULL;
		}
		free(n);
		free(o);
	}
	media_ca_path(p, sizeof p, media, "crl", kid);
	if (r == 0) {
		/* the rollover part first: a refusal there is said, and the
		 * pinned CA's CRL is still taken */
		rr = host_update_rollover(&h, media, &any);
		xany = any;
	}
	if (r == 0 && path_exists(p)) {
		if (pem_file_load(p, lb, MAX_CRL_FILE, &crl, &rl, NULL) != 0) {
			r = EXIT_REFUSED;
		} else {
			int taken = host_take_crl(&h, h.ca, h.ca_len, crl, rl, why);
			if (taken < 0) {
				msg(p, "refused: %s", why);
				r = EXIT_REFUSED;
			} else if (taken == 0) {
				cnote("the CRL on the media is the one this host has");
			} else if (pem_write(hpath(&h, q, "crl.pem"), "X509 CRL", crl, rl, 0644) < 0) {
				msg_errno(q, "cannot write");
				r = EXIT_USAGE;
			} else {
				crl_info ci;
				char num[41];
				crl_decode(&ci, crl, rl, why);
				hex_encode(num, ci.number, ci.number_len, 1, 0);
				cnote("took CRL number %s (%zu revoked)", num, ci.count);
				any = 1;
				for (crl_taken = 0, k = 0; k < ci.number_len && k < 7; k++)
					crl_taken = crl_taken << 8 | ci.number[k];
				crl_taken++;      /* 0: none taken */
			}
		}
	} else if (r == 0 && !any) {
		char pl[PATH_MAX], plain[17];
		path_join(pl, sizeof pl, media, "ca.pem");
		media_plain_kid(media, plain);
		if (plain[0] && strcmp(plain, kid) != 0) {
			msg(pl, "refused: the stick's CA certificate is another CA key's,"
				" not the key %s this host trusts, and no link from it leads there",
				kid);
			r = EXIT_REFUSED;
		} else {
			msg(media, "no crl.pem or ca.pem on the media");
			r = EXIT_USAGE;
		}
	}

	if (r == 0 && rr != 0)
		r = rr;
	if (g.json && r == 0) {
		json_key("update");
		printf("{\"ca_updated\":%s,\"crl_updated\":%s", ca_taken ? "true" : "false",
			crl_taken ? "true" : "false");
		if (crl_taken)
			printf(",\"crl_number\":%llu", crl_taken - 1);
		putchar('}');
	}
out:
	if ((any || xany) && h.lock1 > 0 && host_refresh_trust(&h) < 0 && r == 0)
		r = EXIT_USAGE;
	free(ca);
	free(crl);
	host_free(&h);
	return r;
}

static int
cmd_host_status(int argc, char **argv)
{
	int npos, r, err = 0, rs = -1, usable;
	char *pos[1], why[WHY_CAP], sh[41], nb[32], na[32], fp[100], state[WHY_CAP + 32];
	unsigned char caf[32];
	host_ctx h;
	x509_info *c = NULL, *a = NULL;
	int64_t now, w, days = 0;
	char crl_state[160], kfp[65], nkfp[65];
	unsigned char kf[32], nkf[32];
	size_t i;
	const char *renew_s = NULL;
	long renew_at = 50;
	int renew_due, ca_ending, no_crl, rolling = 0;
	opt opts[] = { { "--renew-at", O_STR, &renew_s, 0, 0, 0, 0 }, { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (renew_s && parse_uint("--renew-at", renew_s, 1, 99, &renew_at) < 0)
		return EXIT_USAGE;
	if ((r = host_load(&h, 1)) != 0) {
		host_free(&h);
		return r;
	}
	now = host_now(&h);
	fp[0] = 0;
	if (h.ca != NULL) {
		sha256_once(caf, h.ca, h.ca_len);
		fingerprint_text(fp, caf);
	}
	if (h.cert == NULL || h.ca == NULL) {
		snprintf(state, sizeof state, "no certificate installed");
		err = -1;
	} else if (cert_decode_alloc(&c, h.cert, h.cert_len, why) < 0
		|| cert_decode_alloc(&a, h.ca, h.ca_len, why) < 0) {
		snprintf(state, sizeof state, "damaged: %s", why);
		err = -1;
	} else {
		crl_info ci;
		err = chain_check(c, a, now, why);
		if (err == 0 && !h.have_key) {
			snprintf(why, sizeof why, "the host key is missing");
			err = HOSTCA_ERR_KEY_MISMATCH;
		}
		if (err == 0) {
			unsigned char k1[32], k2[32];
			hostca_key_fingerprint(&h.key, k1);
			pubkey_fingerprint(&c->pub, k2);
			if (!ct_equal(k1, k2, 32)) {
				snprintf(why, sizeof why, "the certificate is for another key than host.key");
				err = HOSTCA_ERR_KEY_MISMATCH;
			}
		}
		if (err == 0 && h.crl != NULL && crl_decode(&ci, h.crl, h.crl_len, why) == 0
			&& crl_verify_sig(&ci, a, why) == 0
			&& crl_find(&ci, c->serial, c->serial_len, &rs, &w)) {
			snprintf(why, sizeof why, "revoked on %s (%s)", time_iso(nb, w),
				reason_text(rs < 0 ? 0 : rs));
			err = HOSTCA_ERR_REVOKED;
		}
		if (err == 0) {
			days = (c->na - now) / 86400;
			snprintf(state, sizeof state, "valid, %lld day%s left", (long long)days,
				days == 1 ? "" : "s");
		} else {
			snprintf(state, sizeof state, "%s", why);
		}
	}
	usable = err == 0;
	/* the keys' fingerprints, as 'ca allow-reissue --key' takes them */
	kfp[0] = nkfp[0] = 0;
	if (h.have_key && hostca_key_fingerprint(&h.key, kf) == 0)
		hex_encode(kfp, kf, 32, 0, 0);
	if (h.have_newkey && hostca_key_fingerprint(&h.newkey, nkf) == 0)
		hex_encode(nkfp, nkf, 32, 0, 0);
	/* An expired CRL: the certificate may be fine, but peers that check
	 * the CRL refuse it; say so, and what to do. */
	crl_state[0] = 0;
	if (h.crl != NULL) {
		crl_info ci;
		char t[32];
		if (crl_decode(&ci, h.crl, h.crl_len, why) == 0 && ci.next_update < now) {
			snprintf(crl_state, sizeof crl_state, "expired on %s: get a fresh one"
				" (hostca ca crl on the CA, then hostca host update)",
				time_iso(t, ci.next_update));
			msg("warning", "the CRL %s", crl_state);
		}
	}
	/* Due for renewal: past renew_at percent of its life (the default,
	 * half, is when NetBackup hosts renew). The CA certificate's end: a
	 * year ahead, hosts need the renewed one (ca renew) on a stick. */
	no_crl = h.crl == NULL && h.cert != NULL;
	renew_due = c != NULL && usable
		&& now >= c->nb + (c->na - c->nb) / 100 * renew_at;
	ca_ending = a != NULL && a->na - now < 365 * 86400;
	if (renew_due)
		msg("warning", "the certificate is past %ld%% of its life: renew it"
			" (hostca host renew --media DIR, or host sync)", renew_at);
	if (ca_ending)
		msg("warning", "the CA certificate ends on %s: the CA operator renews it"
			" (hostca ca renew), and hosts take it with host update", time_iso(na, a->na));
	for (i = 0; i < h.nx; i++)
		rolling |= h.x[i].next;
	if (rolling && usable)
		msg("warning", "the CA is rolling over to a new key: renew onto it"
			" (hostca host renew --media DIR, or host sync)");
	if (g.json) {
		char kj[96], nkj[96];
		json_key("host");
		printf("{\"host_id\":\"%s\",\"usable\":%s,\"crl_expired\":%s,"
			"\"renewal_due\":%s,\"ca_ending\":%s,\"state\":",
			h.hostid, usable ? "true" : "false", crl_state[0] ? "true" : "false",
			renew_due ? "true" : "false", ca_ending ? "true" : "false");
		json_str(state);
		if (c != NULL) {
			serial_hex(sh, c->serial, c->serial_len);
			printf(",\"serial\":\"%s\",\"not_before\":\"%s\",\"not_after\":\"%s\","
				"\"days_left\":%lld,\"revoked\":%s,\"names\":[", sh,
				time_iso(nb, c->nb), time_iso(na, c->na),
				(long long)((c->na - now) / 86400),
				err == HOSTCA_ERR_REVOKED ? "true" : "false");
			for (i = 0; i < c->nnames; i++) {
				if (i)
					putchar(',');
				json_str(c->names[i].text);
			}
			putchar(']');
		}
		printf(",\"key_sha256\":");
		if (kfp[0]) {
			fingerprint_text(kj, kf);
			printf("\"%s\"", kj);
		} else {
			printf("null");
		}
		printf(",\"new_key_sha256\":");
		if (nkfp[0]) {
			fingerprint_text(nkj, nkf);
			printf("\"%s\"", nkj);
		} else {
			printf("null");
		}
		printf(",\"ca_sha256\":");
		if (fp[0])
			printf("\"%s\"", fp);
		else
			printf("null");
		printf(",\"cas\":[");
		for (i = 0; i <= h.nx && h.ca != NULL; i++) {
			char xf[100], kid[17];
			unsigned char xh[32];
			if (i == 0) {
				ca_keyid_of(kid, h.ca, h.ca_len);
				printf("{\"role\":\"pinned\",\"sha256\":\"%s\",\"key_id\":\"%s\"}",
					fp, kid);
				continue;
			}
			sha256_once(xh, h.x[i - 1].der, h.x[i - 1].len);
			fingerprint_text(xf, xh);
			printf(",{\"role\":\"%s\",\"sha256\":\"%s\",\"key_id\":\"%s\"}",
				h.x[i - 1].next ? "next" : "old", xf, h.x[i - 1].kid);
		}
		printf("],\"rollover\":%s", rolling ? "true" : "false");
		putchar('}');
	} else {
		printf("host ID:   %s\n", h.hostid);
		if (c != NULL) {
			serial_hex(sh, c->serial, c->serial_len);
			printf("names:    ");
			for (i = 0; i < c->nnames; i++)
				printf(" %s", c->names[i].text);
			printf("\nserial:    %s\nvalid:     %s to %s\n", sh, time_iso(nb, c->nb),
				time_iso(na, c->na));
		}
		printf("status:    %s\n", state);
		if (kfp[0])
			printf("key:       SHA256:%s\n", kfp);
		if (nkfp[0])
			printf("new key:   SHA256:%s (host.key.new, waiting for its"
				" certificate)\n", nkfp);
		if (fp[0])
			printf("CA:        %s\n", fp);
		for (i = 0; i < h.nx; i++) {
			char xf[100];
			unsigned char xh[32];
			sha256_once(xh, h.x[i].der, h.x[i].len);
			fingerprint_text(xf, xh);
			printf("%s %s (key %s; %s)\n", h.x[i].next ? "next CA:  " : "old CA:   ",
				xf, h.x[i].kid, h.x[i].next ? "the CA's new key, taken through its link"
				: "trusted for peers until the CA finishes its rollover");
		}
		if (h.crl == NULL && h.cert != NULL)
			printf("CRL:       none seen yet (hostca host update --media DIR)\n");
		else if (crl_state[0])
			printf("CRL:       %s\n", crl_state);
	}
	free(c);
	free(a);
	host_free(&h);
	/* an expired CRL: peers refuse every certificate, so not healthy */
	if (g.json && !jm.err[0] && !usable)
		snprintf(jm.err, sizeof jm.err, "%s: %s", g.host_dir, state);
	else if (g.json && !jm.err[0] && crl_state[0])
		snprintf(jm.err, sizeof jm.err, "the CRL %s", crl_state);
	else if (g.json && !jm.err[0] && no_crl)
		snprintf(jm.err, sizeof jm.err, "no CRL: peers that check CRLs refuse the"
			" certificate (hostca host update --media DIR)");
	return usable && !crl_state[0] && !no_crl ? 0 : EXIT_REFUSED;
}

/*
 * host sync: what a host does when a stick arrives, in order: install
 * the response meant for it (if any, and new), take a newer CRL and CA
 * certificate, write a renewal request once the certificate is past
 * --renew-at percent of its life (default 50), then say how it stands
 * and what the operator should do next. Exit: host status's (0 healthy).
 */
#define SYNC_MAX 8

static void
sync_add(char list[SYNC_MAX][200], size_t *n, const char *fmt, ...)
{
	va_list ap;

	if (*n >= SYNC_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(list[(*n)++], 200, fmt, ap);
	va_end(ap);
}

static int
cmd_host_sync(int argc, char **argv)
{
	const char *media = NULL, *token = NULL, *token_file = NULL, *fp_s = NULL;
	const char *renew_s = NULL;
	long renew_at = 50;
	int npos, r, tofu = 0, due = 0, pending = 0;
	char *pos[1], p[PATH_MAX], fname[64], why[WHY_CAP];
	char acts[SYNC_MAX][200], next[SYNC_MAX][200];
	size_t na = 0, nn = 0, i;
	host_ctx h;
	char *av[8];
	int ac;
	opt opts[] = {
		{ "--media", O_STR, &media, 0, 0, 0, 0 },
		{ "--token", O_STR, &token, 0, 0, 0, 0 },
		{ "--token-file", O_STR, &token_file, 0, 0, 0, 0 },
		{ "--ca-fingerprint", O_STR, &fp_s, 0, 0, 0, 0 },
		{ "--trust-on-first-use", O_FLAG, 0, &tofu, 0, 0, 0 },
		{ "--renew-at", O_STR, &renew_s, 0, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (media == NULL) {
		cmsg("--media DIR is required");
		return EXIT_USAGE;
	}
	if (renew_s && parse_uint("--renew-at", renew_s, 1, 99, &renew_at) < 0)
		return EXIT_USAGE;
	if (media_check(media) < 0)
		return EXIT_USAGE;
	if ((r = host_load(&h, 1)) != 0) {
		host_free(&h);
		return r;
	}
	/* 1. A response for this host, not installed yet. */
	snprintf(fname, sizeof fname, "responses/%s.pem", h.hostid);
	path_join(p, sizeof p, media, fname);
	if (path_exists(p)) {
		static const char *const cb[] = { "CERTIFICATE", NULL };
		unsigned char *cert = NULL;
		size_t cl = 0;
		int same = pem_file_load(p, cb, MAX_PEM_FILE, &cert, &cl, NULL) == 0
			&& h.cert != NULL && cl == h.cert_len && memcmp(cert, h.cert, cl) == 0;
		free(cert);
		host_free(&h);
		if (same) {
			sync_add(acts, &na, "the response on the stick is installed already");
		} else {
			ac = 0;
			av[ac++] = (char *)"--media";
			av[ac++] = (char *)media;
			if (fp_s) {
				av[ac++] = (char *)"--ca-fingerprint";
				av[ac++] = (char *)fp_s;
			} else if (tofu) {
				av[ac++] = (char *)"--trust-on-first-use";
			}
			av[ac] = NULL;
			if (cmd_host_install(ac, av) == 0) {
				sync_add(acts, &na, "installed the certificate from %s", fname);
			} else {
				sync_add(acts, &na, "did not install %s (see the messages)", fname);
			}
		}
	} else {
		host_free(&h);
	}
	/* 2. A newer CRL and CA certificate (once a CA is pinned). */
	if ((r = host_load(&h, 1)) != 0) {
		host_free(&h);
		return r;
	}
	if (h.ca != NULL) {
		host_free(&h);
		ac = 0;
		av[ac++] = (char *)"--media";
		av[ac++] = (char *)media;
		av[ac] = NULL;
		if (cmd_host_update(ac, av) == 0)
			sync_add(acts, &na, "checked the stick's CRL and CA certificate");
		else
			sync_add(acts, &na, "could not take the stick's CRL or CA certificate"
				" (see the messages)");
		if ((r = host_load(&h, 1)) != 0) {
			host_free(&h);
			return r;
		}
	}
	/* 3. Renewal, when due and not already on the stick. */
	if (h.cert != NULL) {
		x509_info *c = NULL;
		int64_t now = host_now(&h);
		if (cert_decode_alloc(&c, h.cert, h.cert_len, why) == 0 && c->na > now
			&& now >= c->nb + (c->na - c->nb) / 100 * renew_at)
			due = 1;
		/* a rollover: onto the new key now, whatever the age */
		for (i = 0; c != NULL && c->na > now && i < h.nx; i++)
			due |= h.x[i].next;
		free(c);
	}
	snprintf(fname, sizeof fname, "requests/%s.pem", h.hostid);
	path_join(p, sizeof p, media, fname);
	pending = path_exists(p);
	host_free(&h);
	if (due && pending) {
		sync_add(acts, &na, "a request of this host is on the stick already");
		sync_add(next, &nn, "carry the stick to the CA (hostca ca sign --media DIR),"
			" then run host sync again");
	} else if (due) {
		ac = 0;
		av[ac++] = (char *)"--media";
		av[ac++] = (char *)media;
		if (token) {
			av[ac++] = (char *)"--token";
			av[ac++] = (char *)token;
		} else if (token_file) {
			av[ac++] = (char *)"--token-file";
			av[ac++] = (char *)token_file;
		}
		av[ac] = NULL;
		if (cmd_host_renew(ac, av) == 0) {
			sync_add(acts, &na, "wrote a renewal request (%s)", fname);
			sync_add(next, &nn, "carry the stick to the CA (hostca ca sign --media DIR),"
				" then run host sync again");
		} else {
			sync_add(acts, &na, "renewal is due, but no request could be written"
				" (see the messages)");
		}
	} else if (pending) {
		sync_add(next, &nn, "this host's request is on the stick: carry it to the CA");
	}
	/* 4. How it stands (and, with --json, the error is its verdict; what
	 * the steps above said is in "messages"). */
	jm.err[0] = 0;
	ac = 0;
	av[ac++] = (char *)"--renew-at";
	snprintf(why, sizeof why, "%ld", renew_at);
	av[ac++] = why;
	av[ac] = NULL;
	r = cmd_host_status(ac, av);
	if (r != 0 && nn == 0)
		sync_add(next, &nn, "the host is not healthy (see the status): bring a stick"
			" with its response, a fresh CRL (hostca ca export), or a reissue token");
	if (g.json) {
		json_key("sync");
		printf("{\"actions\":[");
		for (i = 0; i < na; i++) {
			if (i)
				putchar(',');
			json_str(acts[i]);
		}
		printf("],\"healthy\":%s,\"next\":[", r == 0 ? "true" : "false");
		for (i = 0; i < nn; i++) {
			if (i)
				putchar(',');
			json_str(next[i]);
		}
		printf("]}");
	} else if (!g.quiet) {
		for (i = 0; i < na; i++)
			printf("done:      %s\n", acts[i]);
		for (i = 0; i < nn; i++)
			printf("next:      %s\n", next[i]);
	}
	return r;
}

/*
 * host trust: moves a pinned host to another CA -- the operator's
 * decision, with the new CA's SHA-256 fingerprint read out as at a first
 * install. The CA certificate comes from the stick (ca.pem or a
 * ca-KEYID.pem whose fingerprint it is); it must be a self-signed CA
 * certificate. The pin and the CRL change; the host ID and key stay, and
 * the certificate of the old CA stays until one of the new CA is
 * installed (host status says it is not usable meanwhile).
 */
static int
cmd_host_trust(int argc, char **argv)
{
	static const char *const cb[] = { "CERTIFICATE", NULL };
	const char *media = NULL, *fp_s = NULL;
	int npos, r;
	char *pos[1], p[PATH_MAX], q[PATH_MAX], why[WHY_CAP], fpt[100];
	unsigned char want[32], have[32], *ca = NULL;
	size_t al = 0;
	host_ctx h;
	DIR *d;
	struct dirent *de;
	x509_info *x = NULL;
	opt opts[] = {
		{ "--ca-fingerprint", O_STR, &fp_s, 0, 0, 0, 0 },
		{ "--media", O_STR, &media, 0, 0, 0, 0 },
		{ 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	if (fp_s == NULL || media == NULL) {
		cmsg("give --ca-fingerprint SHA256 (read out by the new CA's operator)"
			" and --media DIR (a stick that carries its ca.pem)");
		return EXIT_USAGE;
	}
	if (hex_decode(want, 32, fp_s) != 32) {
		cmsg("--ca-fingerprint: 64 hex digits (colons optional): the SHA-256 line"
			" of the new CA's 'hostca ca show'");
		return EXIT_USAGE;
	}
	if (media_check(media) < 0)
		return EXIT_USAGE;
	/* the CA certificate with that fingerprint, on the stick */
	if ((d = opendir(media)) == NULL) {
		msg_errno(media, "cannot read");
		return EXIT_USAGE;
	}
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		unsigned char *c;
		size_t cl;
		if (strcmp(de->d_name, "ca.pem") != 0 && (strncmp(de->d_name, "ca-", 3) != 0
			|| nl != 23 || strcmp(de->d_name + 19, ".pem") != 0))
			continue;
		path_join(p, sizeof p, media, de->d_name);
		if (pem_file_load(p, cb, MAX_PEM_FILE, &c, &cl, NULL) != 0)
			continue;
		sha256_once(have, c, cl);
		if (ct_equal(have, want, 32)) {
			ca = c;
			al = cl;
			break;
		}
		free(c);
	}
	closedir(d);
	if (ca == NULL) {
		cmsg("no CA certificate with that fingerprint on %s (ca.pem or ca-KEYID.pem;"
			" 'hostca ca export --media DIR' on the new CA writes it)", media);
		return EXIT_REFUSED;
	}
	if (cert_decode_alloc(&x, ca, al, why) < 0 || !x->is_ca
		|| sig_verify(&x->pub, x->sig_alg, x->tbs, x->tbs_len, x->sig, x->sig_len) < 0) {
		cmsg("the certificate with that fingerprint is not a self-signed CA certificate");
		free(x);
		free(ca);
		return EXIT_REFUSED;
	}
	free(x);
	if ((r = host_load(&h, 0)) != 0) {
		free(ca);
		host_free(&h);
		return r;
	}
	fingerprint_text(fpt, want);
	if (h.ca != NULL && h.ca_len == al && memcmp(h.ca, ca, al) == 0) {
		cnote("this host trusts that CA already");
		free(ca);
		host_free(&h);
		return 0;
	}
	if (h.ca != NULL) {
		/* the same CA key (a renewed certificate) is no move: host update
		 * takes it and keeps the CRL (dropping it would forget
		 * revocations) */
		x509_info *o = NULL, *nw = NULL;
		int same = cert_decode_alloc(&o, h.ca, h.ca_len, why) == 0
			&& cert_decode_alloc(&nw, ca, al, why) == 0 && o->spki_len == nw->spki_len
			&& memcmp(o->spki, nw->spki, o->spki_len) == 0;
		free(o);
		free(nw);
		if (same) {
			cmsg("that certificate is for the key this host trusts already (a"
				" renewed CA certificate): host update takes it, nothing moves");
			free(ca);
			host_free(&h);
			return EXIT_REFUSED;
		}
	}
	/* the old CA's CRL goes (it says nothing about the new CA's
	 * certificates), then the pin changes */
	if (path_exists(hpath(&h, q, "crl.pem")) && (unlink(q) < 0 || fsync_dir(g.host_dir) < 0)) {
		msg_errno(q, "cannot remove");
		free(ca);
		host_free(&h);
		return EXIT_USAGE;
	}
	fault_point("trust-before-pin");
	if (pem_write(hpath(&h, q, "ca.pem"), "CERTIFICATE", ca, al, 0644) < 0) {
		msg_errno(q, "cannot write");
		free(ca);
		host_free(&h);
		return EXIT_USAGE;
	}
	/* the old CA's rollover keys go with it */
	while (h.nx > 0)
		if (host_xca_drop(&h, h.nx - 1) < 0) {
			msg_errno(g.host_dir, "cannot remove the old CA's other keys");
			free(ca);
			host_free(&h);
			return EXIT_USAGE;
		}
	cnote("this host now trusts the CA %s (and no other); %s", fpt, h.cert != NULL
		? "its certificate is the old CA's: enrol with the new CA (host request"
		" with a token from it), then host install" : "enrol with it (host request,"
		" then host install)");
	if (g.json) {
		json_key("trust");
		printf("{\"ca_sha256\":\"%s\"}", fpt);
	}
	r = host_refresh_trust(&h) < 0 ? EXIT_USAGE : 0;
	free(ca);
	host_free(&h);
	return r;
}

/* Overwrites a file's bytes before removing it (best effort on flash). */
static int
wipe_file(const char *path)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
			static unsigned char zero[4096];   /* .bss, not in the binary */
			off_t left = st.st_size;
			while (left > 0) {
				size_t n = left > (off_t)sizeof zero ? sizeof zero : (size_t)left;
				if (write(fd, zero, n) < 0)
					break;
				left -= (off_t)n;
			}
			(void)fsync(fd);
		}
		close(fd);
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

static int
cmd_host_clean(int argc, char **argv)
{
	static const char *const files[] = { "hostid", "host.key", "host.key.new",
		"host.pem", "crl.pem", NULL };
	int force = 0, npos, r = 0;
	char *pos[1], p[PATH_MAX];
	size_t i, n = 0;
	host_ctx h;
	opt opts[] = { { "--force", O_FLAG, 0, &force, 0, 0, 0 }, { 0, 0, 0, 0, 0, 0, 0 } };

	if (opts_parse(argc, argv, opts, pos, 0, &npos) < 0)
		return EXIT_USAGE;
	/* locked, and what interrupted commands left is gone (host_lock) */
	memset(&h, 0, sizeof h);
	snprintf(h.dir, sizeof h.dir, "%s", g.host_dir);
	if (host_lock(&h) < 0)
		return EXIT_USAGE;
	for (i = 0; files[i]; i++)
		n += path_exists(path_join(p, sizeof p, g.host_dir, files[i]));
	if (n == 0) {
		cnote("nothing to clean in %s", g.host_dir);
		host_free(&h);
		return 0;
	}
	if (!force) {
		cmsg("this wipes the host ID, key, certificate and CRL in %s, so that"
			" this machine (or its clone) enrols as a new host; the pinned CA stays."
			" Add --force to do it", g.host_dir);
		host_free(&h);
		return EXIT_USAGE;
	}
	if (g.json) {
		json_key("removed");
		putchar('[');
	}
	for (i = 0, n = 0; files[i]; i++) {
		int was;
		path_join(p, sizeof p, g.host_dir, files[i]);
		was = path_exists(p);
		if (wipe_file(p) < 0) {
			msg_errno(p, "cannot remove");
			r = EXIT_USAGE;
		} else if (was && g.json) {
			printf("%s\"%s\"", n++ ? "," : "", files[i]);
		}
	}
	if (g.json)
		putchar(']');
	fsync_dir(g.host_dir);
	if (r == 0)
		cnote("host identity wiped; the next 'hostca host request' creates a new one");
	host_free(&h);
	return r;
}

/* ======================================================================
 * 9d. main
 * ====================================================================== */

typedef int (*cmd_fn)(int argc, char **argv);

static const struct {
	const char *group, *name;
	cmd_fn fn;
	const char *usage;
} commands[] = {
	{ "ca", "init", cmd_ca_init, "ca init --name NAME [--key ec-p256|ec-p384|ec-p521|rsa-2048|rsa-3072|rsa-4096]\n"
		"          [--days N] [--security medium|high|very-high] [--passphrase-file F | --encrypt]" },
	{ "ca", "show", cmd_ca_show, "ca show" },
	{ "ca", "config", cmd_ca_config, "ca config [KEY [VALUE]]   (security, cert-days, crl-days, token-valid, backdate)" },
	{ "ca", "sign", cmd_ca_sign, "ca sign --media DIR [--list] [--only HOSTID]\n"
		"  ca sign --csr FILE [--token T | --token-file F] [--out FILE]" },
	{ "ca", "revoke", cmd_ca_revoke, "ca revoke (--host HOST | --serial HEX) [--reason REASON]" },
	{ "ca", "allow-reissue", cmd_ca_allow_reissue, "ca allow-reissue --host HOST [--for DURATION] [--key SHA256]" },
	{ "ca", "crl", cmd_ca_crl, "ca crl [--days N]" },
	{ "ca", "export", cmd_ca_export, "ca export --media DIR" },
	{ "ca", "list", cmd_ca_list, "ca list [--host HOST] [--status valid|revoked|expired] [--expiring DAYS]" },
	{ "ca", "hosts", cmd_ca_hosts, "ca hosts" },
	{ "ca", "host", cmd_ca_host, "ca host HOST" },
	{ "ca", "names", cmd_ca_names, "ca names [NAME]" },
	{ "ca", "renew", cmd_ca_renew, "ca renew [--days N]" },
	{ "ca", "rollover", cmd_ca_rollover, "ca rollover --key TYPE [--days N] [--name NAME]\n"
		"  ca rollover --finish [--force]" },
	{ "ca", "backup", cmd_ca_backup, "ca backup --media DIR [--backup-passphrase-file F]\n"
		"  ca backup --shares K-of-N --media DIR ... (N times)" },
	{ "ca", "restore", cmd_ca_restore, "ca restore --from DIR... [--backup-passphrase-file F] [--media DIR]" },
	{ "ca", "share", cmd_ca_share, "ca share --name NAME (--hosts A,B,... | --remove)" },
	{ "ca", "release", cmd_ca_release, "ca release --name NAME --reason TEXT [--yes]" },
	{ "ca", "audit", cmd_ca_audit, "ca audit [--verify]" },
	{ "ca", "check", cmd_ca_check, "ca check" },
	{ "ca", "repair", cmd_ca_repair, "ca repair [--sign-head]" },
	{ "ca", "passphrase", cmd_ca_passphrase, "ca passphrase [--new-passphrase-file F | --remove]" },
	{ "token", "create", cmd_token_create, "token create --name NAME [--max-uses N] [--valid DURATION] [--reason TEXT]\n"
		"  token create --reissue --host HOST [--name NAME] [--valid DURATION] [--reason TEXT]" },
	{ "token", "list", cmd_token_list, "token list" },
	{ "token", "show", cmd_token_show, "token show NAME" },
	{ "token", "delete", cmd_token_delete, "token delete NAME [--reason TEXT]" },
	{ "token", "cleanup", cmd_token_cleanup, "token cleanup" },
	{ "host", "request", cmd_host_request, "host request --media DIR --name NAME [--alt-name NAME|IP]...\n"
		"          [--token T | --token-file F] [--key TYPE] [--new-key]" },
	{ "host", "install", cmd_host_install, "host install --media DIR [--ca-fingerprint SHA256 | --trust-on-first-use] [--force]" },
	{ "host", "renew", cmd_host_renew, "host renew --media DIR [--token T | --token-file F]" },
	{ "host", "update", cmd_host_update, "host update --media DIR" },
	{ "host", "status", cmd_host_status, "host status [--renew-at PERCENT]" },
	{ "host", "sync", cmd_host_sync, "host sync --media DIR [--renew-at PERCENT] [--token T | --token-file F]\n"
		"          [--ca-fingerprint SHA256 | --trust-on-first-use]" },
	{ "host", "trust", cmd_host_trust, "host trust --ca-fingerprint SHA256 --media DIR" },
	{ "host", "clean", cmd_host_clean, "host clean [--force]" },
	{ NULL, "verify", cmd_verify, "verify --ca CA.pem [--crl CRL.pem] [--at TIME] CERT.pem" },
	{ NULL, "show", cmd_show, "show FILE" },
#ifdef HOSTCA_TEST_HOOKS
	{ "ca", "test-fill", cmd_ca_test_fill, "ca test-fill --issued N [--revoked M]   (test builds: bench CAs)" },
#endif
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: hostca [-C CADIR] [-H HOSTDIR] [--passphrase-file F] [--json] [-q] COMMAND\n\n");
	for (i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\n  -C DIR   CA directory (env HOSTCA_CA_DIR, default ./ca)\n"
		"  -H DIR   host directory (env HOSTCA_HOST_DIR, default ./host)\n"
		"  --json   machine-readable output for listings and show commands\n"
		"  -q       quiet: errors only\n"
		"Durations: 30s, 90m, 24h, 7d. Exit: 0 done, 1 refused, 2 usage or I/O error.\n"
		"See hostca(1) and README.md.\n");
}

int
main(int argc, char **argv)
{
	int i = 1, k, help = 0;
	size_t c;
	char cmdname[64];
	const char *e;

	/* No core dump may hold the CA key, a passphrase or a token. */
	{
		struct rlimit nocore = { 0, 0 };
		setrlimit(RLIMIT_CORE, &nocore);
#ifdef __linux__
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
	}
	signal(SIGPIPE, SIG_IGN);
	umask(022);
	g.ca_dir = (e = getenv("HOSTCA_CA_DIR")) && *e ? e : "ca";
	g.host_dir = (e = getenv("HOSTCA_HOST_DIR")) && *e ? e : "host";
	g.now = now_time();
	g.cmd = "hostca";
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-C") == 0 || strcmp(a, "-H") == 0 || strcmp(a, "--passphrase-file") == 0) {
			if (i + 1 >= argc || argv[i + 1][0] == 0) {
				msg("hostca", "%s needs a value", a);
				return json_end(EXIT_USAGE);
			}
			if (a[1] == 'C')
				g.ca_dir = argv[++i];
			else if (a[1] == 'H')
				g.host_dir = argv[++i];
			else
				g.passphrase_file = argv[++i];
		} else if (strcmp(a, "--json") == 0) {
			g.json = 1;
		} else if (strcmp(a, "-q") == 0) {
			g.quiet = 1;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--version") == 0) {
			printf("hostca %s\n", HOSTCA_VERSION);
			return 0;
		} else {
			msg("hostca", "unknown option '%s' (options go before the command;"
				" see hostca --help)", a);
			return json_end(EXIT_USAGE);
		}
	}
	if (i >= argc) {
		usage(stderr);
		msg("hostca", "no command given");
		return json_end(EXIT_USAGE);
	}
	for (c = 0; c < N_COMMANDS; c++) {
		const char *grp = commands[c].group;
		if (grp == NULL) {
			if (strcmp(argv[i], commands[c].name) == 0)
				break;
		} else if (strcmp(argv[i], grp) == 0 && i + 1 < argc
			&& strcmp(argv[i + 1], commands[c].name) == 0) {
			break;
		}
	}
	if (c == N_COMMANDS && (strcmp(argv[i], "ca") == 0 || strcmp(argv[i], "token") == 0
		|| strcmp(argv[i], "host") == 0)
		&& (i + 1 >= argc || strcmp(argv[i + 1], "--help") == 0
			|| strcmp(argv[i + 1], "-h") == 0)) {
		/* a group alone, or with --help: its commands */
		int any = i + 1 < argc;
		fprintf(any ? stdout : stderr, "usage: hostca [global options] %s COMMAND\n\n",
			argv[i]);
		for (c = 0; c < N_COMMANDS; c++)
			if (commands[c].group && strcmp(commands[c].group, argv[i]) == 0)
				fprintf(any ? stdout : stderr, "  %s\n", commands[c].usage);
		if (!any) {
			msg("hostca", "'%s' needs a command (see above)", argv[i]);
			return json_end(EXIT_USAGE);
		}
		return 0;
	}
	if (c == N_COMMANDS) {
		msg("hostca", "unknown command '%s%s%s' (see hostca --help)", argv[i],
			i + 1 < argc && (strcmp(argv[i], "ca") == 0 || strcmp(argv[i], "token") == 0
				|| strcmp(argv[i], "host") == 0) ? " " : "",
			i + 1 < argc && (strcmp(argv[i], "ca") == 0 || strcmp(argv[i], "token") == 0
				|| strcmp(argv[i], "host") == 0) ? argv[i + 1] : "");
		return json_end(EXIT_USAGE);
	}
	i += commands[c].group ? 2 : 1;
	snprintf(cmdname, sizeof cmdname, "%s%s%s", commands[c].group ? commands[c].group : "",
		commands[c].group ? " " : "", commands[c].name);
	g.cmd = cmdname;
	for (k = i; k < argc; k++)
		if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0)
			help = 1;
	if (help) {
		printf("usage: hostca [global options] %s\n", commands[c].usage);
		return 0;
	}
	k = commands[c].fn(argc - i, argv + i);
	return json_end(k);
}

#endif /* HOSTCA_NO_MAIN */
