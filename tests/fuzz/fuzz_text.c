/* Short texts from operators and records, split on NUL: tokens,
 * durations, times, hex fingerprints and serials, names, UUIDs. */
#include "fixture.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *s, tok[TOKEN_LETTERS + 1];
	unsigned char out[32];
	hostname h[HOSTCA_MAX_NAMES];
	int64_t t;
	size_t n;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	for (s = buf; s <= buf + size; s += strlen(s) + 1) {
		token_normalize(s, tok);
		duration_parse(s, &t);
		time_parse(s, &t);
		hex_decode(out, sizeof out, s);
		serial_parse(s, out, &n);
		hostname_parse(&h[0], s);
		names_parse(s, h, &n);
		hostca_uuid_check(s);
		reason_parse(s);
	}
	free(buf);
	return 0;
}
