/*
 * example.c -- a device's side of hostca, using only hostca.h.
 *
 * Built against hostca.c compiled with -DHOSTCA_NO_MAIN (the library):
 *
 *   example request DIR [NAME...]    key, host ID and a CSR into DIR
 *   example install DIR CA CERT [CRL] [--now T] [--pool]
 *                                     check a response (and CRL) for the
 *                                     key in DIR; T = the device clock
 *                                     (0 = a device without a clock);
 *                                     --pool: no malloc, a static arena
 *
 * Files are handled here with stdio; the library itself does no I/O.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostca.h"

static unsigned char buf[65536];

/*
 * A device without malloc: the library's working memory from a static
 * arena. Bump allocation; when every block is freed (the library frees
 * all before it returns) the arena starts over. Peak use is reported.
 */
static unsigned char arena[96 * 1024];
static size_t arena_top, arena_live, arena_peak;

static void *
pool_alloc(size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n > sizeof arena - arena_top)
		return NULL;
	p = arena + arena_top;
	arena_top += n;
	arena_live++;
	if (arena_top > arena_peak)
		arena_peak = arena_top;
	return p;
}

static void
pool_free(void *p)
{
	if (p != NULL && --arena_live == 0)
		arena_top = 0;
}

static long
slurp(const char *path, unsigned char *dst, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(dst, 1, cap, f);
	fclose(f);
	return (long)n;
}

static int
spit(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(data, 1, len, f) != len) {
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

static const char *
join(char *out, const char *dir, const char *name)
{
	snprintf(out, 1024, "%s/%s", dir, name);
	return out;
}

/* A PEM file's first block, decoded into der. */
static long
pem_der(const char *path, unsigned char *der, size_t cap)
{
	static unsigned char text[65536];
	char banner[64];
	long n = slurp(path, text, sizeof text);

	if (n <= 0)
		return -1;
	return hostca_pem_decode(text, (size_t)n, 0, banner, der, cap);
}

static int
do_request(const char *dir, int nnames, char **names)
{
	static hostca_key key;    /* static memory: no allocation needed */
	static unsigned char der[8192], pem[12288];
	char hostid[HOSTCA_UUID_LEN + 1], p[1024];
	unsigned char nonce[16];
	size_t n;
	int err;

	if ((err = hostca_key_generate(&key, HOSTCA_KEY_EC_P256, NULL, 0)) < 0
		|| (err = hostca_uuid_generate(hostid)) < 0) {
		fprintf(stderr, "example: %s\n", hostca_strerror(err));
		return 1;
	}
	n = hostca_key_encode(der, &key);
	if (n == 0 || spit(join(p, dir, "key.der"), der, n) < 0)
		return 1;
	if ((err = hostca_random(nonce, sizeof nonce)) < 0)
		return 1;
	n = hostca_csr_encode(NULL, &key, hostid, (const char *const *)names,
		(size_t)nnames, NULL, nonce);
	if (n == 0 || n > sizeof der || hostca_csr_encode(der, &key, hostid,
		(const char *const *)names, (size_t)nnames, NULL, nonce) != n) {
		fprintf(stderr, "example: cannot encode the request\n");
		return 1;
	}
	n = hostca_pem_encode(pem, "CERTIFICATE REQUEST", der, n);
	if (spit(join(p, dir, "csr.pem"), pem, n) < 0)
		return 1;
	if (spit(join(p, dir, "hostid"), hostid, strlen(hostid)) < 0)
		return 1;
	hostca_key_wipe(&key);
	printf("%s\n", hostid);
	return 0;
}

static int
do_install(const char *dir, const char *ca_f, const char *cert_f,
	const char *crl_f, long long now)
{
	static hostca_key key;
	static unsigned char ca[8192], cert[8192], crl[65536];
	static hostca_cert_info info;
	char hostid[HOSTCA_UUID_LEN + 1], p[1024];
	unsigned char num[20];
	size_t numlen;
	long kl, al, cl, rl = 0;
	int64_t floor, tu, nu;
	int err, reason;

	kl = slurp(join(p, dir, "key.der"), buf, sizeof buf);
	if (kl <= 0 || hostca_key_decode(&key, buf, (size_t)kl) < 0) {
		fprintf(stderr, "example: no key\n");
		return 1;
	}
	memset(hostid, 0, sizeof hostid);
	if (slurp(join(p, dir, "hostid"), (unsigned char *)hostid, HOSTCA_UUID_LEN) != HOSTCA_UUID_LEN)
		return 1;
	al = pem_der(ca_f, ca, sizeof ca);
	cl = pem_der(cert_f, cert, sizeof cert);
	if (al <= 0 || cl <= 0 || hostca_cert_info_decode(&info, cert, (size_t)cl) < 0) {
		fprintf(stderr, "example: unreadable CA or certificate\n");
		return 1;
	}
	/* No real-time clock: the newest time seen is the floor. */
	floor = info.not_before;
	if (crl_f != NULL) {
		rl = pem_der(crl_f, crl, sizeof crl);
		if (rl <= 0 || (err = hostca_crl_check(crl, (size_t)rl, ca, (size_t)al,
			num, &numlen, &tu, &nu)) < 0) {
			fprintf(stderr, "example: CRL: %s\n", rl <= 0 ? "unreadable"
				: hostca_strerror(err));
			return 1;
		}
		if (tu > floor)
			floor = tu;
	}
	err = hostca_response_check(cert, (size_t)cl, ca, (size_t)al, &key, hostid, 0,
		(int64_t)now, floor);
	if (err < 0) {
		fprintf(stderr, "example: response: %s\n", hostca_strerror(err));
		return 1;
	}
	if (crl_f != NULL) {
		err = hostca_cert_verify(cert, (size_t)cl, ca, (size_t)al, crl, (size_t)rl,
			now > floor ? now : floor, &reason);
		if (err < 0) {
			fprintf(stderr, "example: certificate: %s\n", hostca_strerror(err));
			return 1;
		}
	}
	hostca_key_wipe(&key);
	printf("installed: host %s, %zu name(s), valid until %lld\n", hostid,
		info.nnames, (long long)info.not_after);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "request") == 0)
		return do_request(argv[2], argc - 3, argv + 3);
	if (argc >= 5 && strcmp(argv[1], "install") == 0) {
		long long now = (long long)time(NULL);
		const char *crl = NULL;
		int i, pool = 0, r;
		for (i = 5; i < argc; i++) {
			if (strcmp(argv[i], "--now") == 0 && i + 1 < argc)
				now = atoll(argv[++i]);
			else if (strcmp(argv[i], "--pool") == 0)
				pool = 1;
			else
				crl = argv[i];
		}
		if (pool)
			hostca_set_allocator(pool_alloc, pool_free);
		r = do_install(argv[2], argv[3], argv[4], crl, now);
		if (pool) {
			printf("static pool: peak %zu bytes, %zu blocks still live\n",
				arena_peak, arena_live);
			if (arena_live != 0)
				r = 1;
		}
		return r;
	}
	fprintf(stderr, "usage: example request DIR [NAME...]\n"
		"       example install DIR CA.pem CERT.pem [CRL.pem] [--now T] [--pool]\n");
	return 2;
}
