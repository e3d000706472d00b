/*
 * Shared by the fuzz harnesses: hostca.c itself (its static functions are
 * what we fuzz) and a fixed CA certificate ("Fuzz CA", ec-p256, made once
 * with `hostca ca init`; the seeds' certificates and CRLs chain to it).
 */
#define main hostca_cli_main
#include "../../hostca.c"
#undef main

#include <stddef.h>
#include <stdint.h>

#define FUZZ_NOW 1800000000           /* 2027-01-15, inside the seeds' validity */

static const char fuzz_ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBiDCCAS6gAwIBAgIQCXT9mnkUOQOFZmebFfmowTAKBggqhkjOPQQDAjASMRAw\n"
	"DgYDVQQDDAdGdXp6IENBMB4XDTI2MTEyNzExMDQ1OVoXDTQ2MTEyMjEyMDQ1OVow\n"
	"EjEQMA4GA1UEAwwHRnV6eiBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABI0V\n"
	"Ns7MqfiU1Yo2Olk0BkBy5sKEg9PVlw62u9vIx/yt3tGITyRnYhQiQyw3y6X2G+7t\n"
	"uomXQbTWGjNixLWhTMWjZjBkMBIGA1UdEwEB/wQIMAYBAf8CAQAwDgYDVR0PAQH/\n"
	"BAQDAgEGMB0GA1UdDgQWBBSc2MrR/8GPCAvz9hHKitnjHvsgNzAfBgNVHSMEGDAW\n"
	"gBSc2MrR/8GPCAvz9hHKitnjHvsgNzAKBggqhkjOPQQDAgNIADBFAiEA14z+S9v0\n"
	"L7FDmR/YZgyVLj2YPNuWGQuUOdTftpySxJACICZzmJTkvdF3LTLCv11m3abC+FjB\n"
	"qD1hfbmEJ/GaLtw8\n"
	"-----END CERTIFICATE-----\n";

/* The fixed CA, decoded once (points into a static buffer). */
static const x509_info *
fuzz_ca(void)
{
	static unsigned char der[1024];
	static x509_info ca;
	static int done;
	char why[WHY_CAP];
	long n;

	if (!done) {
		n = hostca_pem_decode(fuzz_ca_pem, sizeof fuzz_ca_pem - 1, 0,
			NULL, der, sizeof der);
		if (n <= 0 || cert_decode(&ca, der, (size_t)n, why) < 0 || !ca.is_ca)
			abort();
		done = 1;
	}
	return &ca;
}
