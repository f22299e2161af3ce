"""TLS on the API listener: with listen.tls_cert and listen.tls_key the real AWS CLI and boto3
talk to Repoint over HTTPS with certificate verification; a plain-HTTP request or a client that
does not trust the certificate gets nowhere; and Repoint refuses to serve plain HTTP on a
non-loopback address unless listen.allow_plain_http says a proxy in front terminates TLS."""
import os
import socket
import ssl
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402

TESTCA = os.path.join(harness.SOURCE_DIR, "tests", "sim", "testca")
CA = os.path.join(TESTCA, "ca.pem")
OTHER_CA = os.path.join(TESTCA, "other-ca.pem")
TLS_ENV = {"REPOINT_LISTEN_TLS_CERT": os.path.join(TESTCA, "server.pem"),
           "REPOINT_LISTEN_TLS_KEY": os.path.join(TESTCA, "server.key")}
state = {}


def https_get(path, cafile=CA):
    ctx = ssl.create_default_context(cafile=cafile)
    with urllib.request.urlopen(f"https://127.0.0.1:{state['daemon'].port}{path}", timeout=5,
                                context=ctx) as r:
        return r.status, r.read()


def test_boto3_and_cli_over_verified_https():
    import boto3
    daemon = state["daemon"]
    url = f"https://127.0.0.1:{daemon.port}"
    c = boto3.client("pinpoint", endpoint_url=url, region_name=harness.REGION, verify=CA,
                     aws_access_key_id=harness.ACCESS_KEY,
                     aws_secret_access_key=harness.SECRET_KEY)
    app = c.create_app(CreateApplicationRequest={"Name": "over-tls"})["ApplicationResponse"]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=harness.ACCESS_KEY,
               AWS_SECRET_ACCESS_KEY=harness.SECRET_KEY, AWS_DEFAULT_REGION=harness.REGION,
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    p = subprocess.run([harness.aws_cli(), "pinpoint", "get-app", "--application-id", app["Id"],
                        "--endpoint-url", url, "--ca-bundle", CA, "--output", "json"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0 and app["Id"] in p.stdout, p.stderr
    assert https_get("/repoint/health")[0] == 200


def test_plain_http_and_untrusted_clients_get_nothing():
    port = state["daemon"].port
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /repoint/health HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            answer = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            answer = b""
    assert b"200 OK" not in answer and b"status" not in answer, answer
    try:
        https_get("/repoint/health", cafile=OTHER_CA)
        raise AssertionError("a client trusting another CA completed the handshake")
    except urllib.error.URLError as e:
        assert isinstance(e.reason, ssl.SSLCertVerificationError), e


def run_check(env):
    full = {"PATH": os.environ["PATH"], **env}
    return subprocess.run([harness.REPOINT_BIN, "check-config"], capture_output=True, text=True,
                          env=full)


def test_plain_http_only_on_loopback_unless_allowed():
    r = run_check({"REPOINT_LISTEN": "0.0.0.0:8080"})
    assert r.returncode == 2 and "listen: plain HTTP on 0.0.0.0" in r.stderr, r.stderr
    assert "listen.tls_cert" in r.stderr
    assert run_check({"REPOINT_LISTEN": "[::]:8080"}).returncode == 2
    assert run_check({"REPOINT_LISTEN": "0.0.0.0:8080",
                      "REPOINT_LISTEN_ALLOW_PLAIN_HTTP": "yes"}).returncode == 0
    assert run_check({"REPOINT_LISTEN": "0.0.0.0:8080", **TLS_ENV}).returncode == 0
    assert run_check({"REPOINT_LISTEN": "127.0.0.5:8080"}).returncode == 0
    r = run_check({"REPOINT_LISTEN_TLS_CERT": TLS_ENV["REPOINT_LISTEN_TLS_CERT"]})
    assert r.returncode == 2 and "listen.tls_key" in r.stderr, r.stderr


def test_unreadable_key_is_a_config_error():
    redis = state["redis"]
    daemon = harness.Repoint(redis.url, env={**TLS_ENV, "REPOINT_LISTEN_TLS_KEY": "/nonexistent"})
    try:
        daemon.start(wait=False)
        assert daemon.proc.wait(10) == 2
        assert "listen.tls_key: cannot read /nonexistent" in daemon.logs(), daemon.logs()
    finally:
        daemon.cleanup()


def main():
    redis = harness.Redis().start()
    daemon = harness.Repoint(redis.url, env=TLS_ENV)
    state.update(redis=redis, daemon=daemon)
    try:
        daemon.start(wait=False)
        def up():
            assert daemon.proc.poll() is None, daemon.logs()
            try:
                return https_get("/repoint/health")[0] == 200
            except OSError:
                return False
        harness.wait_until(up, what="https health")
        assert "listening on https://127.0.0.1" in daemon.logs()
        harness.run_tests([
            test_boto3_and_cli_over_verified_https,
            test_plain_http_and_untrusted_clients_get_nothing,
            test_plain_http_only_on_loopback_unless_allowed,
            test_unreadable_key_is_a_config_error,
        ])
    finally:
        daemon.cleanup()
        redis.cleanup()


if __name__ == "__main__":
    main()
