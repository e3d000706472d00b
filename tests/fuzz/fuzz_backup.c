/* What ca restore reads off a stick: a backup file's header
 * (backup_header), a share file (share_parse), and -- past a MAC only the
 * key holder can make, so fuzzed directly -- the decrypted archive
 * (backup_unpack). The same input goes to all three. */
#include "fixture.h"

static int
count_put(void *ctx, int idx, const unsigned char *data, size_t n)
{
	size_t *total = ctx;

	if (idx < 0 || (size_t)idx >= sizeof ca_files / sizeof ca_files[0] - 1)
		abort();
	if (n > 0 && data[n - 1] == 0xff && data[0] == 0xfe)
		(*total)++;              /* touches both ends: in bounds or ASan says */
	*total += n;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	backup_hdr bh;
	char why[WHY_CAP], body[512], sid[17];
	unsigned char sh[32];
	int idx, k, n;
	size_t total = 0;

	if (backup_header(data, size, &bh, why) == 0 && bh.off + bh.clen != size)
		abort();
	free(bh.head);
	if (size < sizeof body && memchr(data, 0, size) == NULL) {
		memcpy(body, data, size);
		body[size] = 0;
		if (share_parse(body, sid, &idx, &k, &n, sh, why) == 0
			&& (idx < 1 || idx > 16 || strlen(sid) != 16))
			abort();
	}
	(void)backup_unpack(data, size, count_put, &total);
	return 0;
}
