"""A real SMTP server for the EMAIL channel's tests: Debian's aiosmtpd (run by /usr/bin/python3,
which has it) with a handler that stores every accepted message as a JSON file, answers chosen
recipients with 4xx/5xx, offers STARTTLS with the test certificate and AUTH PLAIN/LOGIN.

As a script (the server):  /usr/bin/python3 smtp_server.py [--host H] --port P --dir D [--tls]
    [--auth user:password] [--login-only|--plain-only] [--rule address=CODE text]...
As a module (the tests):   SmtpServer(tls=True, auth="u:p", rules={...}).start(); .messages()
"""
import argparse
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTCA = os.path.join(HERE, "..", "sim", "testca")
SYSTEM_PYTHON = "/usr/bin/python3"


def serve(args):
    import asyncio
    import base64
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    rules = {}
    for rule in args.rule or []:
        address, answer = rule.split("=", 1)
        rules[address.lower()] = answer
    user, password = (args.auth.split(":", 1) if args.auth else (None, None))
    counter = [0]

    def login_of(session):
        data = getattr(session, "auth_data", None)
        if isinstance(data, LoginPassword) and session.authenticated:
            return data.login.decode()
        return None

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            answer = rules.get(address.lower())
            if answer:
                return answer
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            counter[0] += 1
            record = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "data": base64.b64encode(envelope.original_content or envelope.content).decode(),
                "tls": session.ssl is not None,
                "auth": login_of(session),
            }
            path = os.path.join(args.dir, "%06d.json" % counter[0])
            with open(path + ".tmp", "w") as f:
                json.dump(record, f)
            os.rename(path + ".tmp", path)
            return "250 2.0.0 Message accepted"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and user is not None and
              auth_data.login.decode() == user and auth_data.password.decode() == password)
        return AuthResult(success=ok, auth_data=auth_data if ok else None)

    params = {}
    if args.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(os.path.join(TESTCA, "server.pem"), os.path.join(TESTCA, "server.key"))
        params["tls_context"] = ctx
    if user:
        params["authenticator"] = authenticator
        params["auth_require_tls"] = False
        if args.login_only:
            params["auth_exclude_mechanism"] = ["PLAIN"]
        if args.plain_only:
            params["auth_exclude_mechanism"] = ["LOGIN"]
    controller = Controller(Handler(), hostname=args.host, port=args.port,
                            decode_data=False, **params)
    controller.start()
    with open(os.path.join(args.dir, "ready"), "w") as f:
        f.write("ready\n")
    try:
        asyncio.run(asyncio.sleep(10 ** 6))
    except KeyboardInterrupt:
        pass
    controller.stop()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """The server above as a child process on a free loopback port."""

    def __init__(self, tls=False, auth=None, rules=None, login_only=False, plain_only=False,
                 host="127.0.0.1"):
        self.host = host
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="rp-smtp-")
        self.args = [SYSTEM_PYTHON, os.path.abspath(__file__), "--host", host,
                     "--port", str(self.port), "--dir", self.dir]
        if tls:
            self.args.append("--tls")
        if auth:
            self.args += ["--auth", auth]
        if login_only:
            self.args.append("--login-only")
        if plain_only:
            self.args.append("--plain-only")
        for address, answer in (rules or {}).items():
            self.args += ["--rule", f"{address}={answer}"]
        self.proc = None

    @property
    def url(self):
        return f"smtp://{self.host}:{self.port}"

    def start(self):
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while not os.path.exists(os.path.join(self.dir, "ready")):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the SMTP server did not start: " + self.logs())
            time.sleep(0.05)
        return self

    def logs(self):
        with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
            return f.read()

    def messages(self):
        """Every stored message: dicts with mail_from, rcpt_tos, data (bytes), tls, auth."""
        import base64
        out = []
        for path in sorted(glob.glob(os.path.join(self.dir, "*.json"))):
            with open(path) as f:
                record = json.load(f)
            record["data"] = base64.b64decode(record["data"])
            out.append(record)
        return out

    def wait_messages(self, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages()
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"expected {count} messages, got {len(self.messages())}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--auth")
    parser.add_argument("--rule", action="append")
    parser.add_argument("--login-only", action="store_true")
    parser.add_argument("--plain-only", action="store_true")
    serve(parser.parse_args())
    sys.exit(0)
