"""Python wrappers for the push simulators (tests/sim/fcm_sim.c, adm_sim.c, baidu_sim.c): start
on free loopback ports over TLS with the test CA, the /sim/ control API, and for FCM a freshly
generated service account (RSA key by the openssl command line) whose public key the simulator
verifies assertions with."""
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.request

import harness

TESTCA_DIR = os.path.join(harness.SOURCE_DIR, "tests", "sim", "testca")
CA = os.path.join(TESTCA_DIR, "ca.pem")
SIM_DIR = os.path.join(harness.BUILD_DIR, "sim")


class _Sim:
    name = None

    def __init__(self, extra_args=()):
        self.dir = tempfile.mkdtemp(prefix=f"rp-{self.name}-")
        self.extra = list(extra_args)
        self.proc = None
        self.port = None

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    def _args(self):
        raise NotImplementedError

    def start(self):
        args = [os.path.join(SIM_DIR, self.name), "--port", "0",
                "--tls-cert", os.path.join(TESTCA_DIR, "server.pem"),
                "--tls-key", os.path.join(TESTCA_DIR, "server.key"), *self._args(), *self.extra]
        self.log = open(os.path.join(self.dir, "sim.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        ports = re.findall(r"127\.0\.0\.1:(\d+)", line)
        assert ports, f"{self.name} did not start: {line!r}"
        self.port = int(ports[0])
        self.h2_port = int(ports[1]) if len(ports) > 1 else None
        return self

    def call(self, method, path, body=None):
        ctx = ssl.create_default_context(cafile=CA)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            text = r.read()
            return json.loads(text) if text else None

    def stats(self):
        return self.call("GET", "/sim/stats")

    def messages(self, since=0):
        return self.call("GET", f"/sim/messages?since={since}")["messages"]

    def configure(self, **settings):
        return self.call("POST", "/sim/config", settings)

    def reset(self):
        return self.call("POST", "/sim/reset", {})

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} did not stop within 10 s of SIGTERM")
        self.proc = None

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def generate_rsa_key(directory, bits=2048):
    """Returns (private PEM text, path of the public key PEM)."""
    key = os.path.join(directory, "sa.key")
    pub = os.path.join(directory, "sa.pub")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    f"rsa_keygen_bits:{bits}", "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    with open(key) as f:
        return f.read(), pub


class FcmSim(_Sim):
    """fcm_sim: HTTP/1.1 (control API, token endpoint, sends) on .port and HTTP/2 on .h2_port.
    .service_json() is a service account whose token_uri is this simulator."""
    name = "fcm_sim"
    project = "repoint-sim"
    client_email = "repoint-sim@repoint-sim.iam.gserviceaccount.com"

    def __init__(self, extra_args=()):
        super().__init__(extra_args)
        self.private_key, self.public_key_path = generate_rsa_key(self.dir)

    def _args(self):
        return ["--h2-port", "0", "--public-key", self.public_key_path, "--project", self.project,
                "--client-email", self.client_email]

    @property
    def h2_url(self):
        return f"https://127.0.0.1:{self.h2_port}"

    def service_account(self, private_key=None):
        return {"type": "service_account", "project_id": self.project,
                "private_key_id": "0123456789abcdef0123456789abcdef01234567",
                "private_key": private_key or self.private_key,
                "client_email": self.client_email, "client_id": "100000000000000000001",
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": f"{self.url}/token"}

    def service_json(self, private_key=None):
        return json.dumps(self.service_account(private_key))

    def revoke(self):
        return self.call("POST", "/sim/revoke", {})

    def env(self, http2=True):
        return {"REPOINT_FCM_URL": self.h2_url if http2 else self.url,
                "REPOINT_TLS_CA_FILE": CA}


class AdmSim(_Sim):
    """adm_sim: the token endpoint at /auth/o2/token and the send endpoint, HTTPS."""
    name = "adm_sim"
    client_id = "amzn1.application-oa2-client.0123456789abcdef"
    client_secret = "sim-secret-0123456789abcdef0123456789abcdef"

    def _args(self):
        return ["--client-id", self.client_id, "--client-secret", self.client_secret]

    def revoke(self):
        return self.call("POST", "/sim/revoke", {})

    def env(self):
        return {"REPOINT_ADM_URL": self.url, "REPOINT_ADM_TOKEN_URL": f"{self.url}/auth/o2/token",
                "REPOINT_TLS_CA_FILE": CA}


class BaiduSim(_Sim):
    """baidu_sim: POST /rest/3.0/push/single_device with the signed form, HTTPS."""
    name = "baidu_sim"
    api_key = "Ljc710pzAa99GULCo8y48NvB"
    secret_key = "sim-baidu-secret-0123456789abcdef"

    def _args(self):
        return ["--api-key", self.api_key, "--secret-key", self.secret_key]

    def env(self):
        return {"REPOINT_BAIDU_URL": self.url, "REPOINT_TLS_CA_FILE": CA}


def run_channel_tests(sim_class, app_name, state, tests):
    """The frame of every push channel test: the simulator, Redis and a daemon pointed at the
    simulator (short deadlines and retries), one app, then tests; state gets sim, redis, daemon
    and app for them. The daemon's log tail is printed when a test fails."""
    sim = sim_class().start()
    redis = harness.Redis().start()
    daemon = None
    try:
        daemon = harness.Repoint(redis.url, env={
            **sim.env(), "REPOINT_DIRECT_DEADLINE_MS": "3000",
            "REPOINT_QUEUE_RETRY_BASE_MS": "100"})
        daemon.start()
        app = daemon.aws("create-app", "--create-application-request",
                         json.dumps({"Name": app_name}))["ApplicationResponse"]["Id"]
        state.update(sim=sim, redis=redis, daemon=daemon, app=app)
        try:
            harness.run_tests(tests)
        except SystemExit as e:
            if e.code:
                sys.stderr.write(daemon.logs()[-15000:])
            raise
    finally:
        if daemon:
            daemon.cleanup()
        redis.cleanup()
        sim.cleanup()


def provider_gauges(daemon, channel):
    """(repoint_provider_connections, repoint_provider_streams) of channel in the daemon's
    /metrics; None for a gauge /metrics does not show."""
    with urllib.request.urlopen(daemon.url + "/metrics", timeout=5) as resp:
        metrics = resp.read().decode()

    def gauge(name):
        m = re.search(r'^%s\{channel="%s"\} (-?[0-9]+)$' % (name, channel), metrics, re.M)
        return int(m.group(1)) if m else None
    return gauge("repoint_provider_connections"), gauge("repoint_provider_streams")
