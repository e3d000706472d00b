#!/usr/bin/python3
"""peer.py: python-cryptography judges what hostca writes (SPEC section 4).

Usage (exit 0 when every check holds, 1 with a message on stdout otherwise,
2 on a usage error):

  peer.py cert CERT --ca CA [--crl CRL] [--hostid UUID] [--dns NAME]...
                    [--ip ADDR]... [--key KEYFILE]
      a host certificate: v3, strict DER, positive serial of >= 64 bits,
      subject CN = host ID (a UUID), SAN with urn:uuid:<hostid> and the
      names, basicConstraints CA:FALSE critical, keyUsage critical,
      EKU serverAuth+clientAuth, SKI, AKI == CA SKI, issuer == CA subject,
      signature by the CA key with the hash the SPEC names for its key
      type; with --crl: not listed; with --key: the key matches.
  peer.py ca CA [--name NAME]
      a CA certificate: v3, self-signed, CA:TRUE pathlen 0 critical,
      keyCertSign+cRLSign critical, SKI.
  peer.py crl CRL --ca CA [--revoked SERIAL[:REASON]]... [--not-revoked SERIAL]...
                  [--count N] [--number-above N]
      a CRL: v2, strict DER, CRL number, AKI == CA SKI, thisUpdate <
      nextUpdate, a reason on every entry but unspecified ones (absent, as
      RFC 5280 says), signature by the CA key.
  peer.py csr CSR [--hostid UUID]
      a PKCS#10 request: signature valid (and the host ID in CN or SAN).
  peer.py get FILE FIELD
      print one field: for a certificate serial|hostid|cn|notbefore|notafter
      |fingerprint; for a CRL number|count; for a JSON file a key path a.b.c
  peer.py json FILE KEY...
      FILE holds a JSON object with every KEY (a.b: key b of the object
      under key a).
  peer.py mangle MODE IN OUT [TEXT]
      write a damaged copy of the first PEM block of IN (tests of hostile
      input): sig (flip a bit of the signature), body (change one character
      of TEXT inside the signed part), ber (non-minimal outer length, the
      signature still valid), trailing (bytes after the DER), truncate
      (first half of the DER), pemcut (PEM cut off halfway, no END line).
"""

import datetime
import json
import re
import sys
import uuid

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

REASONS = {
    "unspecified": 0, "keycompromise": 1, "cacompromise": 2,
    "affiliationchanged": 3, "superseded": 4, "cessationofoperation": 5,
    "certificatehold": 6, "removefromcrl": 8, "privilegewithdrawn": 9,
    "aacompromise": 10,
}
FLAG_TO_CODE = {
    x509.ReasonFlags.unspecified: 0, x509.ReasonFlags.key_compromise: 1,
    x509.ReasonFlags.ca_compromise: 2, x509.ReasonFlags.affiliation_changed: 3,
    x509.ReasonFlags.superseded: 4, x509.ReasonFlags.cessation_of_operation: 5,
    x509.ReasonFlags.certificate_hold: 6, x509.ReasonFlags.remove_from_crl: 8,
    x509.ReasonFlags.privilege_withdrawn: 9, x509.ReasonFlags.aa_compromise: 10,
}


