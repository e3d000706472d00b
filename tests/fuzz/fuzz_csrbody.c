/*
 * csr_decode past the signature: csr_decode checks the signature before it
 * reads the subject, attributes and extensions, so mutated requests never
 * get there. Here the input is a CertificationRequestInfo; the harness puts
 * a fixed key's SPKI in its third place, signs it with that key and hands
 * the signed request to csr_decode.
 */
#include "fixture.h"

typedef struct {
	const unsigned char *head, *rest;   /* before / after the SPKI */
	size_t head_len, rest_len;
	const pubkey *pk;
} cri_parts;

static void
enc_cri(derw *w, const void *ctx)
{
	const cri_parts *c = ctx;

	dw_open(w, 0x30);
	dw_put(w, c->head, c->head_len);
	if (c->pk != NULL)
		dw_spki(w, c->pk);
	dw_put(w, c->rest, c->rest_len);
	dw_close(w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static hostca_key key;
	static pubkey pk;
	static int ready;
	cri_parts p;
	derr r, s;
	derel ver, subj, spki;
	unsigned char *der;
	size_t n;
	csr_info *c;
	char why[WHY_CAP];

	if (!ready) {
		if (hostca_key_generate(&key, HOSTCA_KEY_EC_P256, "fuzz", 4) < 0)
			abort();
		key_pubkey(&key, &pk);
		ready = 1;
	}
	/* SEQUENCE { version, subject, spki, rest... }: swap the SPKI;
	 * anything else is signed as the content of the SEQUENCE. */
	memset(&p, 0, sizeof p);
	dr_init(&r, data, size);
	dr_enter(&r, 0x30, &s);
	dr_end(&r);
	dr_get(&s, &ver);
	dr_get(&s, &subj);
	dr_get(&s, &spki);
	if (!r.err && !s.err) {
		p.head = ver.raw;
		p.head_len = ver.raw_len + subj.raw_len;
		p.rest = s.p;
		p.rest_len = s.len;
		p.pk = &pk;
	} else {
		p.head = data;
		p.head_len = size;
	}
	if ((der = sign_object(enc_cri, &p, &key, &n)) == NULL)
		return 0;
	if ((c = malloc(sizeof *c)) != NULL) {
		csr_decode(c, der, n, why);
		free(c);
	}
	free(der);
	return 0;
}
