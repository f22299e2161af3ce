"""Configuration as an operator meets it: a bad file stops start-up with exit status 2 and one
line naming the file, the line and the problem; environment variables override the file;
check-config prints the effective values with secrets masked."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402


def run(args, env=None, config_text=None):
    with tempfile.TemporaryDirectory() as d:
        cmd = [harness.REPOINT_BIN, *args]
        if config_text is not None:
            path = os.path.join(d, "bad.conf")
            with open(path, "w") as f:
                f.write(config_text)
            cmd += ["--config", path]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("REPOINT_")}
        full_env.update(env or {})
        p = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=20)
        return p.returncode, p.stdout, p.stderr


def test_unknown_key_names_file_and_line():
    rc, _, err = run(["serve"], config_text="# comment\nlisten 127.0.0.1:1\nfrobnicate yes\n")
    assert rc == 2, (rc, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "bad.conf:3" in lines[0] and "unknown key 'frobnicate'" in lines[0], err


def test_bad_value_names_the_problem():
    rc, _, err = run(["serve"], config_text="http.max_body_bytes lots\n")
    assert rc == 2 and "bad.conf:1" in err and "not an integer" in err, err
    rc, _, err = run(["serve"], config_text="auth.mode maybe\n")
    assert rc == 2 and "sigv4" in err, err
    rc, _, err = run(["serve"], config_text="listen nowhere\n")
    assert rc == 2 and "host:port" in err, err


def test_unreadable_file():
    rc, _, err = run(["serve", "--config", "/nonexistent/repoint.conf"])
    assert rc == 2 and "/nonexistent/repoint.conf" in err and "cannot read" in err, err


def test_bad_environment_value():
    rc, _, err = run(["check-config"], env={"REPOINT_HTTP_THREADS": "0"})
    assert rc == 2 and "REPOINT_HTTP_THREADS" in err, err


def test_missing_credentials_and_key_files():
    rc, _, err = run(["serve"], env={"REPOINT_AUTH_CREDENTIALS_FILE": "/nonexistent/creds"})
    assert rc == 2 and "/nonexistent/creds" in err, err
    with tempfile.NamedTemporaryFile("w", suffix=".key") as k:
        k.write("not hex\n")
        k.flush()
        with tempfile.NamedTemporaryFile("w") as c:
            c.write(f"{harness.ACCESS_KEY} {harness.SECRET_KEY}\n")
            c.flush()
            rc, _, err = run(["serve"], env={"REPOINT_AUTH_CREDENTIALS_FILE": c.name,
                                             "REPOINT_SECRETS_KEY_FILE": k.name})
    assert rc == 2 and "64 hex" in err, err


def test_env_overrides_file_and_secrets_masked():
    rc, out, err = run(["check-config"],
                       env={"REPOINT_REDIS_URL": "redis://:hunter2@10.0.0.5:6380/3"},
                       config_text="listen 127.0.0.1:9999\nlog.level warn\n")
    assert rc == 0, err
    values = {line.split()[0]: line for line in out.splitlines()}
    assert "127.0.0.1:9999" in values["listen"] and "# file" in values["listen"]
    assert "# environment" in values["redis.url"]
    assert "hunter2" not in out and "********" in values["redis.url"], out
    assert "# default" in values["http.max_body_bytes"]


def test_every_key_documented_in_example_config():
    """config/repoint.conf documents every key the daemon reads, and is itself valid."""
    rc, out, err = run(["check-config"])
    keys = [line.split()[0] for line in out.splitlines() if line.strip()]
    example = os.path.join(harness.SOURCE_DIR, "config", "repoint.conf")
    with open(example) as f:
        documented = {line.split()[0] for line in f if line.strip() and not line.startswith("#")}
    missing = [k for k in keys if k not in documented]
    assert not missing, f"keys missing from config/repoint.conf: {missing}"
    rc, _, err = run(["check-config", "--config", example])
    assert rc == 0, err


def test_readme_reference_matches_example_config():
    """The README's configuration reference is generated from config/repoint.conf and current."""
    script = os.path.join(harness.SOURCE_DIR, "deploy", "config-reference.py")
    p = subprocess.run([sys.executable, script, "--check"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    with open(os.path.join(harness.SOURCE_DIR, "README.md")) as f:
        readme = f.read()
    for key in ("`redis.url`", "`secrets.previous_key_files`", "`admission.max_waiting_direct`"):
        assert key in readme, key


def main():
    harness.run_tests([
        test_unknown_key_names_file_and_line, test_bad_value_names_the_problem,
        test_unreadable_file, test_bad_environment_value, test_missing_credentials_and_key_files,
        test_env_overrides_file_and_secrets_masked, test_every_key_documented_in_example_config,
        test_readme_reference_matches_example_config,
    ])


if __name__ == "__main__":
    main()
