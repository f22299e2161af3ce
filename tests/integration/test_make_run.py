"""The README's first command, as a newcomer runs it: `make run` builds, starts Redis and Repoint,
prints export lines and an `aws pinpoint create-app` line that works as printed, and Ctrl-C stops
both cleanly. Ports and the var/ folder are redirected so the test does not disturb a developer's
own `make run`."""
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402


def test_make_run_then_printed_command_works():
    api_port, redis_port = harness.free_port(), harness.free_port()
    workdir = tempfile.mkdtemp(prefix="rp-makerun-")
    config = os.path.join(workdir, "repoint.conf")
    with open(os.path.join(harness.SOURCE_DIR, "config", "repoint.conf")) as src:
        text = src.read()
    text = text.replace("var/credentials", os.path.join(workdir, "credentials"))
    text = text.replace("var/secrets.key", os.path.join(workdir, "secrets.key"))
    text = text.replace("listen 127.0.0.1:8080", f"listen 127.0.0.1:{api_port}")
    with open(config, "w") as f:
        f.write(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPOINT_")}
    env.update(REPOINT_CONFIG=config, REPOINT_LOCAL_REDIS_PORT=str(redis_port),
               REPOINT_VAR_DIR=os.path.join(workdir, "var"))
    proc = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=harness.SOURCE_DIR,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if "Press Ctrl-C" in line:
                break
        output = "\n".join(lines)
        exports = [line for line in lines if line.startswith("export AWS_ACCESS_KEY_ID=")]
        creates = [line for line in lines if line.startswith("aws pinpoint create-app")]
        assert exports and creates, output
        creds = dict(re.findall(r"(AWS_[A-Z_]+)=(\S+)", exports[0]))
        assert set(creds) >= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, exports[0]
        st = os.stat(os.path.join(workdir, "credentials"))
        assert st.st_mode & 0o777 == 0o600
        assert os.stat(os.path.join(workdir, "secrets.key")).st_mode & 0o777 == 0o600
        cli_env = dict(os.environ, AWS_CONFIG_FILE="/dev/null",
                       AWS_SHARED_CREDENTIALS_FILE="/dev/null", **creds)
        argv = shlex.split(creates[0])
        argv[0] = harness.aws_cli()
        p = subprocess.run(argv + ["--output", "json"], capture_output=True, text=True,
                           env=cli_env, timeout=60)
        assert p.returncode == 0, p.stderr
        assert '"ApplicationResponse"' in p.stdout and "my-first-app" in p.stdout, p.stdout
        # Ctrl-C: the whole foreground process group gets SIGINT, as in a terminal.
        os.killpg(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
        assert "stopped" in rest, rest
        assert subprocess.run(["redis-cli", "-p", str(redis_port), "ping"],
                              capture_output=True).returncode != 0, "redis still running"
        assert subprocess.run(["curl", "-fs", f"http://127.0.0.1:{api_port}/repoint/health"],
                              capture_output=True).returncode != 0, "repoint still running"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        subprocess.run(["redis-cli", "-p", str(redis_port), "shutdown", "nosave"],
                       capture_output=True)


if __name__ == "__main__":
    harness.run_tests([test_make_run_then_printed_command_works])