class Bad(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Bad(msg)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def first_pem(data, label):
    """DER of the first PEM block with this label (a file may hold more)."""
    m = re.search(rb"-----BEGIN " + label + rb"-----(.*?)-----END " + label + rb"-----",
                  data, re.S)
    need(m is not None, "no PEM block %s" % label.decode())
    import base64
    return base64.b64decode(b"".join(m.group(1).split()), validate=True)


def der_tlv(buf, off):
    """(tag, content_start, content_end) of the DER element at off; strict lengths."""
    need(off + 2 <= len(buf), "DER: truncated")
    tag = buf[off]
    ln = buf[off + 1]
    off += 2
    if ln & 0x80:
        n = ln & 0x7F
        need(1 <= n <= 4 and off + n <= len(buf), "DER: bad length")
        need(buf[off] != 0, "DER: non-minimal length")
        ln = int.from_bytes(buf[off:off + n], "big")
        need(ln >= 0x80, "DER: non-minimal length")
        off += n
    need(off + ln <= len(buf), "DER: truncated content")
    return tag, off, off + ln


def hash_for_key(pub):
    """The signature hash the SPEC names for a CA key type."""
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return {"secp256r1": hashes.SHA256, "secp384r1": hashes.SHA384,
                "secp521r1": hashes.SHA512}[pub.curve.name]
    if isinstance(pub, rsa.RSAPublicKey):
        need(2048 <= pub.key_size <= 4096, "RSA key size %d" % pub.key_size)
        return hashes.SHA256
    raise Bad("unsupported CA key type %s" % type(pub).__name__)


def verify_sig(pub, sig, data, hash_alg):
    try:
        if isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(sig, data, ec.ECDSA(hash_alg))
        elif isinstance(pub, rsa.RSAPublicKey):
            pub.verify(sig, data, padding.PKCS1v15(), hash_alg)
        else:
            raise Bad("cannot verify with %s" % type(pub).__name__)
    except InvalidSignature:
        raise Bad("signature does not verify with the CA key")


def ext(obj, cls, critical=None):
    try:
        e = obj.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        raise Bad("missing extension %s" % cls.__name__)
    if critical is not None:
        need(e.critical == critical, "%s critical=%s, want %s" % (cls.__name__, e.critical, critical))
    return e.value


def load_cert(path):
    data = read(path)
    der = first_pem(data, b"CERTIFICATE")
    cert = x509.load_der_x509_certificate(der)
    need(cert.public_bytes(serialization.Encoding.DER) == der, "%s: not strict DER" % path)
    return cert, der


def cn_of(name):
    v = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return v[0].value if v else None


def check_ca(path, name=None):
    ca, _ = load_cert(path)
    need(ca.version == x509.Version.v3, "CA cert is not v3")
    need(ca.issuer == ca.subject, "CA cert is not self-issued")
    hash_alg = hash_for_key(ca.public_key())
    need(isinstance(ca.signature_hash_algorithm, hash_alg),
         "CA cert signed with %s, want %s" % (ca.signature_hash_algorithm.name, hash_alg.name))
    verify_sig(ca.public_key(), ca.signature, ca.tbs_certificate_bytes, ca.signature_hash_algorithm)
    bc = ext(ca, x509.BasicConstraints, critical=True)
    need(bc.ca, "CA cert basicConstraints CA:FALSE")
    need(bc.path_length == 0, "CA cert pathlen %r, want 0" % bc.path_length)
    ku = ext(ca, x509.KeyUsage, critical=True)
    need(ku.key_cert_sign and ku.crl_sign, "CA keyUsage lacks keyCertSign/cRLSign")
    ski = ext(ca, x509.SubjectKeyIdentifier)
    need(len(ski.digest) > 0, "CA SKI empty")
    need(ca.serial_number > 0, "CA serial not positive")
    need(ca.not_valid_before < ca.not_valid_after, "CA validity inverted")
    if name is not None:
        need(cn_of(ca.subject) == name, "CA CN %r, want %r" % (cn_of(ca.subject), name))
    return ca


def load_crl(path):
    data = read(path)
    der = first_pem(data, b"X509 CRL")
    crl = x509.load_der_x509_crl(der)
    need(crl.public_bytes(serialization.Encoding.DER) == der, "%s: not strict DER" % path)
    # version: TBSCertList ::= SEQUENCE { version INTEGER OPTIONAL (v2 = 1), ... }
    _, s, e = der_tlv(der, 0)
    need(e == len(der), "CRL: trailing bytes")
    _, ts, _ = der_tlv(der, s)
    tag, vs, ve = der_tlv(der, ts)
    need(tag == 0x02 and der[vs:ve] == b"\x01", "CRL is not v2")
    return crl


def parse_serial(s):
    return int(s.replace(":", ""), 16)


def crl_entries(crl):
    return {r.serial_number: r for r in crl}


def entry_reason(r):
    try:
        return FLAG_TO_CODE[r.extensions.get_extension_for_class(x509.CRLReason).value.reason]
    except x509.ExtensionNotFound:
        return None


def check_crl(path, ca_path, revoked=(), not_revoked=(), count=None, number_above=None):
    ca = check_ca(ca_path)
    crl = load_crl(path)
    need(crl.issuer == ca.subject, "CRL issuer is not the CA subject")
    need(crl.is_signature_valid(ca.public_key()), "CRL signature does not verify with the CA key")
    hash_alg = hash_for_key(ca.public_key())
    need(isinstance(crl.signature_hash_algorithm, hash_alg), "CRL hash %s, want %s"
         % (crl.signature_hash_algorithm.name, hash_alg.name))
    num = ext(crl, x509.CRLNumber).crl_number
    need(num >= 0, "negative CRL number")
    aki = ext(crl, x509.AuthorityKeyIdentifier)
    ca_ski = ext(ca, x509.SubjectKeyIdentifier).digest
    need(aki.key_identifier == ca_ski, "CRL AKI != CA SKI")
    need(crl.next_update is not None, "CRL has no nextUpdate")
    need(crl.last_update < crl.next_update, "CRL thisUpdate >= nextUpdate")
    entries = crl_entries(crl)
    for sn, r in entries.items():
        need(sn > 0, "CRL entry with non-positive serial")
        # RFC 5280 5.3.1: the reason unspecified (0) SHOULD be absent; any
        # other reason is written.
        need(entry_reason(r) != 0, "CRL entry %X carries reason unspecified (0);"
             " RFC 5280 says it SHOULD be absent" % sn)
    for spec in revoked:
        sn, _, reason = spec.partition(":")
        sn = parse_serial(sn)
        need(sn in entries, "serial %X not on the CRL" % sn)
        if reason:
            want = int(reason) if reason.isdigit() else REASONS[reason.lower()]
            got = entry_reason(entries[sn])
            if got is None:
                got = 0                # absent: unspecified
            need(got == want, "serial %X reason %s, want %s" % (sn, got, want))
    for s in not_revoked:
        need(parse_serial(s) not in entries, "serial %s is on the CRL" % s)
    if count is not None:
        need(len(entries) == int(count), "CRL has %d entries, want %s" % (len(entries), count))
    if number_above is not None:
        need(num > int(number_above), "CRL number %d not above %s" % (num, number_above))
    return crl


def check_cert(path, ca_path, crl_path=None, hostid=None, dns=(), ips=(), key=None):
    ca = check_ca(ca_path)
    cert, der = load_cert(path)
    need(cert.version == x509.Version.v3, "not v3")
    need(cert.serial_number > 0, "serial not positive")
    need(cert.serial_number.bit_length() >= 64,
         "serial has %d bits, want >= 64" % cert.serial_number.bit_length())
    need(cert.issuer == ca.subject, "issuer is not the CA subject")
    need(cert.not_valid_before < cert.not_valid_after, "validity inverted")
    cn = cn_of(cert.subject)
    need(cn is not None and UUID_RE.match(cn), "subject CN %r is not a UUID" % cn)
    need(len(cert.subject.rdns) == 1, "subject holds more than CN=<host ID>: %s" % cert.subject.rfc4514_string())
    if hostid is not None:
        need(cn.lower() == hostid.lower(), "CN %s, want host ID %s" % (cn, hostid))
    san = ext(cert, x509.SubjectAlternativeName)
    uris = [u.lower() for u in san.get_values_for_type(x509.UniformResourceIdentifier)]
    need(("urn:uuid:" + cn.lower()) in uris, "SAN lacks URI urn:uuid:%s (has %s)" % (cn, uris))
    have_dns = [d.lower() for d in san.get_values_for_type(x509.DNSName)]
    for d in dns:
        need(d.lower() in have_dns, "SAN lacks DNS:%s (has %s)" % (d, have_dns))
    have_ip = [str(i) for i in san.get_values_for_type(x509.IPAddress)]
    import ipaddress
    for i in ips:
        need(str(ipaddress.ip_address(i)) in have_ip, "SAN lacks IP:%s (has %s)" % (i, have_ip))
    bc = ext(cert, x509.BasicConstraints, critical=True)
    need(not bc.ca, "basicConstraints CA:TRUE on a host certificate")
    ku = ext(cert, x509.KeyUsage, critical=True)
    need(ku.digital_signature, "keyUsage lacks digitalSignature")
    need(not ku.key_cert_sign and not ku.crl_sign, "host keyUsage has keyCertSign/cRLSign")
    if isinstance(cert.public_key(), rsa.RSAPublicKey):
        need(ku.key_encipherment, "RSA host keyUsage lacks keyEncipherment")
    eku = ext(cert, x509.ExtendedKeyUsage)
    need(ExtendedKeyUsageOID.SERVER_AUTH in eku and ExtendedKeyUsageOID.CLIENT_AUTH in eku,
         "EKU lacks serverAuth/clientAuth")
    ski = ext(cert, x509.SubjectKeyIdentifier)
    need(len(ski.digest) > 0, "SKI empty")
    aki = ext(cert, x509.AuthorityKeyIdentifier)
    ca_ski = ext(ca, x509.SubjectKeyIdentifier).digest
    need(aki.key_identifier == ca_ski, "AKI %s != CA SKI %s" % (
        aki.key_identifier and aki.key_identifier.hex(), ca_ski.hex()))
    hash_alg = hash_for_key(ca.public_key())
    need(isinstance(cert.signature_hash_algorithm, hash_alg), "signed with %s, want %s"
         % (cert.signature_hash_algorithm.name, hash_alg.name))
    verify_sig(ca.public_key(), cert.signature, cert.tbs_certificate_bytes, cert.signature_hash_algorithm)
    if crl_path:
        crl = check_crl(crl_path, ca_path)
        need(cert.serial_number not in crl_entries(crl), "certificate is revoked on the CRL")
    if key:
        k = serialization.load_pem_private_key(read(key), password=None)
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        need(k.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki),
             "private key does not match the certificate")
    return cert


