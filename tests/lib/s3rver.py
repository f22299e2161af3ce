"""An s3rver (npm, tests/peers) on a free loopback port with its data in a temp directory: a real
S3-compatible server (its fixed credentials S3RVER/S3RVER) for import and export jobs.

s3rver checks that the access key exists but leaves SigV4 signatures unverified ("V4 signatures
have incomplete support" in its authentication middleware), so every request reaches it through
a small proxy here that verifies the signature by the SigV4 rules (canonical request, string to
sign, derived key) and the payload hash, and answers 403 SignatureDoesNotMatch otherwise.
boto3 and the AWS CLI go through the same proxy, which shows the verifier agrees with botocore.
Stopped by stop()."""
import hashlib
import hmac
import http.client
import http.server
import os
import shutil
import subprocess
import tempfile
import threading
import urllib.parse

import harness

BIN = os.path.join(harness.SOURCE_DIR, "tests", "peers", "node_modules", ".bin", "s3rver")
ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"


def _canonical_query(raw):
    pairs = []
    for part in raw.split("&") if raw else []:
        k, _, v = part.partition("=")
        k, v = urllib.parse.unquote_plus(k), urllib.parse.unquote_plus(v)
        pairs.append((urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_problem(method, raw_path, headers, body, secret=SECRET_KEY):
    """None when the request carries a valid SigV4 signature for secret, else what is wrong."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "not signed with AWS4-HMAC-SHA256"
    fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    scope = fields["Credential"].split("/", 1)[1]
    date, region, service, _ = scope.split("/")
    signed = fields["SignedHeaders"].split(";")
    for required in ("host", "x-amz-date", "x-amz-content-sha256"):
        if required not in signed:
            return f"{required} is not signed"
    payload = headers.get("x-amz-content-sha256", "")
    if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
        return "x-amz-content-sha256 does not match the body"
    path, _, query = raw_path.partition("?")
    canonical_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed)
    creq = "\n".join([method, path, _canonical_query(query), canonical_headers,
                      fields["SignedHeaders"], payload])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", headers.get("x-amz-date", ""), scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), date), region), service),
                "aws4_request")
    if hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest() != fields["Signature"]:
        return "signature mismatch"
    return None


class _Verifier(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        problem = sigv4_problem(self.command, self.path, headers, body)
        owner = self.server.owner
        if problem:
            owner.refused.append(f"{self.command} {self.path}: {problem}")
            out = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>"
                   b"SignatureDoesNotMatch</Code><Message>" + problem.encode() +
                   b"</Message></Error>")
            self.send_response(403)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        owner.verified += 1
        conn = http.client.HTTPConnection("127.0.0.1", owner.backend_port, timeout=60)
        fwd = {k: v for k, v in self.headers.items()
               if k.lower() not in ("connection", "expect", "transfer-encoding")}
        fwd["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=fwd)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length",
                                 "keep-alive"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any


class S3rver:
    def __init__(self, buckets=("bucket",)):
        self.backend_port = harness.free_port()
        self.verified = 0
        self.refused = []
        self.dir = tempfile.mkdtemp(prefix="rp-s3rver-")
        args = [BIN, "-d", self.dir, "-a", "127.0.0.1", "-p", str(self.backend_port), "-s",
                "--no-vhost-buckets"]
        for b in buckets:
            args += ["--configure-bucket", b]
        self.log = open(os.path.join(self.dir, "s3rver.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        harness.wait_until(self._up, timeout=20, what="s3rver")
        self.proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Verifier)
        self.proxy.owner = self
        self.port = self.proxy.server_address[1]
        threading.Thread(target=self.proxy.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _up(self):
        if self.proc.poll() is not None:
            raise AssertionError("s3rver exited")
        import socket
        try:
            socket.create_connection(("127.0.0.1", self.backend_port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def env(self):
        """The REPOINT_* settings that point repoint's s3.* keys here."""
        return {"REPOINT_S3_ENDPOINT": self.url, "REPOINT_S3_REGION": "us-east-1",
                "REPOINT_S3_ACCESS_KEY_ID": ACCESS_KEY,
                "REPOINT_S3_SECRET_ACCESS_KEY": SECRET_KEY, "REPOINT_S3_PATH_STYLE": "yes"}

    def client(self, secret=SECRET_KEY):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=secret,
                            config=Config(s3={"addressing_style": "path"}))

    def aws(self, *args):
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                   AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_PAGER="")
        p = subprocess.run([harness.aws_cli(), "s3", *args, "--endpoint-url", self.url],
                           capture_output=True, text=True, env=env, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"aws s3 {' '.join(args)}: {p.stderr}")
        return p.stdout

    def stop(self):
        self.proxy.shutdown()
        self.proxy.server_close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
