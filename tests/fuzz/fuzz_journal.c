/*
 * The fold of the journal: each line parsed and applied to an in-memory
 * CA state, as ca_journal_load does (the hash chain is not checked here:
 * a fuzzer cannot forge SHA-256, and what follows the check is the point).
 * Twice: as loaded from disk (cert= kept as base64) and as added in a run.
 */
#include "fixture.h"

/* ca_apply gained a source and a line offset (SRC_JOURNAL: as loaded). */
#ifdef SRC_JOURNAL
#define APPLY(ca, l, line, persistent, off) \
	ca_apply(ca, l, line, (persistent) ? SRC_JOURNAL : SRC_NEW, off)
#else
#define APPLY(ca, l, line, persistent, off) ca_apply(ca, l, line, persistent)
#endif

static void
fold(const uint8_t *data, size_t size, int persistent)
{
	ca_ctx *ca = calloc(1, sizeof *ca);
	char *buf = malloc(size + 1), *work = malloc(size + 1);
	size_t pos = 0, i, dl;

	if (ca == NULL || buf == NULL || work == NULL)
		goto done;
	ca->lock_fd = ca->dir_fd = -1;
	ca->dir = "/nonexistent";
	memcpy(buf, data, size);
	buf[size] = 0;
	while (pos < size) {
		char *line = buf + pos, *nl = memchr(line, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - line) : size - pos;
		jline l;

		line[len] = 0;
		memcpy(work, line, len + 1);
		if (jline_parse(&l, work) < 0 || l.seq != ca->seq + 1
			|| APPLY(ca, &l, line, persistent, pos) < 0)
			break;
		ca->seq = l.seq;
		pos += len + 1;
	}
	for (i = 0; i < ca->ncerts; i++)
		ca_cert_der(ca, i, &dl);
	for (i = 0; i < ca->ncerts; i++)
		ca_find_serial(ca, ca->certs[i].serial, ca->certs[i].serial_len);
	for (i = 0; i < ca->nhosts; i++)
		ca_find_host(ca, ca->hosts[i].hostid);
	ca_free(ca);
done:
	free(ca);
	free(buf);
	free(work);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fold(data, size, 1);
	fold(data, size, 0);
	return 0;
}