def check_csr(path, hostid=None):
    data = read(path)
    der = first_pem(data, b"CERTIFICATE REQUEST")
    csr = x509.load_der_x509_csr(der)
    need(csr.is_signature_valid, "CSR signature invalid")
    if hostid:
        ids = []
        cn = cn_of(csr.subject)
        if cn:
            ids.append(cn.lower())
        try:
            san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            ids += [u.lower()[9:] for u in san.get_values_for_type(x509.UniformResourceIdentifier)
                    if u.lower().startswith("urn:uuid:")]
        except x509.ExtensionNotFound:
            pass
        need(hostid.lower() in ids, "CSR does not carry host ID %s (has %s)" % (hostid, ids))
    return csr


def get_field(path, field):
    data = read(path)
    if data.lstrip().startswith(b"{") or data.lstrip().startswith(b"["):
        v = json.loads(data)
        for k in field.split("."):
            v = v[int(k)] if isinstance(v, list) else v[k]
        return v if isinstance(v, str) else json.dumps(v)
    if b"-----BEGIN X509 CRL-----" in data:
        crl = load_crl(path)
        if field == "number":
            return str(ext(crl, x509.CRLNumber).crl_number)
        if field == "count":
            return str(len(list(crl)))
        if field in ("thisupdate", "nextupdate"):
            t = crl.last_update if field == "thisupdate" else crl.next_update
            return str(int(t.replace(tzinfo=datetime.timezone.utc).timestamp()))
        raise Bad("unknown CRL field %s" % field)
    cert, der = load_cert(path)
    if field == "serial":
        return "%X" % cert.serial_number
    if field in ("hostid", "cn"):
        return cn_of(cert.subject)
    if field == "notbefore":
        return str(int(cert.not_valid_before.replace(tzinfo=datetime.timezone.utc).timestamp()))
    if field == "notafter":
        return str(int(cert.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp()))
    if field == "fingerprint":
        return cert.fingerprint(hashes.SHA256()).hex().upper()
    raise Bad("unknown certificate field %s" % field)


