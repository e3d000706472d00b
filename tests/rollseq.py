#!/usr/bin/env python3
"""rollseq.py: seeded random sequences of CA key rollovers, checked against a
small model and against the artifacts (OpenSSL as the judge).

Operations: enrol a host, revoke one, ca rollover (any key type), ca
rollover --finish (with and without --force), and a stick round (ca export,
every host syncs, ca sign, every host syncs again). The model knows each
key's generation, which generation issued each host's newest certificate and
whether it is valid; it predicts the exit of every rollover command. After
every step the invariants are checked:

  R1  ca check is consistent.
  R2  --finish succeeds exactly when no host's newest valid certificate is of
      the old key (or with --force); a second rollover is refused while one
      is in progress.
  R3  every host certificate verifies (openssl verify -x509_strict
      -crl_check) under the CA certificate of the key that issued it and that
      key's CRL exactly when the model says it is valid.
  R4  a host's pin (ca.pem) is the issuer of its certificate.
  R5  after a stick round every valid host is on the current key, and every
      host's trust.pem + crls.pem accept every other valid host
      (openssl verify -crl_check).
  R6  after a stick round no host keeps a retired key among its other CAs
      (next-*.pem, old-*.pem); every link on the stick verifies under the
      CA certificate of the key that signed it.

Output: "ok<TAB>desc" / "FAIL<TAB>desc<TAB>why" lines (the first counterexample,
the steps that led to it and the seed); exit 1 on a failure.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys

KEYS = ["ec-p256", "ec-p384", "ec-p521", "rsa-2048"]
INV = ["R1", "R2", "R3", "R4", "R5", "R6"]
DESC = {
    "R1": "rollseq R1: ca check is consistent after every step",
    "R2": "rollseq R2: rollover and --finish exits as the model predicts",
    "R3": "rollseq R3: openssl -crl_check verdict on every host certificate matches the model",
    "R4": "rollseq R4: every host's pin is its certificate's issuer",
    "R5": "rollseq R5: after a stick round valid hosts are on the current key and trust each other",
    "R6": "rollseq R6: no retired key stays trusted; every link verifies under its signer",
}


class Fail(Exception):
    pass


class Run:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.w = a.work
        shutil.rmtree(self.w, ignore_errors=True)
        os.makedirs(self.w)
        self.stick = os.path.join(self.w, "stick")
        os.makedirs(self.stick)
        self.ca = os.path.join(self.w, "ca")
        self.gen = 0                 # current key generation
        self.rolling = False
        self.retired = set()         # generations retired
        self.hosts = {}              # name -> {"gen": g, "valid": bool}
        self.nhost = 0
        self.steps = []
        self.checked = {k: 0 for k in INV}
        self.exported = False        # a stick written since the last --finish
        self.links_ok = set()        # links verified already
        self.failed = {}

    def hc(self, *args, ca=True, host=None):
        cmd = [self.a.bin]
        if ca:
            cmd += ["-C", self.ca]
        if host:
            cmd += ["-H", os.path.join(self.w, host)]
        p = subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=self.w)
        if "ERROR: AddressSanitizer" in p.stderr or "runtime error:" in p.stderr:
            sys.stderr.write(p.stderr)
            raise Fail("sanitizer report from hostca %s" % " ".join(args))
        return p

    def ossl(self, *args):
        return subprocess.run(["openssl"] + list(args), capture_output=True, text=True,
                              cwd=self.w)

    def bad(self, inv, msg):
        if inv not in self.failed:
            self.failed[inv] = "%s; seed %d; steps: %s" % (msg, self.a.seed,
                                                         " | ".join(self.steps[-6:]))

    def gen_pem(self, g):
        return os.path.join(self.w, "gen-%d.pem" % g)

    # ---- operations -------------------------------------------------------

    def setup(self):
        p = self.hc("ca", "init", "--name", "Seq-CA", "--security", "medium")
        if p.returncode != 0:
            raise Fail("ca init: " + p.stderr.strip())
        shutil.copy(os.path.join(self.ca, "ca.pem"), self.gen_pem(0))
        self.kids = [self.kid(self.gen_pem(0))]
        p = self.hc("token", "create", "--name", "seq", "--max-uses", "1000", "--valid", "30d")
        self.token = p.stdout.strip().splitlines()[0]
        for _ in range(3):
            self.enrol()

    def fp_now(self):
        p = self.ossl("x509", "-in", os.path.join(self.ca, "ca.pem"), "-noout", "-fingerprint",
                      "-sha256")
        return p.stdout.strip().split("=", 1)[1]

    def enrol(self):
        self.nhost += 1
        name = "h%d" % self.nhost
        m = os.path.join(self.w, "m-" + name)
        os.makedirs(m)
        self.hc("host", "request", "--media", m, "--name", name + ".example", "--token",
                self.token, ca=False, host=name)
        self.hc("ca", "sign", "--media", m)
        p = self.hc("host", "install", "--media", m, "--ca-fingerprint", self.fp_now(),
                    ca=False, host=name)
        if p.returncode != 0:
            raise Fail("enrol %s: %s" % (name, p.stderr.strip()))
        self.hosts[name] = {"gen": self.gen, "valid": True}
        self.steps.append("enrol " + name)

    def revoke(self):
        live = [h for h, s in self.hosts.items() if s["valid"]]
        if not live:
            return
        h = self.rng.choice(live)
        p = self.hc("ca", "revoke", "--host", h + ".example", "--reason", "keyCompromise")
        self.steps.append("revoke " + h)
        if p.returncode != 0:
            raise Fail("revoke %s: %s" % (h, p.stderr.strip()))
        self.hosts[h]["valid"] = False

    def rollover(self):
        key = self.rng.choice(KEYS)
        p = self.hc("ca", "rollover", "--key", key)
        self.steps.append("rollover " + key)
        self.checked["R2"] += 1
        want = 1 if self.rolling else 0
        if p.returncode != want:
            self.bad("R2", "ca rollover exit %d, want %d: %s" % (p.returncode, want,
                                                                 p.stderr.strip()[:160]))
            raise Fail("stop")
        if want == 0:
            self.gen += 1
            self.rolling = True
            shutil.copy(os.path.join(self.ca, "ca.pem"), self.gen_pem(self.gen))
            self.kids.append(self.kid(self.gen_pem(self.gen)))

    def finish(self, force):
        args = ["ca", "rollover", "--finish"] + (["--force"] if force else [])
        p = self.hc(*args)
        self.steps.append("finish" + (" --force" if force else ""))
        self.checked["R2"] += 1
        blocking = [h for h, s in self.hosts.items() if s["valid"] and s["gen"] < self.gen]
        want = 0 if self.rolling and (force or not blocking) else 1
        if p.returncode != want:
            self.bad("R2", "%s exit %d, want %d (rolling %s, hosts on the old key %s): %s"
                     % (" ".join(args), p.returncode, want, self.rolling, blocking,
                        p.stderr.strip()[:160]))
            raise Fail("stop")
        if want == 0:
            for h in blocking:
                self.hosts[h]["valid"] = False
            self.retired.add(self.gen - 1)
            self.rolling = False
            self.exported = False

    def round(self):
        self.steps.append("stick round")
        self.hc("ca", "export", "--media", self.stick)
        self.exported = True
        for h in self.hosts:
            self.hc("host", "sync", "--media", self.stick, ca=False, host=h)
        self.hc("ca", "sign", "--media", self.stick)
        for h in self.hosts:
            self.hc("host", "sync", "--media", self.stick, ca=False, host=h)
        # a valid host on the previous key renewed onto the current one
        for h, s in self.hosts.items():
            if s["valid"] and s["gen"] < self.gen:
                s["gen"] = self.gen
        self.check_round()

    # ---- invariants -------------------------------------------------------

    def crl_of(self, g):
        if g == self.gen:
            return os.path.join(self.ca, "crl.pem")
        if g == self.gen - 1 and self.rolling:
            return os.path.join(self.ca, "crl-prev.pem")
        if g in self.retired and self.exported:
            # a retired key's last CRL: on the stick, from the journal
            return os.path.join(self.stick, "crl-%s.pem" % self.kids[g])
        return None

    def check_step(self):
        p = self.hc("ca", "check")
        self.checked["R1"] += 1
        if p.returncode != 0:
            self.bad("R1", "ca check exit %d: %s" % (p.returncode, p.stderr.strip()[:200]))
        for h, s in self.hosts.items():
            cert = os.path.join(self.w, h, "host.pem")
            crl = self.crl_of(s["gen"])
            if crl is not None:
                r = self.ossl("verify", "-x509_strict", "-crl_check", "-CAfile",
                              self.gen_pem(s["gen"]), "-CRLfile", crl, cert)
                self.checked["R3"] += 1
                ok = r.returncode == 0
                if ok != s["valid"]:
                    self.bad("R3", "%s (key %d): openssl says %s, model says %s: %s"
                             % (h, s["gen"], "valid" if ok else "not valid",
                                "valid" if s["valid"] else "revoked",
                                (r.stdout + r.stderr).strip().replace("\n", " ")[:160]))
            r = self.ossl("verify", "-CAfile", os.path.join(self.w, h, "ca.pem"), cert)
            self.checked["R4"] += 1
            if r.returncode != 0:
                self.bad("R4", "%s: its ca.pem did not issue host.pem: %s"
                         % (h, (r.stdout + r.stderr).strip().replace("\n", " ")[:160]))

    def kid(self, pem):
        p = subprocess.run("openssl x509 -in '%s' -noout -pubkey | openssl pkey -pubin"
                           " -outform DER | sha256sum" % pem, shell=True,
                           capture_output=True, text=True)
        return p.stdout[:16]

    def check_round(self):
        live = [h for h, s in self.hosts.items() if s["valid"]]
        retired = {self.kids[g] for g in self.retired}
        with open(self.gen_pem(self.gen), "rb") as f:
            cur = f.read()
        for h in live:
            self.checked["R5"] += 1
            with open(os.path.join(self.w, h, "ca.pem"), "rb") as f:
                if f.read() != cur:
                    self.bad("R5", "%s is valid but not pinned to the current key" % h)
        # every host's trust files judge one other valid host (a random one)
        for x in self.hosts:
            others = [y for y in live if y != x]
            for y in ([self.rng.choice(others)] if others else []):
                d = os.path.join(self.w, x)
                r = self.ossl("verify", "-crl_check", "-CAfile", os.path.join(d, "trust.pem"),
                              "-CRLfile", os.path.join(d, "crls.pem"),
                              os.path.join(self.w, y, "host.pem"))
                self.checked["R5"] += 1
                if r.returncode != 0:
                    self.bad("R5", "%s's trust files refuse %s: %s"
                             % (x, y, (r.stdout + r.stderr).strip().replace("\n", " ")[:160]))
        for h in self.hosts:
            d = os.path.join(self.w, h)
            for f in os.listdir(d):
                if f.startswith(("next-", "old-")):
                    self.checked["R6"] += 1
                    if f.split("-", 1)[1][:16] in retired:
                        self.bad("R6", "%s still trusts the retired key in %s" % (h, f))
        for f in sorted(os.listdir(self.stick)):
            if f.startswith("link-"):
                with open(os.path.join(self.stick, f), "rb") as fh:
                    body = fh.read()
                if (f, body) in self.links_ok:
                    continue          # checked once already, unchanged
                self.links_ok.add((f, body))
                signer = f[5:21]
                for g in range(self.gen + 1):
                    if self.kids[g] == signer:
                        r = self.ossl("verify", "-x509_strict", "-CAfile", self.gen_pem(g),
                                      os.path.join(self.stick, f))
                        self.checked["R6"] += 1
                        if r.returncode != 0:
                            self.bad("R6", "%s does not verify under key %d" % (f, g))

    # ---- the run ----------------------------------------------------------

    def run(self):
        self.setup()
        ops = [(self.round, 30), (self.rollover, 18), (lambda: self.finish(False), 14),
               (lambda: self.finish(True), 6), (self.enrol, 10), (self.revoke, 8)]
        total = sum(w for _, w in ops)
        for _ in range(self.a.steps):
            x = self.rng.uniform(0, total)
            for fn, wt in ops:
                if x < wt:
                    break
                x -= wt
            if fn == self.enrol and len(self.hosts) >= 5:
                fn = self.round
            fn()
            self.check_step()
            if self.failed:
                break


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--work", required=True)
    ap.add_argument("--replay-hint", default="")
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)
    r = Run(a)
    try:
        r.run()
    except Fail as e:
        if str(e) != "stop":
            print("FAIL\trollseq: ran to its end\t%s; seed %d; steps: %s"
                  % (e, a.seed, " | ".join(r.steps[-6:])))
            return 2
    for k in INV:
        if k in r.failed:
            print("FAIL\t%s\t%s (replay: ROLLSEQ_SEED=%d %s)" % (DESC[k], r.failed[k], a.seed,
                                                                a.replay_hint))
        elif r.checked[k] == 0 and k in ("R1", "R3", "R4"):
            print("FAIL\t%s\tnothing was checked (seed %d)" % (DESC[k], a.seed))
        else:
            print("ok\t%s (%d checks, %d steps, gen %d)" % (DESC[k], r.checked[k],
                                                            len(r.steps), r.gen))
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
