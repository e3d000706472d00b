/*
 * ca_journal_load on a journal file made from the input: every complete
 * line gets a correct chain hash (replacing any " h=" it had), so the
 * fuzzer reaches the fold and the recovery logic; an unterminated last
 * line stays as it is (a torn write).
 */
#include "fixture.h"

static char dir[64];

static void
cleanup(void)
{
	char path[PATH_MAX];

	unlink(path_join(path, sizeof path, dir, "journal"));
	rmdir(dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[PATH_MAX], *out;
	unsigned char prev[32];
	size_t pos = 0, o = 0;
	ca_ctx ca;

	if (dir[0] == 0) {
		snprintf(dir, sizeof dir, "/dev/shm/hostca-fuzz-%ld", (long)getpid());
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			snprintf(dir, sizeof dir, "/tmp/hostca-fuzz-%ld", (long)getpid()),
			mkdir(dir, 0700);
		g.quiet = 1;
		atexit(cleanup);
	}
	if (size > 1 << 16 || (out = malloc(size * 68 + 68)) == NULL)
		return 0;
	memset(prev, 0, 32);
	while (pos < size) {
		const char *line = (const char *)data + pos;
		const char *nl = memchr(line, '\n', size - pos);
		size_t len, body;

		if (nl == NULL) {                  /* torn last line: as is */
			memcpy(out + o, line, size - pos);
			o += size - pos;
			break;
		}
		len = body = (size_t)(nl - line);
		if (len > 67 && memcmp(line + len - 67, " h=", 3) == 0)
			body = len - 67;
		memcpy(out + o, line, body);
		chain_hash(prev, out + o, body, prev);
		o += body;
		memcpy(out + o, " h=", 3);
		hex_encode(out + o + 3, prev, 32, 0, 0);
		o += 67;
		out[o++] = '\n';
		pos += len + 1;
	}
	path_join(path, sizeof path, dir, "journal");
	if (atomic_write(path, out, o, 0600) == 0) {
		memset(&ca, 0, sizeof ca);
		ca.lock_fd = ca.dir_fd = -1;
		ca.dir = dir;
		ca_journal_load(&ca, 0);
		ca_free(&ca);
	}
	free(out);
	return 0;
}
