#!/usr/bin/env python3
"""model.py: a model-based, seeded test of hostca's policy (issue 11, part 3).

A generator makes random sequences of operations over a few host
directories, a few names (DNS, IPv4, IPv6, IPv4-mapped IPv6), keys (the
hosts' own, old ones, stolen ones, fresh foreign ones) and tokens, and runs
them against the real program with a fixed clock (HOSTCA_NOW) and a seeded
RNG (HOSTCA_TEST_SEED). Before each request reaches the CA a small
independent model predicts the verdict (issue new / renew / reissue / hand
back / refuse); after each step the outcome and the artifacts are compared
with the model: the certificates (python-cryptography), crl.pem, `ca list
--json` and `token list --json` as a third view, and `openssl verify
-x509_strict -crl_check -attime NOW` as the judge. Then the model adopts
what really happened, so that each bug is reported where it first shows and
does not cascade into the other invariants.

The invariants are SPEC §3a / issue 11 (I1..I11), the policy table of SPEC
§3 and token accounting. One result line per invariant per run; the first
counterexample is in the FAIL message, followed by the last ops that led to
it and the seed to replay it with (MODEL_SEED).

Output on stdout, one line each: "ok<TAB>desc", "FAIL<TAB>desc<TAB>why",
"#comment" (tests/t_model.sh turns them into lib.sh's ok/fail lines).

    python3 tests/model.py --bin ./hostca-test --seed 42 --steps 1500 --work DIR

The model's rules, where the README leaves room, accept every reasonable
answer (a token given but not needed may or may not be spent; a re-encoded
copy is handed back or refused; an IPv4-mapped address is certified as IPv4
or refused). Contract details it relies on: one window per host (a new
`ca allow-reissue` replaces it; `--key SHA256` vouches for that key, and the
certificate then gets the window's host ID whatever host ID the request
carries); a token reaches the CA as a proof beside the CSR (`host request
--token`), typed at the CA (`ca sign --csr --token-file`, or the CSR's
challengePassword there), never in clear on the media: there a
challengePassword that is a token of the CA is refused, and one that is no
token is refused above medium and ignored at medium.

Every step runs `hostca-test` with HOSTCA_NOW and HOSTCA_TEST_SEED, and the
keys and nonces made here come from the seeded generator, so a seed (with
the same step count and binary) replays the same run.
"""

import argparse
import collections
import datetime
import hashlib
import ipaddress
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import traceback
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import AttributeOID, NameOID, ObjectIdentifier

DAY = 86400
RANDOM_NONCE = ObjectIdentifier("1.2.840.113549.1.9.25.3")
LEVELS = ("medium", "high", "very-high")
REASONS = ("unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
           "superseded", "cessationOfOperation", "certificateHold",
           "privilegeWithdrawn", "aACompromise")
REASON_NUM = {"unspecified": 0, "keyCompromise": 1, "cACompromise": 2,
              "affiliationChanged": 3, "superseded": 4, "cessationOfOperation": 5,
              "certificateHold": 6, "privilegeWithdrawn": 9, "aACompromise": 10}
DNS_POOL = ("alpha.example", "beta.example", "gamma.example", "delta.example",
            "epsilon.example", "zeta.example")
IP_POOL = ("10.0.0.1", "10.0.0.2", "198.51.100.7", "::ffff:198.51.100.7",
           "2001:db8::1", "2001:db8:0:0:0:0:0:1", "::ffff:10.0.0.2")
CURVE_N = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
                     "581A0DB248B0A77AECEC196ACCC52973", 16),
}
SAN_RE = re.compile(r"runtime error|AddressSanitizer|LeakSanitizer|"
                    r"UndefinedBehaviorSanitizer|MemorySanitizer")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Invariants, in the order they are reported, with their stable descriptions.
CHECKS = (
    ("I1", "I1 compromised keys stay dead"),
    ("I2", "I2 a revocation reason can be raised to keyCompromise"),
    ("I3", "I3 renewal is proven by the newest valid certificate"),
    ("I4", "I4 at most two valid certificates per host; revoke --host works"),
    ("I5", "I5 one holder per name"),
    ("I6", "I6 a reissue window vouches for a key"),
    ("I7", "I7 one reissue consumes every reissue authorization"),
    ("I8", "I8 an expired CA issues nothing"),
    ("I9", "I9 a request is its signed content (strict DER, no re-encoded copies)"),
    ("I10", "I10 ca sign --list decides as the run"),
    ("I11", "I11 CRLs keep revoked entries and are backdated"),
    ("I11h", "I11 hosts never step back to an older certificate"),
    ("policy", "policy table verdicts (SPEC 3)"),
    ("tokens", "token accounting"),
    ("views", "certificates, CRL and ca list agree"),
    ("openssl", "openssl verify -crl_check judges as the model"),
    ("hosts", "hosts install what the CA issues"),
    ("sanitizer", "no sanitizer report"),
)


def canon(name):
    """Canonical form of a name: DNS lower-case; IPv6 compressed; IPv4-mapped
    IPv6 is the IPv4 address."""
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return name.lower().rstrip(".")
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def is_mapped(name):
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    return ip.version == 6 and ip.ipv4_mapped is not None


def norm_reason(r):
    if r is None:
        return "unspecified"
    s = re.sub(r"[^a-z]", "", str(r).lower())
    for name in REASONS:
        if name.lower() == s:
            return name
    if s.isdigit() or re.fullmatch(r"\d+", str(r)):
        for name, n in REASON_NUM.items():
            if n == int(r):
                return name
    return str(r)


def norm_token(v):
    return re.sub(r"[^A-Z]", "", (v or "").upper())


def serial_hex(i):
    h = format(i, "X")
    return "0" + h if len(h) % 2 else h


def fingerprint_colon(der):
    return ":".join("%02X" % b for b in hashlib.sha256(der).digest())


