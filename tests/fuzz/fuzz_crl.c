/* CRLs: the decoder, a serial lookup, the signature against a fixed CA. */
#include "fixture.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A serial the seeds revoke (with a reason), and one they do not. */
	static const unsigned char listed[] = { 0x47, 0x7e, 0xfa, 0x6b, 0xe9,
		0x5d, 0xda, 0x0c, 0xd1, 0x97, 0xd2, 0x47, 0x61, 0x16, 0x1e, 0xea };
	static const unsigned char other[] = { 0x01 };
	const x509_info *ca = fuzz_ca();
	crl_info crl;
	char why[WHY_CAP];
	int reason;
	int64_t when;

	if (crl_decode(&crl, data, size, why) < 0)
		return 0;
	crl_find(&crl, listed, sizeof listed, &reason, &when);
	crl_find(&crl, other, sizeof other, &reason, &when);
	crl_verify_sig(&crl, ca, why);
	return 0;
}