def pem_encode(label, der):
    import base64
    b = base64.b64encode(der).decode()
    return ("-----BEGIN %s-----\n%s\n-----END %s-----\n" % (
        label, "\n".join(b[i:i + 64] for i in range(0, len(b), 64)), label)).encode()


def mangle(mode, src, dst, text=None):
    data = read(src)
    m = re.search(rb"-----BEGIN ([A-Z0-9 ]+)-----", data)
    need(m is not None, "no PEM block in %s" % src)
    label = m.group(1)
    der = bytearray(first_pem(data, label))
    label = label.decode()
    if mode == "sig":
        der[-1] ^= 0x01
    elif mode == "body":
        i = der.find(text.encode())
        need(i >= 0, "%r not found in the DER" % text)
        c = der[i + len(text) - 1]
        der[i + len(text) - 1] = ord("0") if c != ord("0") else ord("1")
    elif mode == "ber":
        _, s, e = der_tlv(bytes(der), 0)
        n = e - s
        der = bytearray([der[0], 0x84]) + n.to_bytes(4, "big") + der[s:e]
    elif mode == "trailing":
        der += b"\x00\x00"
    elif mode == "truncate":
        der = der[:len(der) // 2]
    elif mode == "pemcut":
        pem = pem_encode(label, bytes(der)).split(b"\n")
        with open(dst, "wb") as f:
            f.write(b"\n".join(pem[:len(pem) // 2]) + b"\n")
        return
    else:
        raise Bad("unknown mangle mode %s" % mode)
    with open(dst, "wb") as f:
        f.write(pem_encode(label, bytes(der)))


def opts(args, multi=(), single=()):
    """Tiny option parser: returns (positionals, dict)."""
    pos, d = [], {k: [] for k in multi}
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            k = a[2:]
            if k not in multi and k not in single:
                raise SystemExit("peer.py: unknown option %s" % a)
            need(i + 1 < len(args), "option %s needs a value" % a)
            if k in multi:
                d[k].append(args[i + 1])
            else:
                d[k] = args[i + 1]
            i += 2
        else:
            pos.append(a)
            i += 1
    return pos, d


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd, rest = argv[1], argv[2:]
    try:
        if cmd == "cert":
            pos, d = opts(rest, multi=("dns", "ip"), single=("ca", "crl", "hostid", "key"))
            need(len(pos) == 1 and "ca" in d, "usage: cert CERT --ca CA")
            check_cert(pos[0], d["ca"], d.get("crl"), d.get("hostid"), d["dns"], d["ip"], d.get("key"))
        elif cmd == "ca":
            pos, d = opts(rest, single=("name",))
            need(len(pos) == 1, "usage: ca CA")
            check_ca(pos[0], d.get("name"))
        elif cmd == "crl":
            pos, d = opts(rest, multi=("revoked", "not-revoked"), single=("ca", "count", "number-above"))
            need(len(pos) == 1 and "ca" in d, "usage: crl CRL --ca CA")
            check_crl(pos[0], d["ca"], d["revoked"], d["not-revoked"], d.get("count"), d.get("number-above"))
        elif cmd == "csr":
            pos, d = opts(rest, single=("hostid",))
            need(len(pos) == 1, "usage: csr CSR")
            check_csr(pos[0], d.get("hostid"))
        elif cmd == "get":
            need(len(rest) == 2, "usage: get FILE FIELD")
            print(get_field(rest[0], rest[1]))
        elif cmd == "json":
            need(len(rest) >= 1, "usage: json FILE KEY...")
            obj = json.loads(read(rest[0]))
            need(isinstance(obj, dict), "JSON is not an object")
            missing = []
            for k in rest[1:]:
                # a.b: key b of the object under key a
                v = obj
                for part in k.split("."):
                    if not isinstance(v, dict) or part not in v:
                        missing.append(k)
                        break
                    v = v[part]
            need(not missing, "JSON lacks keys %s" % missing)
        elif cmd == "mangle":
            need(len(rest) in (3, 4), "usage: mangle MODE IN OUT [TEXT]")
            mangle(*rest)
        elif cmd == "uuid":
            need(len(rest) == 1 and UUID_RE.match(rest[0]) and uuid.UUID(rest[0]).version == 4,
                 "not a UUID v4: %r" % rest)
        else:
            print(__doc__)
            return 2
    except Bad as e:
        print("peer.py: %s" % e, file=sys.stderr)
        return 1
    except (ValueError, KeyError, IndexError, OSError, TypeError) as e:
        print("peer.py: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
