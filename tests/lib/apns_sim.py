"""tests/sim/apns_sim as a Python object, plus the credentials the APNs tests generate: a .p8
signing key (EC P-256, PKCS#8) and a client certificate issued by a throwaway CA, made with the
openssl command line so that nothing in the test shares code with what it tests."""
import json
import os
import subprocess
import tempfile
import urllib.request

import harness

SIM_BIN = os.path.join(harness.BUILD_DIR, "sim", "apns_sim")
TESTCA = os.path.join(harness.SOURCE_DIR, "tests", "sim", "testca")
CA = os.path.join(TESTCA, "ca.pem")


def openssl(*args, cwd=None):
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd)


class Credentials:
    """A .p8 token key (kid, team) and a client certificate for bundle_id, in a temp dir."""

    def __init__(self, bundle_id="com.example.repoint", kid="ABC123DEFG", team="TEAM123456"):
        self.dir = tempfile.mkdtemp(prefix="rp-apns-")
        self.kid, self.team, self.bundle_id = kid, team, bundle_id
        d = self.dir
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{d}/ec.pem")
        openssl("pkcs8", "-topk8", "-nocrypt", "-in", f"{d}/ec.pem", "-out", f"{d}/AuthKey.p8")
        # Client certificates: Apple puts the bundle id in the subject's UID.
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/ca.key",
                "-out", f"{d}/client-ca.pem", "-days", "400", "-subj", "/CN=Test Apple WWDR")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/client.key",
                "-out", f"{d}/client.csr",
                "-subj", f"/UID={bundle_id}/CN=Apple Push Services: {bundle_id}")
        with open(f"{d}/ext", "w") as f:
            f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
        openssl("x509", "-req", "-in", f"{d}/client.csr", "-CA", f"{d}/client-ca.pem",
                "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-days", "365",
                "-extfile", f"{d}/ext", "-out", f"{d}/client.pem")

    def read(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return f.read()

    @property
    def p8_path(self):
        return os.path.join(self.dir, "AuthKey.p8")

    @property
    def client_ca(self):
        return os.path.join(self.dir, "client-ca.pem")

    def token_channel(self, **extra):
        return {"TokenKey": self.read("AuthKey.p8"), "TokenKeyId": self.kid,
                "TeamId": self.team, "BundleId": self.bundle_id,
                "DefaultAuthenticationMethod": "TOKEN", "Enabled": True, **extra}

    def certificate_channel(self, **extra):
        return {"Certificate": self.read("client.pem"), "PrivateKey": self.read("client.key"),
                "DefaultAuthenticationMethod": "CERTIFICATE", "Enabled": True, **extra}


class ApnsSim:
    """An apns_sim process on free loopback ports; stopped by stop()."""

    def __init__(self, creds=None, environment="production", extra=()):
        args = [SIM_BIN, "--tls-cert", os.path.join(TESTCA, "server.pem"),
                "--tls-key", os.path.join(TESTCA, "server.key"), "--environment", environment,
                *extra]
        if creds:
            args += ["--key", f"{creds.kid}:{creds.team}:{creds.p8_path}",
                     "--client-ca", creds.client_ca]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        line = self.proc.stdout.readline()
        assert "listening" in line, f"apns_sim did not start: {line!r}"
        words = line.split()
        self.url = words[words.index("on") + 1]
        self.control = words[words.index("control") + 1]

    def call(self, method, path, doc=None):
        data = json.dumps(doc).encode() if doc is not None else None
        req = urllib.request.Request(self.control + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def config(self, **kw):
        return self.call("POST", "/sim/config", kw)

    def reset(self):
        return self.call("POST", "/sim/reset", {})

    def stats(self):
        return self.call("GET", "/sim/stats")

    def notifications(self, since=0):
        return self.call("GET", f"/sim/notifications?since={since}&limit=1000000")["notifications"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("apns_sim did not stop within 15 s of SIGTERM")
        return self.proc.returncode
