"""Test harness: real redis-server and repoint processes on free loopback ports, and the real
Pinpoint clients (boto3 and the AWS CLI) pointed at them. Every process a test starts is stopped
when its context exits, even when the test fails."""
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SOURCE_DIR = os.environ.get("RP_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("RP_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
REPOINT_BIN = os.environ.get("REPOINT_BIN") or os.path.join(BUILD_DIR, "repoint")

ACCESS_KEY = "AKRPTESTADMIN0000001"
SECRET_KEY = "test-secret-admin-0123456789abcdefghijklmn"
REGION = "us-east-1"
# The words before {C} in every OTP message template of gateway/otp.c, then the code; and an
# "Otp" JSON member, query or form field (VerifyOTPMessage's request) with a code's digits.
OTP_LOG_LEAKS = [
    ("OTP message", r"(verification code is|Bestätigungscode lautet|código de verificación es"
                    r"|code de vérification est|código de verificação é|認証コードは|인증 코드는"
                    r"|验证码是|驗證碼是)\s*[0-9]{5,8}"),
    ("Otp field", r"(?i)[\"'&?]otp[\"']?\s*[:=]\s*[\"']?[0-9]{5,8}"),
]
# What must never reach a log line: secrets, full phone numbers, device tokens, OTP codes.
LOG_LEAKS = OTP_LOG_LEAKS + [
    ("secret key", re.escape(SECRET_KEY)),
    ("private key", r"PRIVATE KEY"),
    ("full phone number", r"\+[1-9][0-9]{7,14}"),
    ("hex device token", r"\b[0-9a-fA-F]{64}\b"),
    ("bearer token", r"Bearer [A-Za-z0-9._-]{8,}"),
]


def log_leaks(text, patterns=None):
    """Lines of a log that show a secret, a full phone number, a device token or an OTP code
    (or what the given (what, pattern) list names)."""
    found = []
    for n, line in enumerate(text.splitlines()):
        for what, pattern in patterns or LOG_LEAKS:
            m = re.search(pattern, line)
            if m:
                found.append(f"line {n + 1}: {what} ({m.group(0)[:24]}...): {line[:200]}")
    return found


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def resp_command(*args):
    """One command in Redis's wire protocol (RESP): str, bytes or anything str() spells."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RespError(Exception):
    pass


class Resp:
    """A minimal pipelined Redis client (RESP2 over a socket): for loops that ask often, where a
    redis-cli process per question would cost more than what is measured, and for tests that
    pipeline many commands."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.rfile = self.sock.makefile("rb")

    def close(self):
        self.rfile.close()
        self.sock.close()

    def _read(self):
        line = self.rfile.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.rfile.read(n + 2)[:-2]
            return data.decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ConnectionError(f"unexpected RESP line {line!r}")

    def pipeline(self, commands):
        """Sends every command in one write, then reads every reply (errors returned, not
        raised)."""
        self.sock.sendall(b"".join(resp_command(*c) for c in commands))
        return [self._read() for _ in commands]

    def call(self, *args):
        reply = self.pipeline([args])[0]
        if isinstance(reply, RespError):
            raise reply
        return reply


class Redis:
    """A redis-server on a free loopback port with AOF on, data in its own temp dir."""

    def __init__(self, port=None, directory=None):
        self.port = port or free_port()
        self.dir = directory or tempfile.mkdtemp(prefix="rp-redis-")
        self.proc = None
        self._conn = None  # query()'s connection, opened on first use

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--maxmemory-policy", "noeviction", "--daemonize", "no",
             # DEBUG SLEEP from the tests (loopback only): a Redis that answers late.
             "--enable-debug-command", "local", "--logfile",
             os.path.join(self.dir, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.ping, what=f"redis on {self.port}")
        return self

    def ping(self):
        try:
            return self.cli("PING").strip() == "PONG"
        except Exception:
            return False

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True,
                              text=True, timeout=10).stdout

    def query(self, *args):
        """One command over a connection kept open (Resp.call)."""
        if self._conn is None:
            self._conn = Resp(self.port)
        return self._conn.call(*args)

    def pipe(self, commands):
        """Sends many commands (argument tuples) through one redis-cli --pipe; asserts Redis
        answered every one without an error."""
        out = subprocess.run(["redis-cli", "-p", str(self.port), "--pipe"],
                             input=b"".join(resp_command(*c) for c in commands),
                             capture_output=True, timeout=60).stdout.decode()
        assert f"replies: {len(commands)}" in out and "errors: 0" in out, out

    def events(self):
        """Every delivery event on rp:events, parsed (redis-cli --no-raw quotes each field value;
        the JSON one is the event)."""
        found = []
        for line in self.cli("--no-raw", "XRANGE", "rp:events", "-", "+").splitlines():
            line = line.strip()
            if '"{' in line:
                text = line[line.index('"') + 1:line.rindex('"')]
                found.append(json.loads(text.encode().decode("unicode_escape")))
        return found

    def stop(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Repoint:
    """A `repoint serve` process with its own credentials file, secrets key and log file."""

    def __init__(self, redis_url, extra_keys=(), env=None, config_text=None):
        self.dir = tempfile.mkdtemp(prefix="rp-daemon-")
        self.port = free_port()
        self.creds_path = os.path.join(self.dir, "credentials")
        with open(self.creds_path, "w") as f:
            f.write(f"{ACCESS_KEY} {SECRET_KEY}\n")
            for line in extra_keys:
                f.write(line + "\n")
        os.chmod(self.creds_path, 0o600)
        self.key_path = os.path.join(self.dir, "secrets.key")
        with open(self.key_path, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(self.key_path, 0o600)
        self.config_path = None
        if config_text is not None:
            self.config_path = os.path.join(self.dir, "repoint.conf")
            with open(self.config_path, "w") as f:
                f.write(config_text)
        self.log_path = os.path.join(self.dir, "repoint.log")
        self.env = dict(os.environ)
        self.env.update({
            "REPOINT_LISTEN": f"127.0.0.1:{self.port}",
            "REPOINT_REDIS_URL": redis_url,
            "REPOINT_AUTH_CREDENTIALS_FILE": self.creds_path,
            "REPOINT_SECRETS_KEY_FILE": self.key_path,
            "REPOINT_LOG_LEVEL": "debug",
            "REPOINT_REDIS_TIMEOUT_MS": "500",
        })
        self.env.update(env or {})
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait=True):
        args = [REPOINT_BIN, "serve"]
        if self.config_path:
            args += ["--config", self.config_path]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, env=self.env, stdout=self.log, stderr=self.log)
        if wait:
            wait_until(self.healthy, what="repoint health")
        return self

    def healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"repoint exited with {self.proc.returncode}:\n{self.logs()}")
        try:
            with urllib.request.urlopen(self.url + "/repoint/health", timeout=1) as r:
                return r.status == 200
        except Exception:
            return False

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("repoint did not stop within 15 s of SIGTERM")
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def cleanup(self):
        """Stops the daemon and removes its files, after checking that its log carries nothing
        LOG_LEAKS names (every integration test thereby checks what it made Repoint log)."""
        leaks = []
        try:
            self.stop()
        finally:
            if os.path.exists(self.log_path):
                leaks = log_leaks(self.logs())
            shutil.rmtree(self.dir, ignore_errors=True)
        if leaks:
            raise AssertionError("the daemon's log carries what it must not:\n" + "\n".join(leaks))

    def client(self, access_key=ACCESS_KEY, secret_key=SECRET_KEY, retries=0, region=REGION):
        import boto3
        from botocore.config import Config
        return boto3.client(
            "pinpoint", endpoint_url=self.url, region_name=region,
            aws_access_key_id=access_key, aws_secret_access_key=secret_key,
            config=Config(retries={"max_attempts": retries + 1, "mode": "standard"},
                          connect_timeout=5, read_timeout=30))

    def aws(self, *args, access_key=ACCESS_KEY, secret_key=SECRET_KEY, check=True):
        """Runs the real AWS CLI: `aws pinpoint ARGS --endpoint-url ...`; returns parsed JSON
        (or None for empty output). With check=False returns (rc, stdout, stderr)."""
        env = dict(os.environ)
        env.update({"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key,
                    "AWS_DEFAULT_REGION": REGION, "AWS_MAX_ATTEMPTS": "1",
                    "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                    "AWS_PAGER": ""})
        cmd = [aws_cli(), "pinpoint", *args, "--endpoint-url", self.url, "--output", "json"]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        if not check:
            return p.returncode, p.stdout, p.stderr
        if p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return json.loads(p.stdout) if p.stdout.strip() else None


def aws_cli():
    return shutil.which("aws") or "/usr/bin/aws"


@contextlib.contextmanager
def stack(extra_keys=(), env=None, config_text=None):
    """A Redis and a Repoint, both stopped at exit. Yields (redis, repoint)."""
    redis = Redis().start()
    daemon = None
    try:
        daemon = Repoint(redis.url, extra_keys=extra_keys, env=env, config_text=config_text)
        daemon.start()
        yield redis, daemon
    except BaseException as e:
        quiet = isinstance(e, SystemExit) and not e.code
        if not quiet and daemon is not None and os.path.exists(daemon.log_path):
            sys.stderr.write("---- repoint log ----\n" + daemon.logs()[-20000:] + "\n")
        raise
    finally:
        if daemon is not None:
            daemon.cleanup()
        redis.cleanup()


def run_tests(tests):
    """Runs test functions in order, prints 'N passed, N failed', exits non-zero on a failure."""
    passed = failed = 0
    for t in tests:
        name = t.__name__
        start = time.monotonic()
        try:
            t()
            passed += 1
            print(f"PASS {name} ({time.monotonic() - start:.1f}s)", flush=True)
        except Exception:
            failed += 1
            import traceback
            print(f"FAIL {name}", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def signed_request(url, method, path, body=b"", access_key=ACCESS_KEY, secret_key=SECRET_KEY,
                   region=REGION, service="mobiletargeting", headers=None, when=None,
                   tamper=None, sign=True):
    """Sends one request signed by botocore's own SigV4 signer (as boto3 would), optionally
    signed at another time, for another service, or altered after signing by tamper(request).
    Returns (status, headers, parsed JSON body or raw text)."""
    import datetime
    import http.client
    from unittest import mock
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    req = botocore.awsrequest.AWSRequest(method=method, url=url + path, data=body,
                                         headers=dict(headers or {}))
    if body and "Content-Type" not in req.headers:
        req.headers["Content-Type"] = "application/json"
    if sign:
        creds = botocore.credentials.Credentials(access_key, secret_key)
        signer = botocore.auth.SigV4Auth(creds, service, region)
        if when is not None:
            real = datetime.datetime

            class Fixed(real):
                @classmethod
                def utcnow(cls):
                    return when

                @classmethod
                def now(cls, tz=None):
                    return when.replace(tzinfo=tz) if tz else when
            with mock.patch("botocore.auth.datetime.datetime", Fixed):
                signer.add_auth(req)
        else:
            signer.add_auth(req)
    prepared = req.prepare()
    if tamper:
        prepared = tamper(prepared)
    host = url.split("//", 1)[1]
    conn = http.client.HTTPConnection(host, timeout=30)
    target = prepared.url.split(host, 1)[1]
    conn.request(method, target, body=prepared.body, headers=dict(prepared.headers))
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = data.decode(errors="replace")
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed


SIM_DIR = os.path.join(BUILD_DIR, "sim")
TESTCA_DIR = os.path.join(SOURCE_DIR, "tests", "sim", "testca")
SMS_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
SMS_AUTH_TOKEN = "sim-auth-token-0123456789abcdef"


class SmsSim:
    """The Twilio-compatible simulator (tests/sim/sms_sim.c) on a free loopback port, over
    HTTPS with the test CA unless tls=False."""

    def __init__(self, tls=True, extra_args=()):
        self.port = free_port()
        self.tls = tls
        self.proc = None
        self.extra = list(extra_args)
        self.log_path = tempfile.mktemp(prefix="rp-smssim-", suffix=".log")

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self):
        args = [os.path.join(SIM_DIR, "sms_sim"), "--port", str(self.port), "--account-sid",
                SMS_ACCOUNT_SID, "--auth-token", SMS_AUTH_TOKEN, *self.extra]
        if self.tls:
            args += ["--tls-cert", os.path.join(TESTCA_DIR, "server.pem"),
                     "--tls-key", os.path.join(TESTCA_DIR, "server.key")]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        wait_until(lambda: self._alive(), what="sms simulator")
        return self

    def _alive(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"sms_sim exited {self.proc.returncode}")
        try:
            self.stats()
            return True
        except Exception:
            return False

    def _call(self, method, path, body=None):
        import ssl
        ctx = ssl.create_default_context(cafile=os.path.join(TESTCA_DIR, "ca.pem")) \
            if self.tls else None
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            text = r.read()
            return json.loads(text) if text else None

    def stats(self):
        return self._call("GET", "/sim/stats")

    def messages(self, since=0):
        return self._call("GET", f"/sim/messages?since={since}")

    def configure(self, **settings):
        return self._call("POST", "/sim/config", settings)

    def reset(self):
        return self._call("POST", "/sim/reset", {})

    def env(self):
        """The REPOINT_* settings that point a daemon's SMS channel at this simulator."""
        return {"REPOINT_SMS_URL": self.url, "REPOINT_SMS_ACCOUNT_SID": SMS_ACCOUNT_SID,
                "REPOINT_SMS_AUTH_TOKEN": SMS_AUTH_TOKEN,
                "REPOINT_TLS_CA_FILE": os.path.join(TESTCA_DIR, "ca.pem")}

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