def spki_fp(pub):
    return hashlib.sha256(pub.public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def pem_blocks(data, label):
    out = []
    for m in re.finditer(rb"-----BEGIN " + label.encode() + rb"-----(.*?)-----END "
                         + label.encode() + rb"-----", data, re.S):
        import base64
        out.append(base64.b64decode(b"".join(m.group(1).split())))
    return out


def to_pem(der, label):
    import base64
    b = base64.b64encode(der).decode()
    return ("-----BEGIN %s-----\n%s\n-----END %s-----\n" % (
        label, "\n".join(b[i:i + 64] for i in range(0, len(b), 64)), label)).encode()


def ts(obj, name):
    """A certificate's or CRL's time as Unix seconds (python-cryptography
    38, Debian 12's, has no *_utc accessors; newer ones deprecate the others)."""
    v = getattr(obj, name + "_utc", None) if hasattr(obj, name + "_utc") else getattr(obj, name)
    if v is None:
        return None
    if v.tzinfo is None:
        v = v.replace(tzinfo=datetime.timezone.utc)
    return int(v.timestamp())


def signed_by(obj, tbs, issuer):
    pub = issuer.public_key()
    try:
        if isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(obj.signature, tbs, ec.ECDSA(obj.signature_hash_algorithm))
        else:
            from cryptography.hazmat.primitives.asymmetric import padding
            pub.verify(obj.signature, tbs, padding.PKCS1v15(), obj.signature_hash_algorithm)
        return True
    except Exception:
        return False


def fmt_t(t, t0):
    d = t - t0
    return "t+%dd%02dh%02dm" % (d // DAY, d % DAY // 3600, d % 3600 // 60)


# ---- DER: just enough to re-encode a CSR's signature ----------------------

def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def der_tlv(tag, value):
    return bytes([tag]) + der_len(len(value)) + value


def der_read(b, i):
    """-> (tag, value_start, value_end) of the TLV at b[i]."""
    tag = b[i]
    n = b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, i, i + n


def der_int(v):
    b = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big")
    while len(b) > 1 and b[0] == 0 and b[1] < 0x80:
        b = b[1:]
    return der_tlv(0x02, b)


def reencode_csr(der, how, curve):
    """A copy of a CSR with the same CertificationRequestInfo and another
    encoding of its ECDSA signature: 'high-s' (s -> n - s, still strict DER
    and a valid signature), 'zero-r' (a needless leading zero in r),
    'long-len' (the signature SEQUENCE's length in long form)."""
    _, s0, e0 = der_read(der, 0)
    parts = []
    i = s0
    while i < e0:
        t, vs, ve = der_read(der, i)
        parts.append(der[i:ve])
        i = ve
    cri, alg, bits = parts
    _, bs, be = der_read(bits, 0)
    sig = bits[bs + 1:be]
    _, ss, se = der_read(sig, 0)
    _, rs, re_ = der_read(sig, ss)
    _, s_s, s_e = der_read(sig, re_)
    r = int.from_bytes(sig[rs:re_], "big")
    s = int.from_bytes(sig[s_s:s_e], "big")
    if how == "high-s":
        nsig = der_tlv(0x30, der_int(r) + der_int(CURVE_N[curve] - s))
    elif how == "zero-r":
        rb = sig[rs:re_]
        nsig = der_tlv(0x30, der_tlv(0x02, b"\x00" + rb) + der_int(s))
    else:
        body = der_int(r) + der_int(s)
        nsig = b"\x30\x81" + bytes([len(body)]) + body
    nbits = der_tlv(0x03, b"\x00" + nsig)
    return der_tlv(0x30, cri + alg + nbits)


# ---- model records ---------------------------------------------------------

def san_names(extensions):
    """The DNS and IP names of a subjectAltName, as text, and the host ID of
    its urn:uuid: URI (None when there is none)."""
    raw, host = [], None
    try:
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return raw, host
    for g in san:
        if isinstance(g, x509.DNSName):
            raw.append(g.value)
        elif isinstance(g, x509.IPAddress):
            raw.append(str(g.value))
        elif isinstance(g, x509.UniformResourceIdentifier) and g.value.startswith("urn:uuid:"):
            host = g.value[9:].lower()
    return raw, host


class Cert:
    def __init__(self, serial, host, keyfp, names, raw, nb, na, step, path):
        self.serial = serial          # int
        self.host = host
        self.keyfp = keyfp
        self.names = names            # frozenset of canonical names
        self.raw = raw                # names as written in the certificate
        self.nb = nb
        self.na = na
        self.step = step              # model step that issued it
        self.path = path
        self.kind = None
        self.prev = None              # serial it was renewed from
        self.revoked = False
        self.tainted = False
        self.reason = None
        self.rev_step = None
        self.exp_tag = None           # which check expects the revocation
        self.crl_after_na = False     # seen on a CRL produced after its notAfter
        self.hexs = serial_hex(serial)


class Tok:
    def __init__(self, name, value, kind, host, max_uses, expires):
        self.name = name
        self.value = norm_token(value)
        self.kind = kind
        self.host = host
        self.max_uses = max_uses
        self.uses = 0
        self.expires = expires
        self.deleted = False
        self.consumed = False         # a reissue of its host consumed it (I7)
        self.cleaned = False


class Window:
    def __init__(self, host, until, keys, level):
        self.host = host
        self.until = until
        self.keys = set(keys)
        self.level = level
        self.consumed = False


class Req:
    """One request as the CA will see it (parsed from the bytes that go to it)."""

    def __init__(self):
        self.der = None
        self.file_bytes = None        # what is written (PEM, maybe a text line first)
        self.cri = None
        self.keyfp = None
        self.curve = None
        self.keyok = True
        self.strict = True
        self.names = frozenset()
        self.raw = []
        self.mapped = False
        self.claim = None
        self.challenge = None
        self.token_arg = None         # --token-file for ca sign --csr
        self.proof_token = None       # host request --token: a proof beside the CSR
        self.via = "media"            # media | csr
        self.tokv = None              # the token as the CA sees it (eff_token)
        self.forced = None            # why the token alone refuses it
        self.exact = False            # byte-identical copy of an answered request
        self.copy_of = None
        self.origin = "?"
        self.slot = None
        self.fname = None
        self.for_host = None

    @property
    def token(self):
        return self.token_arg or self.challenge or self.proof_token


class Slot:
    """A host directory."""

    def __init__(self, idx, d):
        self.idx = idx
        self.dir = d
        self.archive = []             # (hostid, serial, nb, response path, crl path)

    def hostid(self):
        try:
            with open(os.path.join(self.dir, "hostid")) as f:
                return f.read().strip().lower()
        except OSError:
            return None

    def has_cert(self):
        return os.path.exists(os.path.join(self.dir, "host.pem"))


class Abort(Exception):
    pass


# ---- the test --------------------------------------------------------------

class Model:
    def __init__(self, args):
        self.bin = os.path.abspath(args.bin)
        self.seed = args.seed
        self.steps = args.steps
        self.burst = args.burst
        self.work = os.path.abspath(args.work)
        self.rng = random.Random("hostca-model/%s" % self.seed)
        self.t0 = 1700000000
        self.now = self.t0
        self.calls = 0
        self.stepno = 0
        self.episode = 0
        self.trail = collections.deque(maxlen=30)
        self.failed = {}
        self.hits = collections.Counter()
        self.variants = {}
        self.lenient = set()
        self.round_names = []
        self.round_token = None
        self.exercise = collections.Counter()
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("HOSTCA_")}
        self.ntok = 0
        self.nmedia = 0
        self.nfile = 0
        self.keys = {}                # fp -> private key (every key seen)
        self.key_host = {}            # fp -> host ID it was last certified for
        self.trace = open(args.trace, "w") if args.trace else None

    # -- reporting -----------------------------------------------------------

    def log(self, text):
        self.note("%5d %-9s %s %s" % (self.stepno, "[" + self.level + "]", fmt_t(self.now, self.t0), text))

    def note(self, line):
        self.trail.append(line)
        if self.trace:
            self.trace.write(line + "\n")

    def bad(self, tag, msg):
        self.hits[tag] += 1
        sig = re.sub(r"[0-9A-Fa-f]{6,}|\d+", "#", msg.split(":")[0] if ":" in msg[:60] else msg)[:60]
        v = self.variants.setdefault(tag, {})
        if sig not in v and len(v) < 6:
            v[sig] = (self.episode, self.stepno, msg)
        if tag not in self.failed:
            self.failed[tag] = (self.episode, self.stepno, msg, list(self.trail))
            self.note("      !! %s: %s" % (tag, msg[:300]))

    # -- running hostca -----------------------------------------------------

    def hc(self, *args, ca=None, host=None, json_out=False, at=None):
        """Runs the program; -> (rc, stdout, stderr)."""
        cmd = [self.bin]
        if ca:
            cmd += ["-C", ca]
        if host:
            cmd += ["-H", host]
        if json_out:
            cmd.append("--json")
        cmd += [str(a) for a in args]
        # paths relative to the episode's directory (the cwd): short messages
        pre = self.edir + os.sep
        cmd = [cmd[0]] + [x[len(pre):] if x.startswith(pre) else x for x in cmd[1:]]
        self.calls += 1
        env = dict(self.env)
        env["HOSTCA_NOW"] = str(self.now if at is None else at)
        env["HOSTCA_TEST_SEED"] = "model/%s/%d/%d" % (self.seed, self.episode, self.calls)
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, cwd=self.edir)
        err = p.stderr.decode("utf-8", "replace")
        if SAN_RE.search(err) or p.returncode in (86, 87):
            sys.stderr.write("model: sanitizer report from %s:\n%s\n" % (" ".join(cmd), err))
            self.bad("sanitizer", "hostca %s: %s" % (" ".join(cmd[1:])[:200],
                                                      (SAN_RE.search(err) or [""])[0]))
        if p.returncode not in (0, 1, 2):
            self.bad("sanitizer" if p.returncode in (86, 87) else "views",
                     "hostca %s exited %d: %s" % (" ".join(cmd[1:])[:160], p.returncode,
                                                  err.strip()[-200:]))
        return p.returncode, p.stdout.decode("utf-8", "replace"), err

    def ca(self, *args, json_out=False):
        return self.hc(*args, ca=self.cadir, json_out=json_out)

    def first_err(self, err):
        for line in err.splitlines():
            if line.strip() and "warning:" not in line:
                return line.strip()[:200]
        return ""

    # -- small model queries ------------------------------------------------

    def valid(self, c, t=None):
        t = self.now if t is None else t
        return not c.revoked and c.nb <= t <= c.na

    def newest(self, h):
        s = self.hosts.get(h)
        return self.certs[s[-1]] if s else None

    def ca_expired(self):
        return self.now >= self.ca_na

    def tok_state(self, value):
        if not value:
            return None, "none"
        t = self.tok_by_value.get(norm_token(value))
        if t is None:
            return None, "unknown"
        if t.deleted or t.cleaned:
            return t, "deleted"
        if self.now >= t.expires:
            return t, "expired"
        if t.uses >= t.max_uses:
            return t, "used-up"
        if t.consumed:
            return t, "consumed"
        return t, "valid"

    def window_open(self, w):
        return not w.consumed and self.now < w.until

    def window_usable(self, w):
        return self.window_open(w) and w.level != "very-high" and self.level != "very-high"

    def window_vouches(self, h, keyfp):
        nw = self.newest(h)
        for w in self.windows.get(h, ()):
            if self.window_usable(w) and (keyfp in w.keys or (nw and nw.keyfp == keyfp)):
                return w
        return None

    def window_for_key(self, keyfp):
        for h, ws in self.windows.items():
            for w in ws:
                if self.window_usable(w) and keyfp in w.keys:
                    return h
        return None

    def renewal_ok(self, h, r):
        nw = self.newest(h)
        return nw is not None and self.valid(nw) and nw.keyfp == r.keyfp and nw.names == r.names

    def holders(self, name, t=None):
        out = set()
        for c in self.certs.values():
            if name in c.names and self.valid(c, t):
                out.add(c.host)
        return out

    # -- the decision model --------------------------------------------------

    def eff_token(self, r):
        """-> (token text the CA uses or None, refusal reason or None).
        Tokens never ride the stick in clear (SPEC 3a, "Tokens"): a host's
        request carries a proof bound to it; on the media a challengePassword
        that is a token of this CA is refused, and one that is no token is
        refused above medium and ignored at medium. At the CA (--csr) the
        challengePassword is a token typed there, and must agree with
        --token-file."""
        if r.via == "media":
            if r.challenge is not None:
                t = self.tok_by_value.get(norm_token(r.challenge))
                if t is not None and not t.cleaned:
                    return None, "the request carries token %s in clear on the media" % t.name
                if self.level != "medium":
                    return None, "a challengePassword on the media that is no token"
            return r.proof_token, None
        if r.challenge is not None and r.token_arg is not None and \
                norm_token(r.challenge) != norm_token(r.token_arg):
            return None, "challengePassword and --token-file differ"
        return r.token_arg or r.challenge, None

    def decide(self, r):
        r.tokv, r.forced = self.eff_token(r)
        outs, tag, why = self.decide1(r)
        if all(o[0] == "refuse" for o in outs) and self.tok_state(r.tokv)[1] == "consumed" and tag != "I7":
            # a reissue token its host's earlier reissue consumed: whatever
            # else is wrong, a certificate for it breaks I7 first
            t = self.tok_by_value[norm_token(r.tokv)]
            return outs, "I7", "%s; its reissue token %s was consumed by an earlier reissue of %s" % (
                why, t.name, t.host[:8])
        return outs, tag, why

    def decide1(self, r):
        """-> (outcomes, tag, why). Each outcome: (verdict, host, token name or
        None, serial) with verdict refuse | again | new | renewal | reissue;
        host None = a host ID the CA assigns. tag: the check that a verdict
        outside the outcomes breaks."""
        REFUSE = ("refuse", None, None, None)
        if r.cri in self.answered:
            ss = self.answered[r.cri]
            c = self.certs[ss[0]]
            outs = [("again", self.certs[s].host, None, s) for s in ss]
            if not r.exact or self.ca_expired() or not self.valid(c):
                outs.append(REFUSE)
            return outs, "I9", ("byte copy" if r.exact else "re-encoded copy") + \
                " of the request answered with %s" % c.hexs
        if not r.keyok:
            return [REFUSE], "policy", "unsupported key type"
        if not r.strict:
            return [REFUSE], "I9", "ECDSA signature not in strict DER"
        if self.ca_expired():
            return [REFUSE], "I8", "the CA certificate expired at %s" % fmt_t(self.ca_na, self.t0)
        if r.keyfp in self.compromised:
            return [REFUSE], "I1", "key %s.. was revoked as keyCompromise" % r.keyfp[:12]
        if r.forced:
            return [REFUSE], "tokens", r.forced
        tok, ts = self.tok_state(r.tokv)
        outs = []
        tag_if_refused = "policy"
        if ts == "valid" and tok.kind == "reissue":
            h = tok.host
            if r.claim and r.claim != h and r.claim in self.hosts:
                return [REFUSE], "tokens", "reissue token %s is bound to %s, request from known host %s" % (
                    tok.name, h[:8], r.claim[:8])
            target = h
            outs = [("reissue", h, tok.name, None)]
            if r.claim == h and self.renewal_ok(h, r):
                outs.append(("renewal", h, tok.name if self.level == "very-high" else None, None))
            why = "reissue of %s by token %s" % (h[:8], tok.name)
        else:
            h = r.claim if r.claim in self.hosts else None
            wh = self.window_for_key(r.keyfp) if h is None else None
            if h is None and wh is None:
                target = r.claim
                why = "new host"
                if self.level == "medium":
                    if ts == "none":
                        outs = [("new", target, None, None)]
                    elif ts == "valid":
                        outs = [("new", target, tok.name, None), ("new", target, None, None)]
                    else:
                        outs = [("new", target, None, None), REFUSE]
                else:
                    if ts == "valid":
                        outs = [("new", target, tok.name, None)]
                    elif ts == "none":
                        return [REFUSE], "policy", "a new host needs an authorization token at %s" % self.level
                    else:
                        return [REFUSE], self.tok_tag(ts), "new host with a token that is %s" % ts
            elif h is None:
                target = wh
                outs = [("reissue", wh, None, None)]
                tag_if_refused = "I6"
                why = "reinstall of %s vouched by a window with --key" % wh[:8]
            else:
                target = h
                if self.renewal_ok(h, r):
                    why = "renewal of %s" % h[:8]
                    if self.level == "very-high":
                        if ts == "valid":
                            outs = [("renewal", h, tok.name, None)]
                        elif ts == "none":
                            return [REFUSE], "policy", "renewal at very-high needs a token"
                        else:
                            return [REFUSE], self.tok_tag(ts), "renewal with a token that is %s" % ts
                    else:
                        outs = [("renewal", h, None, None)]
                        if ts == "valid":             # not needed; spending it is harmless
                            outs.append(("renewal", h, tok.name, None))
                        elif ts != "none":
                            outs.append(REFUSE)
                else:
                    w = self.window_vouches(h, r.keyfp)
                    if w is not None:
                        outs = [("reissue", h, None, None)]
                        if ts == "valid":
                            outs.append(("reissue", h, tok.name, None))
                        elif ts != "none":
                            outs.append(REFUSE)
                        tag_if_refused = "I6"
                        why = "reissue of %s vouched by a window" % h[:8]
                    else:
                        tag, why = self.reissue_refusal(h, r, tok, ts)
                        return [REFUSE], tag, why
        # one holder per name (the target's own certificates do not count)
        for n in sorted(r.names):
            others = self.holders(n) - {target}
            if others:
                return [REFUSE], "I5", "name %s is held by %s" % (n, sorted(others)[0][:8])
        if r.mapped:
            outs.append(REFUSE)
        if tag_if_refused == "policy":
            # a refusal that names a name another host no longer holds: I5;
            # one after hundreds of renewals: I4 (see resolve_tag)
            if any(self.stale_holder(n, target) for n in r.names):
                tag_if_refused += "|I5?"
            if target in self.hosts and len(self.hosts[target]) >= 100:
                tag_if_refused += "|I4?"
        return outs, tag_if_refused, why

    def resolve_tag(self, tag, r, got, msg):
        """The check a verdict outside the model's outcomes breaks."""
        base = tag.split("|")[0]
        if base == "I9":
            return base
        if got == "renewal" and r.claim in self.hosts and not self.valid(self.newest(r.claim)):
            return "I3"                  # renewed although the newest is revoked or expired
        if got == "refuse":
            low = msg.lower()
            if "|I5?" in tag and any(n.lower() in low for n in list(r.names) + r.raw):
                return "I5"
            if "|I4?" in tag:
                return "I4"
        return base

    def tok_tag(self, ts):
        return "I7" if ts == "consumed" else "tokens"

    def stale_holder(self, name, target):
        """A name another host's newest certificate carries, though it no
        longer holds it (expired or revoked)."""
        for h, ss in self.hosts.items():
            if h == target:
                continue
            c = self.certs[ss[-1]]
            if name in c.names and not self.valid(c):
                return True
        return False

    def reissue_refusal(self, h, r, tok, ts):
        nw = self.newest(h)
        if ts == "consumed":
            return "I7", "reissue token %s of %s was consumed by an earlier reissue" % (tok.name, h[:8])
        for w in self.windows.get(h, ()):
            if w.consumed and self.now < w.until and (r.keyfp in w.keys or nw.keyfp == r.keyfp):
                return "I7", "the window of %s was consumed by an earlier reissue" % h[:8]
        for w in self.windows.get(h, ()):
            if self.window_open(w):
                if w.level == "very-high" or self.level == "very-high":
                    return "I6", "window of %s opened at %s, level now %s" % (h[:8], w.level, self.level)
                return "I6", "window of %s does not vouch for key %s.." % (h[:8], r.keyfp[:12])
        if not self.valid(nw):
            for s in self.hosts[h][:-1]:
                c = self.certs[s]
                if self.valid(c) and c.keyfp == r.keyfp and c.names == r.names:
                    return "I3", "renewal of %s from older %s while newest %s is %s" % (
                        h[:8], c.hexs, nw.hexs, "revoked" if nw.revoked else "expired")
        if ts not in ("none", "valid"):
            return "tokens", "reissue of %s with a token that is %s" % (h[:8], ts)
        what = ("newest revoked" if nw.revoked else "newest expired" if not self.valid(nw)
                else "new key" if nw.keyfp != r.keyfp else "other names")
        return "policy", "reissue of %s (%s) without reissue token or window" % (h[:8], what)

    # -- effects ---------------------------------------------------------------

    def revoke(self, c, reason, tag):
        c.revoked = True
        c.reason = reason
        c.rev_step = self.stepno
        c.exp_tag = tag

    def apply_issue(self, r, cert, kind, effects=True):
        """Records an issued certificate. With effects, the model's own
        consequences too (what it supersedes, what a reissue consumes);
        without (the issue broke the model), only what ca list shows later is
        adopted, and the global checks leave the certificate out, so that one
        bug is reported once, where it happens."""
        h = cert.host
        cert.kind = kind
        cert.tainted = not effects
        if not effects:
            if h in self.hosts:
                cert.prev = self.newest(h).serial
        elif kind == "renewal" and h in self.hosts:
            prev = self.newest(h)
            cert.prev = prev.serial
            for s in self.hosts[h]:
                c = self.certs[s]
                if s != prev.serial and self.valid(c):
                    self.revoke(c, "superseded", "I4")
        elif kind == "reissue" and h in self.hosts:
            for s in self.hosts[h]:
                c = self.certs[s]
                if self.valid(c):
                    self.revoke(c, "superseded", "policy")
            for t in self.tokens.values():
                if t.kind == "reissue" and t.host == h:
                    t.consumed = True
            for w in self.windows.get(h, ()):
                w.consumed = True
        self.hosts.setdefault(h, []).append(cert.serial)
        self.certs[cert.serial] = cert
        self.answered.setdefault(r.cri, []).append(cert.serial)
        self.key_host[cert.keyfp] = h

    # -- certificates -----------------------------------------------------------

    def load_cert(self, der, path):
        c = x509.load_der_x509_certificate(der)
        sig_ok = signed_by(c, c.tbs_certificate_bytes, self.ca_cert)
        raw, host = san_names(c.extensions)
        cn = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if host is None and cn:
            host = cn[0].value.lower()
        cert = Cert(c.serial_number, host, spki_fp(c.public_key()), frozenset(canon(n) for n in raw),
                    raw, ts(c, "not_valid_before"), ts(c, "not_valid_after"),
                    self.stepno, path)
        cert.sig_ok = sig_ok
        return cert

    def save_cert(self, der):
        path = os.path.join(self.edir, "certs", "%X.pem" % x509.load_der_x509_certificate(der).serial_number)
        with open(path, "wb") as f:
            f.write(to_pem(der, "CERTIFICATE"))
        return path

    # -- requests --------------------------------------------------------------

    def parse_req(self, data, origin):
        r = Req()
        ders = pem_blocks(data, "CERTIFICATE REQUEST") or pem_blocks(data, "NEW CERTIFICATE REQUEST")
        r.file_bytes = data
        r.origin = origin
        r.der = ders[0]
        csr = x509.load_der_x509_csr(r.der)
        r.cri = hashlib.sha256(csr.tbs_certrequest_bytes).hexdigest()
        pub = csr.public_key()
        r.keyfp = spki_fp(pub)
        if isinstance(pub, ec.EllipticCurvePublicKey):
            r.curve = pub.curve.name
            r.keyok = pub.curve.name in ("secp256r1", "secp384r1", "secp521r1")
        else:
            r.keyok = not isinstance(pub, ed25519.Ed25519PublicKey)
        raw, claim = san_names(csr.extensions)
        if claim is not None:
            r.claim = claim
        cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if cn:
            v = cn[0].value
            if UUID_RE.match(v.lower()):
                r.claim = r.claim or v.lower()
            elif canon(v) not in {canon(n) for n in raw}:
                raw.append(v)
        r.raw = raw
        r.names = frozenset(canon(n) for n in raw)
        r.mapped = any(is_mapped(n) for n in raw)
        try:
            a = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD)
            r.challenge = a.value.decode() if isinstance(a.value, bytes) else str(a.value)
        except x509.AttributeNotFound:
            pass
        return r

    def make_csr(self, key, names, claim, token, cn_claim=True):
        """A CSR as any other tool makes it (python-cryptography)."""
        if claim and cn_claim:
            cn = claim
        else:
            cn = names[0]
        b = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        gens = []
        for n in names:
            try:
                gens.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                gens.append(x509.DNSName(n))
        if claim:
            gens.append(x509.UniformResourceIdentifier("urn:uuid:" + claim))
        b = b.add_extension(x509.SubjectAlternativeName(gens), critical=False)
        if token:
            b = b.add_attribute(AttributeOID.CHALLENGE_PASSWORD, token.encode())
        # randomNonce (RFC 2985), as hostca's own requests carry: no two
        # requests share their signed content by accident
        nonce = self.rng.randbytes(16)
        try:
            from cryptography.x509.name import _ASN1Type
            b = b.add_attribute(RANDOM_NONCE, nonce, _tag=_ASN1Type.OctetString)
        except (ImportError, TypeError, AttributeError):
            b = b.add_attribute(RANDOM_NONCE, nonce.hex().encode())
        if isinstance(key, ed25519.Ed25519PrivateKey):
            csr = b.sign(key, None)
            return csr.public_bytes(serialization.Encoding.PEM)
        # ECDSA: OpenSSL's nonce is random, so the signature's shape would
        # differ from run to run (a padding byte in r or s, a high s), and so
        # could a parser's verdict on a re-encoded copy. Re-sign until the
        # signature has one shape: r and s of full length without a padding
        # byte, s <= n/2. The verdicts are then the same in every run.
        big = key.curve.name == "secp384r1"
        size, n = (48, CURVE_N["secp384r1"]) if big else (32, CURVE_N["secp256r1"])
        for _ in range(200):
            csr = b.sign(key, hashes.SHA384() if big else hashes.SHA256())
            sig = csr.signature
            _, ss, _ = der_read(sig, 0)
            _, rs, re_ = der_read(sig, ss)
            _, s_s, s_e = der_read(sig, re_)
            r_, s_ = sig[rs:re_], sig[s_s:s_e]
            if len(r_) == size and len(s_) == size and r_[0] < 0x80 and s_[0] >= 0x01 \
                    and int.from_bytes(s_, "big") <= n // 2:
                break
        return csr.public_bytes(serialization.Encoding.PEM)

    def new_key(self, kind="ec-p256"):
        if kind == "ed25519":
            return ed25519.Ed25519PrivateKey.from_private_bytes(self.rng.randbytes(32))
        curve = ec.SECP384R1() if kind == "ec-p384" else ec.SECP256R1()
        n = CURVE_N[curve.name]
        k = ec.derive_private_key(self.rng.randrange(1, n), curve)
        self.keys[spki_fp(k.public_key())] = k
        return k

    def note_host_keys(self, slot):
        for f in ("host.key", "host.key.new"):
            p = os.path.join(slot.dir, f)
            try:
                with open(p, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            try:
                k = serialization.load_pem_private_key(data, None)
            except Exception:
                continue
            self.keys.setdefault(spki_fp(k.public_key()), k)

    def new_uuid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def pick_names(self, avoid=None):
        # in a batch, a later request often wants what an earlier one got
        # (the decisions interact: I10)
        if self.round_names and self.rng.random() < 0.35:
            names = list(self.rng.choice(self.round_names))
            if avoid is None or frozenset(canon(n) for n in names) != avoid:
                return names
        names = self.pick_names1(avoid)
        self.round_names.append(names)
        return names

    def pick_names1(self, avoid=None):
        k = self.rng.choice((1, 1, 2, 2, 3))
        first = self.rng.choice(DNS_POOL)
        if self.rng.random() < 0.15:
            first = "".join(ch.upper() if self.rng.random() < 0.5 else ch for ch in first)
        names = [first]
        seen = {canon(first)}
        for _ in range(k - 1):
            n = self.rng.choice(DNS_POOL + IP_POOL + IP_POOL)
            if canon(n) not in seen:
                names.append(n)
                seen.add(canon(n))
        if avoid is not None and frozenset(seen) == avoid:
            return self.pick_names1()
        return names

    # -- tokens for requests ---------------------------------------------------

    def pick_token(self, host=None, new=False):
        """-> (token value or None, description). host: the host ID the
        request is for (its reissue tokens are likely); new: a new host."""
        if host is not None and self.rng.random() < 0.4:
            mine = [t for t in self.tokens.values() if t.kind == "reissue" and t.host == host]
            if mine:
                t = self.rng.choice(mine)
                return t.value, "reissue-token %s (%s)" % (t.name, self.tok_state(t.value)[1])
        need = new and self.level != "medium" or self.level == "very-high"
        if self.rng.random() < (0.15 if need else 0.45):
            return None, "no token"
        y = self.rng.random()
        if self.round_token and y < 0.3:
            t = self.round_token
            return t.value, "token %s (%s %s, again in this batch)" % (t.name, t.kind, self.tok_state(t.value)[1])
        if y < 0.6:
            auth = [t for t in self.tokens.values() if t.kind == "auth" and self.tok_state(t.value)[1] == "valid"]
            if auth and self.rng.random() < 0.8:
                t = self.rng.choice(auth)
                self.round_token = t
                return t.value, "token %s (valid auth)" % t.name
            t = self.create_token("auth")
            if t is not None:
                self.round_token = t
                return t.value, "token %s (fresh auth)" % t.name
        elif y < 0.8:
            dead = [t for t in self.tokens.values() if self.tok_state(t.value)[1] != "valid"]
            if dead:
                t = self.rng.choice(dead)
                return t.value, "token %s (%s %s)" % (t.name, t.kind, self.tok_state(t.value)[1])
        elif y < 0.9:
            others = [t for t in self.tokens.values() if t.kind == "reissue" and t.host != host
                      and self.tok_state(t.value)[1] == "valid"]
            if others:
                t = self.rng.choice(others)
                return t.value, "reissue-token %s of %s" % (t.name, t.host[:8])
        v = "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(16))
        return v, "unknown token"

    def create_token(self, kind, host=None):
        self.ntok += 1
        name = "%s%d" % ("a" if kind == "auth" else "r", self.ntok)
        valid = self.rng.choice((None, None, "1h", "1d", "30d"))
        dur = {None: 7 * DAY, "1h": 3600, "1d": DAY, "30d": 30 * DAY}[valid]
        if kind == "auth":
            uses = self.rng.choice((1, 1, 2, 3, 5))
            args = ["token", "create", "--name", name, "--max-uses", uses]
        else:
            uses = 1
            args = ["token", "create", "--reissue", "--host", host, "--name", name]
        if valid:
            args += ["--valid", valid]
        rc, out, err = self.ca(*args)
        v = norm_token(out)
        if rc != 0 or len(v) != 16:
            self.log("token create %s %s%s: exit %d %s" % (kind, name, " for " + host[:8] if host else "",
                                                            rc, self.first_err(err)))
            if not self.ca_expired():
                self.bad("tokens", "token create %s%s: exit %d: %s" % (
                    kind, " --host " + host if host else "", rc, self.first_err(err)))
            return None
        t = Tok(name, v, kind, host, uses, self.now + dur)
        self.tokens[name] = t
        self.tok_by_value[t.value] = t
        self.log("token create %s %s%s uses=%d valid=%s" % (
            kind, name, " for " + host[:8] if host else "", uses, valid or "7d"))
        return t

    # -- episodes --------------------------------------------------------------

    def new_episode(self):
        self.episode += 1
        self.edir = os.path.join(self.work, "e%d" % self.episode)
        os.makedirs(os.path.join(self.edir, "certs"))
        self.cadir = os.path.join(self.edir, "ca")
        self.level = self.rng.choice(LEVELS)
        x = self.rng.random()
        args = ["ca", "init", "--name", "Model CA %d" % self.episode, "--security", self.level]
        self.short_ca = x < 0.15 or self.episode == 2   # I8: the CA expires in this one
        if self.short_ca:
            args += ["--days", "2"]
            self.cert_days = 1
        else:
            self.cert_days = self.rng.choice((365, 365, 30, 3))
        if self.rng.random() < 0.15:
            args += ["--key", "ec-p384"]
        self.certs = {}
        self.hosts = {}
        self.tokens = {}
        self.tok_by_value = {}
        self.windows = {}
        self.answered = {}
        self.answered_reqs = []
        self.compromised = {}
        self.crl_num = None
        self.crl_key = None
        self.crl_this = self.crl_next = None
        self.crl_days = 7
        self.raised = set()
        self.ca_expired_steps = 0
        rc, out, err = self.hc(*args, ca=self.cadir)
        if rc != 0:
            raise Abort("ca init failed: %s" % err.strip()[-300:])
        with open(os.path.join(self.cadir, "ca.pem"), "rb") as f:
            self.ca_pem = f.read()
        self.ca_cert = x509.load_pem_x509_certificate(self.ca_pem)
        self.ca_na = ts(self.ca_cert, "not_valid_after")
        self.ca_fp = fingerprint_colon(self.ca_cert.public_bytes(serialization.Encoding.DER))
        if self.cert_days != 365:
            self.ca("ca", "config", "cert-days", self.cert_days)
        if self.rng.random() < 0.3:
            self.crl_days = 2
            self.ca("ca", "config", "crl-days", 2)
        self.slots = [Slot(i, os.path.join(self.edir, "h%d" % i)) for i in range(4)]
        self.trail.clear()
        self.log("episode %d: ca init --security %s%s, cert-days %d, crl-days %d" % (
            self.episode, self.level, " --days 2" if self.short_ca else "", self.cert_days, self.crl_days))
        self.check_crl()

    # -- signing ----------------------------------------------------------------

    def media_dir(self):
        self.nmedia += 1
        m = os.path.join(self.edir, "m%d" % self.nmedia)
        os.makedirs(os.path.join(m, "requests"))
        return m

    def sign_round(self, reqs, media, via_csr):
        """Signs the requests (already on `media` or to go via --csr), checks
        every verdict against the model and applies what happened."""
        self.exercise["round"] += 1
        before_uses = {t.name: t.uses for t in self.tokens.values()}
        spend_lo = collections.Counter()
        spend_hi = collections.Counter()
        tok_tags = {}
        results = []
        for r in reqs:
            r.via = "csr" if via_csr else "media"
        listed_for = None
        if via_csr:
            r = reqs[0]
            f = os.path.join(media, "req.pem")
            with open(f, "wb") as fh:
                fh.write(r.file_bytes)
            args = ["ca", "sign", "--csr", f, "--out", os.path.join(media, "out.pem")]
            if r.token_arg:
                tf = os.path.join(media, "token.txt")
                with open(tf, "w") as fh:
                    fh.write(r.token_arg + "\n")
                args += ["--token-file", tf]
            rc, out, err = self.ca(*args)
            listing = self.ca_list() if rc == 0 or self.stepno % 5 == 0 else False
            cert = None
            if rc == 0:
                try:
                    with open(os.path.join(media, "out.pem"), "rb") as fh:
                        ders = pem_blocks(fh.read(), "CERTIFICATE")
                    cert = self.load_cert(ders[0], None)
                except Exception as e:
                    self.bad("views", "ca sign --csr exit 0 but no certificate in --out: %s" % e)
            results.append((r, rc == 0 and cert is not None, cert, err))
            batch_rc = rc
        else:
            files = sorted(os.listdir(os.path.join(media, "requests")))
            by_file = {r.fname: r for r in reqs}
            listed = None
            if self.rng.random() < (0.5 if len(files) > 1 else 0.2):
                lrc, lout, lerr = self.ca("ca", "sign", "--media", media, "--list", json_out=True)
                listed = (lrc, self.parse_list(lout, lerr), lerr)
            rc, out, err = self.ca("ca", "sign", "--media", media)
            batch_rc = rc
            left = set(os.listdir(os.path.join(media, "requests")))
            # ca list (the third view) whenever something was answered
            listing = self.ca_list() if len(left) < len(files) or self.stepno % 5 == 0 else False
            resp = {}
            rdir = os.path.join(media, "responses")
            for f in (os.listdir(rdir) if os.path.isdir(rdir) else ()):
                try:
                    with open(os.path.join(rdir, f), "rb") as fh:
                        ders = pem_blocks(fh.read(), "CERTIFICATE")
                    resp[f[:-4]] = self.load_cert(ders[0], None)
                except Exception:
                    pass
            for f in files:
                r = by_file.get(f)
                if r is None:
                    continue
                answered = f not in left
                cert = None
                if answered:
                    if r.claim and r.claim in resp and resp[r.claim].keyfp == r.keyfp:
                        cert = resp[r.claim]
                    else:
                        for c in resp.values():
                            if c.keyfp == r.keyfp and c.names == r.names:
                                cert = c
                    if cert is None:
                        self.bad("views", "request %s (%s) left requests/ but no response carries its key"
                                 % (f, r.origin))
                        answered = False
                results.append((r, answered, cert, err))
            listed_for = (listed, files, by_file) if listed is not None else None
        # decide in order, compare, apply
        refused_any = False
        carried = False
        verdict = {}
        for r, answered, cert, err in results:
            outs, tag, why = self.decide(r)
            allowed = {o[0] for o in outs}
            if not answered:
                got = "refuse"
            elif cert.serial in self.certs:
                got = "again"
            else:
                got = ((listing or {}).get(cert.serial) or {}).get("kind") or "?"
                if got not in ("new", "renewal", "reissue"):
                    self.bad("views", "ca list gives certificate %X kind '%s'" % (cert.serial, got))
                    got = "reissue" if cert.host in self.hosts else "new"
            refused_any |= got == "refuse"
            verdict[r.fname] = {"refuse": "refused", "again": "again"}.get(got, "issue")
            self.exercise[tag.split("|")[0]] += 1
            pred = "/".join(sorted(allowed))
            line = "  %s %s -> model %s (%s) got %s" % (
                "csr" if via_csr else "media", r.origin, pred, why, got)
            if got != "refuse":
                line += " %s for %s" % (cert.hexs, (cert.host or "?")[:8])
            self.note("      " + line.strip())
            if got not in allowed and got != "refuse":
                self.lenient.add(cert.host)     # what it revokes is adopted silently
            if got not in allowed:
                msg = (self.first_err(err) if via_csr else self.refusal_line(err, r)) if got == "refuse" else ""
                tag = self.resolve_tag(tag, r, got, msg)
                if got == "refuse":
                    self.bad(tag, "%s: expected %s (%s), hostca refused: %s" % (r.origin, pred, why, msg))
                else:
                    self.bad(tag, "%s: expected %s (%s), hostca answered %s %s for host %s" % (
                        r.origin, pred, why, got, cert.hexs, cert.host))
            else:
                tag = tag.split("|")[0]
            # token spending expected
            tok, ts = self.tok_state(r.tokv)
            if tok is not None:
                match = [o for o in outs if o[0] == got]
                lo = min((1 if o[2] == tok.name else 0) for o in match) if match else 0
                hi = max((1 if o[2] == tok.name else 0) for o in match) if match else 1
                if got in ("refuse", "again"):
                    lo = hi = 0
                if got in ("new", "renewal", "reissue") and not match:
                    lo, hi = 0, 1
                spend_lo[tok.name] += lo
                spend_hi[tok.name] += hi
                if hi == 0:
                    tok_tags.setdefault(tok.name, tag if tag in ("I8", "I9", "I7") else "tokens")
                carried = True
                if hi:
                    tok.uses += 1      # decisions later in the batch see it
            if got == "again":
                exp = self.answered.get(r.cri)
                if exp is not None and cert.serial not in exp:
                    self.bad("I9", "%s: handed back %s, the request was answered with %s" % (
                        r.origin, cert.hexs, "/".join(self.certs[x].hexs for x in exp)))
                continue
            if got == "refuse":
                if via_csr and tag == "I8" and batch_rc != 1:
                    self.bad("I8", "%s: refused with exit %d (want 1) by a CA past its notAfter" % (
                        r.origin, batch_rc))
                if via_csr and not self.first_err(err):
                    self.bad("policy", "%s: refused (exit %d) without a message" % (r.origin, batch_rc))
                continue
            # a new certificate: its content
            self.check_new_cert(r, cert, outs, got)
            cert.path = self.save_cert_path(cert, r, media, via_csr)
            self.apply_issue(r, cert, got, effects=got in allowed)
            self.answered_reqs.append(r)
            if got == "reissue":
                # the host's other reissue tokens are consumed (I7): used up or
                # marked consumed, either is right
                for t in self.tokens.values():
                    if t.kind == "reissue" and t.host == cert.host and t is not tok:
                        spend_hi[t.name] += 1
                        carried = True
        if not via_csr and listed_for is not None:
            self.check_list(listed_for, verdict, batch_rc)
        if not via_csr:
            want = 1 if refused_any else 0
            if batch_rc != want:
                self.bad("policy", "ca sign --media exited %d, %s" % (
                    batch_rc, "a request was refused (want 1)" if want else "nothing was refused (want 0)"))
        elif results and results[0][1] is False and batch_rc not in (1, 2):
            self.bad("policy", "ca sign --csr refused with exit %d" % batch_rc)
        elif results and results[0][1] is False and batch_rc == 2 and results[0][0].keyok and \
                results[0][0].strict and not results[0][0].copy_of:
            self.bad("policy", "ca sign --csr refused a well-formed request with exit 2 (want 1): %s" %
                     self.first_err(results[0][3]))
        if carried:
            self.sync(listing, before_uses, spend_lo, spend_hi, tok_tags)
        else:
            self.sync(listing)
        return results

    def save_cert_path(self, cert, r, media, via_csr):
        src = os.path.join(media, "out.pem") if via_csr else os.path.join(
            media, "responses", (r.claim or cert.host) + ".pem")
        dst = os.path.join(self.edir, "certs", "%X.pem" % cert.serial)
        try:
            with open(src, "rb") as fh:
                der = pem_blocks(fh.read(), "CERTIFICATE")[0]
            with open(dst, "wb") as fh:
                fh.write(to_pem(der, "CERTIFICATE"))
        except OSError:
            return None
        return dst

    def refusal_line(self, err, r):
        for line in err.splitlines():
            if r.fname and r.fname in line:
                return line.strip()[:220]
        return self.first_err(err)

    def check_new_cert(self, r, cert, outs, got):
        tag = "policy"
        match = [o for o in outs if o[0] == got]
        if not cert.sig_ok:
            self.bad("views", "certificate %s is not signed by the CA" % cert.hexs)
        if cert.keyfp != r.keyfp:
            self.bad(tag, "%s: certificate %s has another key than the request" % (r.origin, cert.hexs))
        if cert.names != r.names:
            self.bad("I5" if r.mapped else tag, "%s: certificate %s names %s, request %s" % (
                r.origin, cert.hexs, sorted(cert.names), sorted(r.names)))
        if cert.na <= cert.nb:
            self.bad("I8", "certificate %s has notAfter <= notBefore" % cert.hexs)
        if cert.na > self.ca_na:
            self.bad("I8", "certificate %s outlives the CA certificate" % cert.hexs)
        if self.now >= self.ca_na:
            self.bad("I8", "certificate %s issued after the CA expired" % cert.hexs)
        if cert.keyfp in self.compromised:
            self.bad("I1", "%s: key %s.. certified again (%s for %s) after a keyCompromise revocation" % (
                r.origin, cert.keyfp[:12], cert.hexs, cert.host))
        hs = {o[1] for o in match}
        if match and None not in hs and cert.host not in hs:
            self.bad(tag, "%s: certificate %s for host %s, expected host %s" % (
                r.origin, cert.hexs, cert.host, "/".join(sorted(hs))))
        if got == "new" and cert.host in self.hosts:
            self.bad("views", "ca list calls %s new, but host %s has certificates" % (cert.hexs, cert.host))

    # -- ca sign --list (I10) ------------------------------------------------------

    def parse_list(self, out, err):
        """-> {file: refused|again|issue} from ca sign --list (JSON, else text)."""
        res = {}
        verdicts = {"refused": "refused", "issued-already": "again", "would-issue": "issue"}
        try:
            data = json.loads(out)
            if data.get("preview") is not True:
                self.bad("views", "ca sign --list --json: \"preview\" is %r, not true" % data.get("preview"))
            for e in data["requests"]:
                # "file": requests/NAME.pem; an unknown verdict is no verdict
                v = verdicts.get(e.get("verdict"))
                if v is not None:
                    res[os.path.basename(e.get("file") or "")] = v
            return res
        except Exception:
            pass
        cur = None
        for line in out.splitlines():
            m = re.match(r"^(?:requests/)?(\S+\.pem)\s*$", line)
            if m:
                cur = m.group(1)
                continue
            if cur and re.search(r"REFUSED|refused", line):
                res[cur] = "refused"
            elif cur and "action:" in line:
                res[cur] = "again" if "already" in line else "issue"
        return res

    def check_list(self, listed_for, verdict, rc):
        """I10: the preview's verdict on every request and its exit status
        are the run's (refused / handed back / issued)."""
        (lrc, lv, lerr), files, by_file = listed_for
        self.exercise["I10"] += 1
        for f in files:
            if f in by_file and lv.get(f) != verdict.get(f):
                self.bad("I10", "ca sign --list said %s for %s (%s), the run: %s" % (
                    lv.get(f, "nothing"), f, by_file[f].origin, verdict.get(f)))
                break
        if lrc != rc:
            self.bad("I10", "ca sign --list exited %d, the run %d (%d requests)" % (lrc, rc, len(files)))

    # -- views: ca list, tokens, CRL -------------------------------------------------

    def ca_list(self):
        rc, out, err = self.ca("ca", "list", json_out=True)
        res = {}
        try:
            for e in json.loads(out)["certificates"]:
                res[int(e["serial"], 16)] = e
        except Exception:
            self.bad("views", "ca list --json: exit %d, unreadable output: %s" % (rc, (out or err)[:160]))
        return res

    def sync(self, listing=None, before_uses=None, spend_lo=None, spend_hi=None, tok_tags=None):
        """Compares the model with ca list (and tokens), then adopts what is real."""
        if listing is None:
            listing = self.ca_list()
        if listing is False:             # not fetched: nothing answered, no revocation
            listing = {}
            items = ()
        else:
            items = self.certs.items()
        for s, c in items:
            e = listing.get(s)
            if e is None:
                self.bad("views", "certificate %s (host %s) is missing from ca list" % (c.hexs, c.host))
                continue
            st = e.get("status")
            if st == "revoked":
                reason = norm_reason(e.get("reason"))
                if not c.revoked:
                    if c.host not in self.lenient:
                        self.bad("policy", "hostca revoked %s (%s, host %s); the model keeps it valid" % (
                            c.hexs, reason, (c.host or "?")[:8]))
                    c.revoked = True
                    c.rev_step = self.stepno
                    c.reason = reason
                elif reason != c.reason:
                    if c.reason == "keyCompromise":
                        tag = "I2" if c.serial in self.raised else "I1"
                        self.bad(tag, "certificate %s: the model revoked it as keyCompromise, ca list says %s"
                                 % (c.hexs, reason))
                    else:
                        self.bad("views", "certificate %s: reason %s, model %s" % (c.hexs, reason, c.reason))
                    c.reason = reason
                if c.reason == "keyCompromise":
                    self.compromised.setdefault(c.keyfp, c.rev_step)
            elif st == "valid":
                if c.revoked:
                    self.bad(c.exp_tag or "policy", "certificate %s (host %s) should be revoked (%s), ca list says valid"
                             % (c.hexs, (c.host or "?")[:8], c.reason))
                    c.revoked = False
                    c.reason = None
                elif not self.valid(c):
                    self.bad("views", "certificate %s is past its notAfter, ca list says valid" % c.hexs)
            elif st == "expired":
                if not c.revoked and self.valid(c):
                    self.bad("views", "certificate %s: ca list says expired, notAfter %s" % (
                        c.hexs, fmt_t(c.na, self.t0)))
        for s, e in listing.items():
            if s not in self.certs:
                self.bad("views", "ca list has certificate %s (host %s, %s) that no answer carried" % (
                    e.get("serial"), e.get("host_id"), e.get("kind")))
                c = Cert(s, e.get("host_id"), None, frozenset(canon(n) for n in (e.get("names") or []) if n),
                         [], 0, self.ca_na, self.stepno, None)
                c.kind = e.get("kind")
                c.revoked = e.get("status") == "revoked"
                c.reason = norm_reason(e.get("reason")) if c.revoked else None
                self.certs[s] = c
                self.hosts.setdefault(c.host, []).append(s)
        if before_uses is not None and self.tokens:
            self.sync_tokens(before_uses, spend_lo, spend_hi, tok_tags)
        self.check_crl()
        self.global_checks()

    def sync_tokens(self, before_uses, spend_lo, spend_hi, tok_tags):
        rc, out, err = self.ca("token", "list", json_out=True)
        try:
            data = {e["name"]: e for e in json.loads(out)["tokens"]}
        except Exception:
            self.bad("views", "token list --json unreadable: %s" % (out or err)[:160])
            return
        for name, t in self.tokens.items():
            e = data.get(name)
            if e is None:
                if not t.cleaned:
                    self.bad("tokens", "token %s is missing from token list" % name)
                continue
            uses = int(e.get("uses", 0))
            delta = uses - before_uses.get(name, 0)
            lo, hi = spend_lo.get(name, 0), spend_hi.get(name, 0)
            if delta < lo or delta > hi:
                tag = tok_tags.get(name, "tokens") if delta > hi else "tokens"
                self.bad(tag, "token %s (%s%s): %d use(s) spent, expected %s" % (
                    name, t.kind, " for " + t.host[:8] if t.host else "", delta,
                    lo if lo == hi else "%d..%d" % (lo, hi)))
            if uses > t.max_uses:
                self.bad("tokens", "token %s used %d times, max %d" % (name, uses, t.max_uses))
            t.uses = uses

    def check_crl(self):
        path = os.path.join(self.cadir, "crl.pem")
        try:
            st = os.stat(path)
        except OSError:
            self.bad("views", "no crl.pem in the CA directory")
            return
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key == self.crl_key:
            return
        self.crl_key = key
        with open(path, "rb") as f:
            crl = x509.load_pem_x509_crl(f.read())
        num = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        this = ts(crl, "last_update")
        nxt = ts(crl, "next_update")
        self.crl_this, self.crl_next = this, nxt
        if not crl.is_signature_valid(self.ca_cert.public_key()):
            self.bad("views", "crl.pem #%d: bad signature" % num)
        fresh = self.crl_num is None or num > self.crl_num
        if not fresh and num < self.crl_num:
            self.bad("I11", "crl.pem went back from #%d to #%d" % (self.crl_num, num))
            return
        jump = 1 if self.crl_num is None else num - self.crl_num
        self.crl_num = num
        P = self.now
        self.exercise["I11"] += 1
        if fresh and this > P - 600:
            self.bad("I11", "CRL #%d produced at %s has thisUpdate %+ds from then: not backdated "
                            "(a verifier 10 minutes behind rejects it)" % (num, fmt_t(P, self.t0), this - P))
        if fresh and (nxt is None or nxt <= P):
            self.bad("I11", "CRL #%d produced at %s is not current (nextUpdate %s)" % (
                num, fmt_t(P, self.t0), nxt and fmt_t(nxt, self.t0)))
        entries = {}
        for rc in crl:
            try:
                rs = rc.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
            except x509.ExtensionNotFound:
                rs = "unspecified"
            entries[rc.serial_number] = norm_reason(rs)
        for c in self.certs.values():
            if not c.revoked:
                if c.serial in entries:
                    self.bad("views", "CRL #%d lists %s, which the CA lists as not revoked" % (num, c.hexs))
                continue
            if c.serial not in entries:
                if c.crl_after_na or (not fresh and c.na < P):
                    continue
                if jump > 1 and c.na < P:
                    # CRLs this check did not see (a burst of commands) were
                    # issued after its notAfter; the first of them carried it
                    # (RFC 5280 3.3), so later ones may leave it out.
                    c.crl_after_na = True
                    continue
                self.bad("I11", "CRL #%d (produced %s) lacks revoked %s (%s, notAfter %s)%s" % (
                    num, fmt_t(P, self.t0), c.hexs, c.reason, fmt_t(c.na, self.t0),
                    ": it was never on a CRL issued after its notAfter" if c.na < P else ""))
                continue
            if entries[c.serial] != c.reason:
                tag = "I2" if c.serial in self.raised and c.reason == "keyCompromise" else "views"
                self.bad(tag, "CRL #%d gives %s reason %s, the CA's records %s" % (
                    num, c.hexs, entries[c.serial], c.reason))
            if c.na < P and fresh:
                c.crl_after_na = True
        for s in entries:
            if s not in self.certs:
                self.bad("views", "CRL #%d lists %s, unknown to the model" % (num, serial_hex(s)))

    def global_checks(self):
        # I4: at most two valid, and the older is the one the newest renewed from
        for h, ss in self.hosts.items():
            v = [self.certs[s] for s in ss if self.valid(self.certs[s])]
            if any(c.tainted for c in v):
                continue
            if len(v) > 2 or (len(v) == 2 and (v[1].serial != ss[-1] or v[1].prev != v[0].serial)):
                self.bad("I4", "host %s has %d valid certificates (%s)" % (
                    h, len(v), ", ".join(c.hexs[:8] + "/" + (c.kind or "?") for c in v[-4:])))
                break
        # I5
        holder = {}
        for c in self.certs.values():
            if not self.valid(c) or c.tainted:
                continue
            for n in c.names:
                o = holder.setdefault(n, c)
                if o.host != c.host:
                    self.bad("I5", "name %s is held by %s (%s) and %s (%s)" % (
                        n, o.host, o.hexs, c.host, c.hexs))
                    return

    # -- openssl: the judge ----------------------------------------------------

    def judge(self, every=False):
        if self.ca_expired() or self.crl_next is None or not (self.crl_this <= self.now < self.crl_next):
            return
        valid = [c for c in self.certs.values() if c.path and self.valid(c)]
        revoked = [c for c in self.certs.values() if c.path and c.revoked and c.nb <= self.now <= c.na]
        if not every:
            valid = self.rng.sample(valid, min(2, len(valid)))
            revoked = self.rng.sample(revoked, min(2, len(revoked)))
        crl = os.path.join(self.cadir, "crl.pem")
        ca = os.path.join(self.cadir, "ca.pem")
        for i in range(0, max(len(valid), len(revoked)), 150):
            part_v, part_r = valid[i:i + 150], revoked[i:i + 150]
            if not part_v and not part_r:
                break
            p = subprocess.run(["openssl", "verify", "-x509_strict", "-crl_check", "-CAfile", ca,
                                "-CRLfile", crl, "-attime", str(self.now)] + [c.path for c in part_v + part_r],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               cwd=self.edir)
            text = p.stdout.decode("utf-8", "replace")
            self.exercise["openssl"] += len(part_v) + len(part_r)
            for c, want in [(c, True) for c in part_v] + [(c, False) for c in part_r]:
                if ((c.path + ": OK") in text) != want:
                    self.bad("openssl", "openssl verify %s %s (host %s, %s): %s" % (
                        "rejects" if want else "accepts", c.hexs, (c.host or "?")[:8],
                        "valid per CA and model" if want else "revoked as " + str(c.reason),
                        " | ".join(l for l in text.splitlines() if c.path in l or "error" in l)[:240]))
                    break
            if part_r and text.count("certificate revoked") < len(part_r):
                self.bad("openssl", "openssl verify: %d revoked certificates, %d 'certificate revoked' "
                                    "verdicts: %s" % (len(part_r), text.count("certificate revoked"),
                                                      text.strip().replace("\n", " | ")[:200]))

    # -- request generators ---------------------------------------------------

    def host_req(self, slot, media, args, origin):
        rc, out, err = self.hc("host", "request" if args[0] != "renew" else "renew", "--media", media,
                               *args[1:], host=slot.dir)
        self.note_host_keys(slot)
        if rc != 0:
            self.log("%s: host %s exit %d: %s" % (origin, "request" if args[0] != "renew" else "renew",
                                                  rc, self.first_err(err)))
            return None
        hid = slot.hostid()
        f = os.path.join(media, "requests", hid + ".pem")
        try:
            with open(f, "rb") as fh:
                data = fh.read()
        except OSError:
            self.bad("hosts", "%s: host request exit 0 but no %s" % (origin, f))
            return None
        r = self.parse_req(data, origin)
        r.slot = slot
        if "--token" in args:
            r.proof_token = args[args.index("--token") + 1]
        r.fname = hid + ".pem"
        return r

    def slot_names(self, slot):
        p = os.path.join(slot.dir, "host.pem")
        try:
            with open(p, "rb") as f:
                c = x509.load_pem_x509_certificate(f.read())
            san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            return [g.value if isinstance(g, x509.DNSName) else str(g.value) for g in san
                    if isinstance(g, (x509.DNSName, x509.IPAddress))]
        except Exception:
            h = slot.hostid()
            nw = self.newest(h) if h else None
            return list(nw.raw) if nw else None

    def gen_host(self, media, kind, slot, token=None):
        """Requests from a host directory: enrol, renew, renew-tok, rename,
        newkey, reinstall. token: (value, description) instead of a random one."""
        hid = slot.hostid()
        known = hid in self.hosts if hid else False
        names = self.slot_names(slot) if known else None
        if kind == "enrol" or not known:
            names = self.pick_names()
            tv, td = self.pick_token(new=True)
            args = ["request", "--name", names[0]]
            for n in names[1:]:
                args += ["--alt-name", n]
            if tv:
                args += ["--token", tv]
            if self.rng.random() < 0.1 and not os.path.exists(os.path.join(slot.dir, "host.key")):
                args += ["--key", "ec-p384"]
            return self.host_req(slot, media, args, "h%d enrol %s, %s" % (slot.idx, ",".join(names), td))
        if not names:
            names = self.pick_names()
        if kind == "renew":
            if not slot.has_cert():
                return None
            return self.host_req(slot, media, ["renew"], "h%d(%s) host renew" % (slot.idx, hid[:8]))
        tv, td = token or self.pick_token(host=hid)
        if kind == "renew-tok":
            args = ["request", "--name", names[0]]
        elif kind == "rename":
            names = self.pick_names(avoid=frozenset(canon(n) for n in names))
            args = ["request", "--name", names[0]]
        elif kind == "newkey":
            args = ["request", "--new-key", "--name", names[0]]
        elif kind == "reinstall":
            rc, out, err = self.hc("host", "clean", "--force", host=slot.dir)
            if rc != 0:
                self.bad("hosts", "host clean --force: exit %d %s" % (rc, self.first_err(err)))
            if token is None and self.rng.random() < 0.6:
                live = [t for t in self.tokens.values() if t.kind == "reissue" and t.host == hid]
                if live and self.rng.random() < 0.8:
                    t = self.rng.choice(live)
                else:
                    t = self.create_token("reissue", hid)
                if t is not None:
                    tv, td = t.value, "reissue-token %s (%s)" % (t.name, self.tok_state(t.value)[1])
            args = ["request", "--name", names[0]]
        else:
            raise ValueError(kind)
        for n in names[1:]:
            args += ["--alt-name", n]
        if tv:
            args += ["--token", tv]
        r = self.host_req(slot, media, args, "h%d(%s) %s %s, %s" % (slot.idx, hid[:8], kind, ",".join(names), td))
        if r is not None:
            r.for_host = hid
        return r

    def gen_csr(self, kind):
        """Requests made by other tools: stolen or old keys, fresh foreign keys,
        copies of answered requests, non-strict signatures."""
        if kind in ("copy", "reenc"):
            cands = [r for r in self.answered_reqs if r.curve or kind == "copy"]
            if not cands:
                return None
            o = self.rng.choice(cands[-40:] if self.rng.random() < 0.7 else cands)
            if kind == "copy":
                r = self.parse_req(o.file_bytes, "byte copy of [%s]" % o.origin)
                r.exact = True
                r.token_arg = o.token_arg
                r.proof_token = o.proof_token
            else:
                how = self.rng.choice(("high-s", "high-s", "zero-r", "long-len"))
                der = reencode_csr(o.der, how, o.curve)
                r = self.parse_req(to_pem(der, "CERTIFICATE REQUEST"), "%s copy of [%s]" % (how, o.origin))
                r.strict = how == "high-s"
                r.copy_of = o
                r.token_arg = o.token_arg
                r.der = der
            r.exact = kind == "copy"
            return r
        claim = None
        if kind == "stolen":
            pool = list(self.keys)
            comp = [k for k in pool if k in self.compromised]
            if comp and self.rng.random() < 0.4:
                fp = self.rng.choice(comp)
            elif pool:
                fp = self.rng.choice(pool)
            else:
                return None
            key = self.keys[fp]
            victim = self.key_host.get(fp)
            x = self.rng.random()
            if victim and x < 0.35:
                claim = victim
            elif x < 0.55 and self.hosts:
                claim = self.rng.choice(sorted(self.hosts))
            elif x < 0.8:
                claim = self.new_uuid()
            nw = self.newest(victim) if victim else None
            names = list(nw.raw) if nw and self.rng.random() < 0.6 else self.pick_names()
            desc = "stolen key %s.. of %s" % (fp[:8], (victim or "?")[:8])
        elif kind in ("foreign", "nonstrict"):
            kt = self.rng.choice(("ec-p256",) * 6 + ("ec-p384", "ed25519")) if kind == "foreign" else \
                self.rng.choice(("ec-p256", "ec-p384"))
            key = self.new_key(kt)
            x = self.rng.random()
            if x < 0.25 and self.hosts:
                claim = self.rng.choice(sorted(self.hosts))
            elif x < 0.7:
                claim = self.new_uuid()
            names = self.pick_names()
            desc = "%s%s key" % ("non-strict " if kind == "nonstrict" else "fresh ", kt)
        else:
            raise ValueError(kind)
        tv, td = self.pick_token(host=claim, new=claim not in self.hosts)
        in_csr = tv and self.rng.random() < 0.3
        data = self.make_csr(key, names, claim, tv if in_csr else None, cn_claim=self.rng.random() < 0.7)
        origin = "csr %s claim=%s names=%s %s%s" % (desc, (claim or "-")[:8], ",".join(names), td,
                                                    " (in CSR)" if in_csr else "")
        if kind == "nonstrict":
            der = reencode_csr(pem_blocks(data, "CERTIFICATE REQUEST")[0],
                               self.rng.choice(("zero-r", "long-len")),
                               "secp384r1" if kt == "ec-p384" else "secp256r1")
            r = self.parse_req(to_pem(der, "CERTIFICATE REQUEST"), origin)
            r.der = der
            r.strict = False
        else:
            r = self.parse_req(data, origin)
        if tv and not in_csr:
            r.token_arg = tv
        return r

    # -- operations ---------------------------------------------------------------

    def op_round(self, forced=None):
        """1-3 requests on one stick (or one via --csr), signed, installed.
        forced: [(kind, slot)] instead of random ones."""
        n = len(forced) if forced else self.rng.choice((1, 1, 1, 2, 2, 3))
        media = self.media_dir()
        self.round_names = []
        self.round_token = None
        reqs = []
        used_slots = set()
        window_after = []
        kinds = [("enrol", 14), ("renew", 16), ("renew-tok", 4 if self.level == "very-high" else 1),
                 ("rename", 5), ("newkey", 6), ("reinstall", 5), ("stolen", 8), ("foreign", 8),
                 ("copy", 4), ("reenc", 6), ("nonstrict", 2)]
        for j in range(n):
            kind = forced[j][0] if forced else self.rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
            r = None
            if kind in ("stolen", "foreign", "copy", "reenc", "nonstrict"):
                r = self.gen_csr(kind)
                if r is not None:
                    self.nfile += 1
                    r.fname = "%08x-%d.pem" % (self.rng.getrandbits(32), self.nfile)
            else:
                claims = {self.answer_id(x) for x in reqs} - {None}
                free = [s for s in self.slots if s.idx not in used_slots and s.hostid() not in claims]
                if kind == "enrol":
                    c = [s for s in free if s.hostid() not in self.hosts]
                else:
                    c = [s for s in free if s.hostid() in self.hosts]
                if forced:
                    c = [forced[j][1]]
                if not c:
                    continue
                slot = self.rng.choice(c)
                used_slots.add(slot.idx)
                r = self.gen_host(media, kind, slot, forced[j][2] if forced and len(forced[j]) > 2 else None)
                if r is not None and kind in ("newkey", "reinstall") and r.for_host in self.hosts \
                        and self.rng.random() < 0.35:
                    window_after.append((r.for_host, r.keyfp))
                if r is not None:
                    # a host's request wins over a foreign one for the same host ID
                    reqs = [x for x in reqs if not (x.slot is None and self.answer_id(x) == r.claim)]
            if r is None:
                continue
            if r.slot is None and self.answer_id(r) and any(self.answer_id(x) == self.answer_id(r) for x in reqs):
                continue
            reqs.append(r)
        if not reqs:
            shutil.rmtree(media, ignore_errors=True)
            return
        via_csr = len(reqs) == 1 and reqs[0].slot is None and not forced and self.rng.random() < 0.5
        for r in reqs:
            if r.slot is None and not via_csr:
                r.token_arg = None          # a stick carries only what is in the CSR
                with open(os.path.join(media, "requests", r.fname), "wb") as f:
                    f.write(r.file_bytes)
        # the operator vouches for the new key of a reinstalled/re-keyed host
        for h, fp in window_after:
            self.op_window(h, fp)
        self.log("sign round: %d request(s) via %s" % (len(reqs), "--csr" if via_csr else "--media"))
        results = self.sign_round(reqs, media, via_csr)
        # hosts install
        for r, answered, cert, err in results:
            if r.slot is None or not answered or cert is None or cert.serial not in self.certs:
                continue
            c = self.certs[cert.serial]
            if c.step != self.stepno or not self.valid(c):
                continue
            rc, out, err = self.hc("host", "install", "--media", media, "--ca-fingerprint", self.ca_fp,
                                   host=r.slot.dir)
            if rc != 0:
                self.bad("hosts", "%s: host install of fresh %s: exit %d %s" % (
                    r.origin, c.hexs, rc, self.first_err(err)))
            else:
                arch = os.path.join(self.edir, "arch-%X" % c.serial)
                os.makedirs(os.path.join(arch, "responses"))
                shutil.copy(os.path.join(media, "responses", (r.claim or c.host) + ".pem"),
                            os.path.join(arch, "resp.pem"))
                shutil.copy(os.path.join(media, "crl.pem"), os.path.join(arch, "crl.pem"))
                r.slot.archive.append((c.host, c.serial, c.nb, arch))
                self.note_host_keys(r.slot)
        shutil.rmtree(media, ignore_errors=True)

    def answer_id(self, r):
        """The host ID a request's answer is filed under on the stick: the one
        it carries, or its reissue token's (one answer per file: a batch has
        at most one request per host ID)."""
        if r.claim:
            return r.claim
        t = self.tok_by_value.get(norm_token(r.token)) if r.token else None
        return t.host if t is not None and t.kind == "reissue" else None

    def op_renew_revoke_renew(self):
        """I3 directed: a host renews, its newest certificate is revoked by
        serial, and it renews again (its older certificate is still valid)."""
        c = [s for s in self.slots if s.has_cert() and s.hostid() in self.hosts
             and self.valid(self.newest(s.hostid()))]
        if not c:
            return
        slot = self.rng.choice(c)
        h = slot.hostid()
        self.log("I3 scenario for h%d (%s): renew, revoke the newest, renew" % (slot.idx, h[:8]))
        self.exercise["I3 scenario"] += 1
        n = len(self.hosts[h])
        self.op_round([("renew", slot)])
        if len(self.hosts[h]) == n or not self.valid(self.newest(h)):
            return
        nw = self.newest(h)
        reason, arg = self.pick_reason()
        rc, out, err = self.ca("ca", "revoke", "--serial", nw.hexs, "--reason", arg)
        self.log("ca revoke --serial %s (newest of %s) --reason %s -> exit %d" % (nw.hexs[:8], h[:8], arg, rc))
        if rc != 0:
            self.bad("policy", "ca revoke --serial %s (valid) --reason %s: exit %d %s" % (
                nw.hexs, arg, rc, self.first_err(err)))
        self.revoke(nw, reason, "policy")
        self.sync()
        self.op_round([("renew", slot)])

    def op_reissue_twice(self):
        """I7 directed: two reissue tokens for one host; the first reissues
        it; the second must then authorize nothing."""
        c = [s for s in self.slots if s.hostid() in self.hosts]
        if not c or self.ca_expired():
            return
        slot = self.rng.choice(c)
        h = slot.hostid()
        self.log("I7 scenario for h%d (%s): two reissue tokens, both used" % (slot.idx, h[:8]))
        self.exercise["I7 scenario"] += 1
        t1 = self.create_token("reissue", h)
        t2 = self.create_token("reissue", h)
        if t1 is None or t2 is None:
            return
        at_ca = self.rng.random() < 0.5
        for t in (t1, t2):
            if slot.hostid() != h:
                return
            td = "reissue-token %s (%s)" % (t.name, self.tok_state(t.value)[1])
            if not at_ca:
                kind = self.rng.choice(("newkey", "rename", "reinstall"))
                self.op_round([(kind, slot, (t.value, td))])
                continue
            # the same at the CA: a CSR with a new key, the token typed there
            media = self.media_dir()
            nw = self.newest(h)
            names = list(nw.raw) if nw.raw else self.pick_names()
            r = self.parse_req(self.make_csr(self.new_key(), names, h, None),
                               "csr new key for %s names=%s %s --token-file" % (h[:8], ",".join(names), td))
            r.token_arg = t.value
            self.log("sign round: 1 request(s) via --csr")
            self.sign_round([r], media, True)
            shutil.rmtree(media, ignore_errors=True)

    def op_window_stranger(self):
        """I6 directed: a window without --key, then a fresh key from whoever
        holds the stick claims the host (and sometimes the host itself renames)."""
        if not self.hosts or self.ca_expired():
            return
        h = self.rng.choice(sorted(self.hosts))
        self.log("I6 scenario for %s: a window, then a stranger's key" % h[:8])
        self.exercise["I6 scenario"] += 1
        self.op_window(h, None)
        media = self.media_dir()
        key = self.new_key()
        nw = self.newest(h)
        names = list(nw.raw) if nw.raw and self.rng.random() < 0.7 else self.pick_names()
        data = self.make_csr(key, names, h, None)
        r = self.parse_req(data, "csr stranger's fresh key claim=%s names=%s under a window" % (
            h[:8], ",".join(names)))
        self.nfile += 1
        r.fname = "%08x-%d.pem" % (self.rng.getrandbits(32), self.nfile)
        via_csr = self.rng.random() < 0.5
        if not via_csr:
            with open(os.path.join(media, "requests", r.fname), "wb") as f:
                f.write(r.file_bytes)
        self.sign_round([r], media, via_csr)
        shutil.rmtree(media, ignore_errors=True)

    def op_window(self, h=None, keyfp=None):
        if h is None:
            if not self.hosts:
                return
            h = self.rng.choice(sorted(self.hosts))
            x = self.rng.random()
            if x < 0.3 and self.keys:
                keyfp = self.rng.choice(sorted(self.keys))
        dur = self.rng.choice((None, None, "1h", "7d", "30d"))
        secs = {None: 48 * 3600, "1h": 3600, "7d": 7 * DAY, "30d": 30 * DAY}[dur]
        args = ["ca", "allow-reissue", "--host", h]
        if dur:
            args += ["--for", dur]
        if keyfp:
            args += ["--key", keyfp if self.rng.random() < 0.5 else ":".join(
                keyfp[i:i + 2] for i in range(0, 64, 2)).upper()]
        rc, out, err = self.ca(*args)
        self.exercise["I6"] += 1
        want = 1 if self.level == "very-high" else 0
        self.log("ca allow-reissue --host %s%s%s -> exit %d %s" % (
            h[:8], " --for " + dur if dur else "", " --key " + keyfp[:8] + ".." if keyfp else "", rc,
            self.first_err(err) if rc else ""))
        if self.ca_expired() or (keyfp in self.compromised and rc in (0, 1)):
            want = rc                    # (a window for a dead key vouches for nothing anyway: I1)
        if rc != want:
            self.bad("I6", "ca allow-reissue --host %s%s at %s: exit %d, want %d: %s" % (
                h[:8], " --key FP" if keyfp else "", self.level, rc, want, self.first_err(err)))
        if rc == 0:
            # one window per host: a new one replaces it
            self.windows[h] = [Window(h, self.now + secs, [keyfp] if keyfp else [], self.level)]

    def op_token(self):
        x = self.rng.random()
        if x < 0.55 or not self.hosts:
            self.create_token("auth")
        else:
            # reissue tokens, also a second one for a host that has one (I7)
            withtok = sorted({t.host for t in self.tokens.values() if t.kind == "reissue"} & set(self.hosts))
            h = self.rng.choice(withtok) if withtok and self.rng.random() < 0.4 else \
                self.rng.choice(sorted(self.hosts))
            self.create_token("reissue", h)

    def op_token_delete(self):
        c = [t for t in self.tokens.values() if not t.deleted and not t.cleaned]
        if not c:
            return
        t = self.rng.choice(c)
        rc, out, err = self.ca("token", "delete", t.name, "--reason", "model")
        self.log("token delete %s -> exit %d" % (t.name, rc))
        if rc != 0:
            self.bad("tokens", "token delete %s: exit %d %s" % (t.name, rc, self.first_err(err)))
        else:
            t.deleted = True

    def op_token_cleanup(self):
        rc, out, err = self.ca("token", "cleanup")
        self.log("token cleanup -> exit %d" % rc)
        if rc != 0:
            self.bad("tokens", "token cleanup: exit %d %s" % (rc, self.first_err(err)))
            return
        rc, out, err = self.ca("token", "list", json_out=True)
        try:
            listed = {e["name"] for e in json.loads(out)["tokens"]}
        except Exception:
            self.bad("views", "token list --json unreadable: %s" % (out or err)[:160])
            return
        for t in self.tokens.values():
            st = self.tok_state(t.value)[1]
            if t.name not in listed:
                if st == "valid":
                    self.bad("tokens", "token cleanup removed usable token %s" % t.name)
                t.cleaned = True

    def pick_reason(self):
        r = self.rng.choice(REASONS + ("keyCompromise", "keyCompromise", "superseded", "cessationOfOperation"))
        return r, (str(REASON_NUM[r]) if self.rng.random() < 0.2 else r)

    def op_revoke_host(self):
        if not self.hosts:
            return
        hs = sorted(self.hosts)
        withvalid = [h for h in hs if any(self.valid(self.certs[s]) for s in self.hosts[h])]
        h = self.rng.choice(withvalid if withvalid and self.rng.random() < 0.85 else hs)
        self.revoke_host(h)

    def revoke_host(self, h, reason=None):
        reason, arg = self.pick_reason() if reason is None else (reason, reason)
        v = [self.certs[s] for s in self.hosts[h] if self.valid(self.certs[s])]
        rc, out, err = self.ca("ca", "revoke", "--host", h, "--reason", arg)
        self.log("ca revoke --host %s --reason %s (%d valid) -> exit %d %s" % (
            h[:8], arg, len(v), rc, self.first_err(err) if rc else ""))
        self.exercise["I4"] += 1
        if v and rc != 0:
            self.bad("I4", "ca revoke --host %s (%d valid certificates, %d in all): exit %d: %s" % (
                h, len(v), len(self.hosts[h]), rc, self.first_err(err) or "(no message)"))
        elif not v and rc not in (0, 1):
            self.bad("I4", "ca revoke --host %s (no valid certificate): exit %d: %s" % (
                h, rc, self.first_err(err) or "(no message)"))
        if rc == 0 or v:
            for c in v:
                self.revoke(c, reason, "I4")
        self.sync()

    def op_revoke_serial(self):
        v = [c for c in self.certs.values() if self.valid(c)]
        if not v:
            return
        # prefer the newest certificate of a host that also has an older valid one (I3)
        two = [self.newest(h) for h, ss in self.hosts.items()
               if self.valid(self.newest(h)) and sum(1 for s in ss if self.valid(self.certs[s])) > 1]
        c = self.rng.choice(two if two and self.rng.random() < 0.6 else v)
        reason, arg = self.pick_reason()
        rc, out, err = self.ca("ca", "revoke", "--serial", c.hexs, "--reason", arg)
        self.log("ca revoke --serial %s (%s of %s) --reason %s -> exit %d %s" % (
            c.hexs[:8], c.kind, (c.host or "?")[:8], arg, rc, self.first_err(err) if rc else ""))
        if rc != 0:
            self.bad("policy", "ca revoke --serial %s (valid) --reason %s: exit %d %s" % (
                c.hexs, arg, rc, self.first_err(err)))
        self.revoke(c, reason, "policy")
        self.sync()

    def op_raise(self):
        """I2: revoked for another reason, then keyCompromise."""
        c = [c for c in self.certs.values() if c.revoked and c.reason != "keyCompromise" and c.keyfp]
        if not c:
            return
        fresh = [x for x in c if self.now <= x.na]
        c = self.rng.choice(fresh if fresh and self.rng.random() < 0.8 else c)
        arg = "keyCompromise" if self.rng.random() < 0.8 else "1"
        old = c.reason
        num = self.crl_num
        rc, out, err = self.ca("ca", "revoke", "--serial", c.hexs, "--reason", arg)
        self.log("ca revoke --serial %s (%s, revoked %s) --reason %s -> exit %d %s" % (
            c.hexs[:8], (c.host or "?")[:8], old, arg, rc, self.first_err(err)))
        self.exercise["I2"] += 1
        if rc != 0:
            self.bad("I2", "ca revoke --serial %s --reason keyCompromise on a certificate revoked as %s: exit %d: %s"
                     % (c.hexs, old, rc, self.first_err(err)))
        self.raised.add(c.serial)
        c.reason = "keyCompromise"
        c.exp_tag = "I2"
        self.sync()
        if self.crl_num == num and not c.crl_after_na:
            self.bad("I2", "raising %s from %s to keyCompromise published no new CRL (still #%s)" % (
                c.hexs, old, num))

    def op_rerevoke(self):
        """Another reason on a revoked certificate: keyCompromise must stay."""
        c = [c for c in self.certs.values() if c.revoked and c.keyfp]
        if not c:
            return
        c = self.rng.choice(c)
        reason, arg = self.pick_reason()
        if reason == "keyCompromise":
            return
        rc, out, err = self.ca("ca", "revoke", "--serial", c.hexs, "--reason", arg)
        self.log("ca revoke --serial %s (revoked %s) --reason %s -> exit %d" % (c.hexs[:8], c.reason, arg, rc))
        if rc not in (0, 1):
            self.bad("policy", "ca revoke --serial %s (revoked) --reason %s: exit %d %s" % (
                c.hexs, arg, rc, self.first_err(err)))
        # the model keeps its reason; keyCompromise never goes away (I1), any
        # other change is adopted from ca list
        listing = self.ca_list()
        e = listing.get(c.serial) or {}
        got = norm_reason(e.get("reason"))
        if c.reason == "keyCompromise" and e.get("status") == "revoked" and got != "keyCompromise":
            self.bad("I1", "ca revoke --serial %s --reason %s turned keyCompromise into %s" % (c.hexs, arg, got))
        elif e.get("status") == "revoked" and c.reason != "keyCompromise":
            c.reason = got
        self.sync(listing)

    def op_level(self):
        lv = self.rng.choice([x for x in LEVELS if x != self.level])
        rc, out, err = self.ca("ca", "config", "security", lv)
        self.log("ca config security %s -> exit %d" % (lv, rc))
        if rc != 0:
            self.bad("policy", "ca config security %s: exit %d %s" % (lv, rc, self.first_err(err)))
        else:
            self.level = lv

    def op_clock(self):
        cd = self.cert_days * DAY
        choices = [(600, 3000), (3600, 4 * 3600), (25 * 3600, 50 * 3600), (2 * DAY, 8 * DAY),
                   (cd - 2 * 3600, cd + 2 * DAY), (7 * DAY + 60, 8 * DAY)]
        if self.short_ca:
            choices = [(600, 3000), (3600, 6 * 3600), (10 * 3600, 30 * 3600)]
        lo, hi = self.rng.choice(choices)
        d = self.rng.randint(lo, hi) | 1
        self.now += d
        self.log("clock +%dd%02dh%02dm" % (d // DAY, d % DAY // 3600, d % 3600 // 60))
        self.global_checks()

    def op_crl(self):
        rc, out, err = self.ca("ca", "crl")
        self.log("ca crl -> exit %d" % rc)
        if rc != 0 and not self.ca_expired():
            self.bad("views", "ca crl: exit %d %s" % (rc, self.first_err(err)))
        self.check_crl()

    def op_export(self):
        """ca export never writes an expired CRL (I11)."""
        m = self.media_dir()
        rc, out, err = self.ca("ca", "export", "--media", m)
        self.log("ca export -> exit %d" % rc)
        if rc == 0 and not self.ca_expired():
            self.exercise["I11"] += 1
            with open(os.path.join(m, "crl.pem"), "rb") as f:
                crl = x509.load_pem_x509_crl(f.read())
            nxt = ts(crl, "next_update")
            if nxt <= self.now:
                self.bad("I11", "ca export wrote a CRL whose nextUpdate (%s) has passed" % fmt_t(nxt, self.t0))
        self.check_crl()
        shutil.rmtree(m, ignore_errors=True)

    def op_verify_stale(self):
        """hostca verify refuses a CRL past its nextUpdate (I11)."""
        if self.crl_next is None or self.now <= self.crl_next:
            return
        v = [c for c in self.certs.values() if c.path and self.valid(c)]
        if not v:
            return
        c = self.rng.choice(v)
        rc, out, err = self.hc("verify", "--ca", os.path.join(self.cadir, "ca.pem"), "--crl",
                               os.path.join(self.cadir, "crl.pem"), c.path)
        self.log("hostca verify %s with a CRL past nextUpdate -> exit %d" % (c.hexs[:8], rc))
        self.exercise["I11"] += 1
        if rc == 0:
            self.bad("I11", "hostca verify accepted %s against a CRL whose nextUpdate passed %s ago" % (
                c.hexs, fmt_t(self.now - self.crl_next + self.t0, self.t0)[2:]))

    def op_old_install(self):
        """An old stick: a host never installs an older certificate (I11)."""
        c = [s for s in self.slots if s.has_cert() and s.archive]
        if not c:
            return
        slot = self.rng.choice(c)
        hid = slot.hostid()
        try:
            with open(os.path.join(slot.dir, "host.pem"), "rb") as f:
                cur = x509.load_pem_x509_certificate(f.read())
        except Exception:
            return
        cur_nb = ts(cur, "not_valid_before")
        old = [a for a in slot.archive if a[0] == hid and a[1] != cur.serial_number and a[2] < cur_nb]
        if not old:
            return
        h, serial, nb, arch = self.rng.choice(old)
        m = self.media_dir()
        os.makedirs(os.path.join(m, "responses"), exist_ok=True)
        shutil.copy(os.path.join(arch, "resp.pem"), os.path.join(m, "responses", hid + ".pem"))
        shutil.copy(os.path.join(arch, "crl.pem"), os.path.join(m, "crl.pem"))
        shutil.copy(os.path.join(self.cadir, "ca.pem"), os.path.join(m, "ca.pem"))
        rc, out, err = self.hc("host", "install", "--media", m, host=slot.dir)
        self.log("h%d install of old %X from a stale stick (installed %X) -> exit %d" % (
            slot.idx, serial, cur.serial_number, rc))
        self.exercise["I11h"] += 1
        if rc == 0:
            self.bad("I11h", "host %s installed older certificate %X over %X from an old stick" % (
                hid, serial, cur.serial_number))
        shutil.rmtree(m, ignore_errors=True)

    def burst_candidates(self):
        return [h for h in self.hosts if self.valid(self.newest(h)) and self.newest(h).keyfp in self.keys
                and self.newest(h).raw]

    def op_burst(self, k=None):
        """Many token-free renewals of one host in a row (I4), via ca sign --csr."""
        c = self.burst_candidates()
        if not c or self.level == "very-high":
            return
        h = self.rng.choice(sorted(c))
        k = k or self.rng.randint(5, 30)
        self.log("burst of %d renewals of %s via ca sign --csr" % (k, h[:8]))
        self.exercise["burst"] += 1
        media = self.media_dir()
        got = collections.Counter()
        for i in range(k):
            nw = self.newest(h)
            if not self.valid(nw) or nw.keyfp not in self.keys:
                break
            data = self.make_csr(self.keys[nw.keyfp], list(nw.raw), h, None)
            r = self.parse_req(data, "burst renewal %d/%d of %s" % (i + 1, k, h[:8]))
            r.via = "csr"
            outs, tag, why = self.decide(r)
            f = os.path.join(media, "req.pem")
            with open(f, "wb") as fh:
                fh.write(data)
            out = os.path.join(media, "out.pem")
            if os.path.exists(out):
                os.unlink(out)
            rc, o, err = self.ca("ca", "sign", "--csr", f, "--out", out)
            if rc != 0:
                got["refused"] += 1
                if "refuse" not in {x[0] for x in outs}:
                    self.bad(self.resolve_tag(tag, r, "refuse", self.first_err(err)),
                             "%s: expected %s, exit %d: %s" % (r.origin, why, rc, self.first_err(err)))
                    break
                continue
            with open(out, "rb") as fh:
                cert = self.load_cert(pem_blocks(fh.read(), "CERTIFICATE")[0], None)
            cert.path = self.save_cert(pem_blocks(open(out, "rb").read(), "CERTIFICATE")[0])
            kind = "renewal" if cert.host in self.hosts else "new"
            got[kind] += 1
            if kind not in {x[0] for x in outs}:
                self.bad(self.resolve_tag(tag, r, kind, ""), "%s: expected %s, got %s %s" % (
                    r.origin, why, kind, cert.hexs))
            self.apply_issue(r, cert, kind, effects=kind in {x[0] for x in outs})
        self.log("burst: %s" % dict(got))
        shutil.rmtree(media, ignore_errors=True)
        self.sync()
        if k >= 100:
            self.revoke_host(h, "cessationOfOperation")

    # -- the run ----------------------------------------------------------------

    def pick_op(self):
        ops = [(self.op_round, 46), (self.op_token, 8), (self.op_token_delete, 2), (self.op_token_cleanup, 1),
               (self.op_window, 5), (self.op_revoke_host, 4), (self.op_revoke_serial, 6), (self.op_raise, 4),
               (self.op_rerevoke, 1), (self.op_level, 3), (self.op_clock, 6), (self.op_crl, 1),
               (self.op_export, 1), (self.op_verify_stale, 1), (self.op_old_install, 2), (self.op_burst, 1),
               (self.op_renew_revoke_renew, 1.5), (self.op_reissue_twice, 1), (self.op_window_stranger, 1)]
        return self.rng.choices([o for o, _ in ops], [w for _, w in ops])[0]

    def end_episode(self):
        self.log("end of episode %d: ca crl, every certificate judged, every host revoked" % self.episode)
        if not self.ca_expired():
            self.ca("ca", "crl")
            self.check_crl()
            self.judge(every=True)
            for h in sorted(self.hosts):
                if any(self.valid(self.certs[s]) for s in self.hosts[h]):
                    self.revoke_host(h, self.rng.choice(REASONS))
            self.judge(every=True)
        rc, out, err = self.ca("ca", "check")
        if rc != 0:
            self.bad("views", "ca check after episode %d: exit %d %s" % (self.episode, rc, self.first_err(err)))

    def avoid_edges(self):
        """Keeps the clock off the instants where a token, window, certificate,
        CRL or the CA expires: the model does not guess at the boundaries."""
        edges = {self.ca_na}
        edges.update(t.expires for t in self.tokens.values())
        edges.update(w.until for ws in self.windows.values() for w in ws)
        edges.update(c.na for c in self.certs.values())
        if self.crl_next:
            edges.add(self.crl_next)
        while any(abs(self.now - e) <= 2 for e in edges):
            self.now += 5

    def run(self):
        start = time.time()
        os.makedirs(self.work, exist_ok=True)
        # a snapshot of the binary: a rebuild during the run cannot swap it
        if not os.environ.get("MODEL_NO_SNAPSHOT"):
            snap = os.path.join(self.work, "hostca-under-test")
            shutil.copy2(self.bin, snap)
            self.bin = snap
        done = 0
        self.level = "-"
        big = self.burst
        while done < self.steps:
            self.new_episode()
            length = self.rng.randint(120, 360)
            if self.short_ca:
                length = 1000            # until 25 steps after the CA expired (I8)
            for i in range(length):
                if done >= self.steps:
                    break
                self.stepno += 1
                self.lenient = set()
                self.now += self.rng.randint(5, 120)
                self.avoid_edges()
                op = self.pick_op()
                if big and i >= 25 and self.level != "very-high" and self.burst_candidates():
                    self.op_burst(big)
                    big = 0
                else:
                    op()
                if self.rng.random() < 0.15:
                    self.judge()
                done += 1
                if self.ca_expired():
                    self.ca_expired_steps += 1
                    if self.ca_expired_steps > 25:
                        break
            self.end_episode()
            shutil.rmtree(self.edir, ignore_errors=True)
        self.elapsed = time.time() - start
        self.done = done


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.environ.get("HOSTCA_T", "./hostca-test"))
    ap.add_argument("--seed", default=os.environ.get("MODEL_SEED") or str(random.SystemRandom().randrange(1 << 31)))
    ap.add_argument("--steps", type=int, default=int(os.environ.get("MODEL_STEPS", "1500")))
    ap.add_argument("--burst", type=int, default=int(os.environ.get("MODEL_BURST", "340")))
    ap.add_argument("--work", default=None)
    ap.add_argument("--replay-hint", default="")
    ap.add_argument("--trace", default=None, help="write every step to this file")
    args = ap.parse_args()
    own = args.work is None
    if own:
        import tempfile
        args.work = tempfile.mkdtemp(prefix="hostca-model.")
    m = Model(args)
    crashed = None
    try:
        m.run()
    except Exception as e:
        crashed = "%s: %s" % (type(e).__name__, e)
        traceback.print_exc()
        m.elapsed = 0
        m.done = m.stepno
    finally:
        if own:
            shutil.rmtree(args.work, ignore_errors=True)
    seed = m.seed
    print("#model: seed %s, %d steps in %d episodes, %d hostca runs, %.1f s (%.1f s per 1000 steps)" % (
        seed, m.done, m.episode, m.calls, m.elapsed, 1000.0 * m.elapsed / max(1, m.done)), flush=True)
    print("#model: exercised: %s" % ", ".join("%s=%d" % kv for kv in sorted(m.exercise.items())))
    for tag, desc in CHECKS:
        d = "model: %s (seed %s)" % (desc, seed)
        if tag in m.failed:
            ep, step, msg, trail = m.failed[tag]
            print("FAIL\t%s\t%s (episode %d, step %d; %d violations)" % (
                d, msg.replace("\t", " ").replace("\n", " "), ep, step, m.hits[tag]))
            print("#   replay: MODEL_SEED=%s %s; the ops before it (step [level] clock):" % (
                seed, args.replay_hint or "MODEL_STEPS=%d MODEL_BURST=%d" % (args.steps, args.burst)))
            for line in trail:
                print("#     " + line)
            for sig, (vep, vstep, vmsg) in list(m.variants.get(tag, {}).items())[1:]:
                print("#   %s also (episode %d, step %d): %s" % (tag, vep, vstep, vmsg[:300]))
        else:
            print("ok\t%s" % d)
    if crashed:
        print("FAIL\tmodel: model.py ran to its end (seed %s)\t%s at step %d" % (seed, crashed, m.stepno))
        for line in list(m.trail)[-10:]:
            print("#     " + line)
        return 2
    return 1 if m.failed else 0


if __name__ == "__main__":
    sys.exit(main())
