/* What host update reads off a stick during a CA key rollover: the links
 * (link-KEYID.pem) and the next CAs' certificates (ca-KEYID.pem) that
 * host_follow_links walks from the pinned CA, and the CRLs that
 * crl_newer checks against them. The input is split at "\n--\n" into the
 * pinned CA certificate, a link, and the next CA's certificate (any of
 * them PEM or DER), written to a scratch stick named as hosts look them
 * up; the third part goes to crl_newer as well. */
#include "fixture.h"

#include <unistd.h>

static const unsigned char *
part(const uint8_t *d, size_t n, size_t *off, size_t *len)
{
	size_t i, s = *off;

	if (s > n)
		return NULL;
	for (i = s; i + 4 <= n; i++)
		if (memcmp(d + i, "\n--\n", 4) == 0)
			break;
	if (i + 4 > n)
		i = n;
	*len = i - s;
	*off = i + 4;
	return d + s;
}

/* DER from a part: PEM decoded when it is PEM. */
static unsigned char *
der_of(const unsigned char *p, size_t n, size_t *dl)
{
	unsigned char *d = malloc(n + 1);
	long k;

	if (d == NULL)
		return NULL;
	k = hostca_pem_decode(p, n, 0, NULL, d, n + 1);
	if (k > 0) {
		*dl = (size_t)k;
	} else {
		memcpy(d, p, n);
		*dl = n;
	}
	return d;
}

static void
put(const char *dir, const char *name, const unsigned char *p, size_t n)
{
	char path[PATH_MAX];
	FILE *f;

	path_join(path, sizeof path, dir, name);
	if ((f = fopen(path, "wb")) != NULL) {
		fwrite(p, 1, n, f);
		fclose(f);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64];
	struct media_ca m[HOST_MAX_XCA];
	const unsigned char *p[3];
	size_t l[3] = { 0, 0, 0 }, off = 0, i, links = 0, pl = 0, ll = 0;
	unsigned char *pin, *lk;
	char kid[17], name[64], why[WHY_CAP];
	int n;

	g.quiet = 1;
	msg_mute = 1;
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/tmp/fuzz-link.%ld", (long)getpid());
		mkdir(dir, 0700);
	}
	for (i = 0; i < 3; i++)
		p[i] = part(data, size, &off, &l[i]);
	if (p[0] == NULL || (pin = der_of(p[0], l[0], &pl)) == NULL)
		return 0;
	/* the stick: the link under the pin's key ID, the next CA under the
	 * link's (when they parse); stale files from the last input go */
	{
		DIR *dd = opendir(dir);
		struct dirent *de;
		char path[PATH_MAX];
		while (dd != NULL && (de = readdir(dd)) != NULL)
			if (de->d_name[0] != '.')
				unlink(path_join(path, sizeof path, dir, de->d_name));
		if (dd != NULL)
			closedir(dd);
	}
	ca_keyid_of(kid, pin, pl);
	if (kid[0] && p[1] != NULL) {
		snprintf(name, sizeof name, "link-%s.pem", kid);
		put(dir, name, p[1], l[1]);
		if ((lk = der_of(p[1], l[1], &ll)) != NULL) {
			char k2[17];
			ca_keyid_of(k2, lk, ll);
			if (k2[0] && p[2] != NULL) {
				snprintf(name, sizeof name, "ca-%s.pem", k2);
				put(dir, name, p[2], l[2]);
			}
			free(lk);
		}
	}
	n = host_follow_links(dir, pin, pl, m, &links);
	if (n > HOST_MAX_XCA || (n > 0 && links == 0))
		abort();
	for (i = 0; n > 0 && i < (size_t)n; i++) {
		if (strlen(m[i].kid) != 16 || m[i].len == 0)
			abort();
		free(m[i].der);
	}
	if (p[2] != NULL && l[2] > 0)
		(void)crl_newer(pin, pl, NULL, 0, p[2], l[2], why);
	free(pin);
	return 0;
}
