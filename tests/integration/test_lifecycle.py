"""Process lifecycle an operator relies on: SIGHUP re-reads the configuration file and applies the
log level and the limits.* ceilings to the running process (naming what else changed and waits
for a restart), a file that no longer parses changes nothing, and the process keeps serving
throughout; SIGTERM then exits 0. SIGHUP also reloads the access keys (rotation)."""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402

BASE = "log.level info\nhttp.threads 4\n"


def limits(daemon, app):
    status, _, body = harness.signed_request(daemon.url, "GET",
                                             f"/repoint/v1/apps/{app}/channels/sms/limits")
    assert status == 200, (status, body)
    return body["Sources"]["Config"]


def write_config(daemon, text):
    with open(daemon.config_path, "w") as f:
        f.write(text)


def test_sighup_reloads_log_level_and_limits():
    redis = harness.Redis().start()
    daemon = harness.Repoint(redis.url, config_text=BASE + "limits.sms.messages_per_second 500\n")
    # The environment wins over the file; these keys must come from the file here.
    del daemon.env["REPOINT_LOG_LEVEL"]
    try:
        daemon.start()
        app = daemon.client().create_app(
            CreateApplicationRequest={"Name": "hup"})["ApplicationResponse"]["Id"]
        assert limits(daemon, app) == 500
        harness.signed_request(daemon.url, "GET", f"/v1/apps/{app}")
        assert "GetApp" not in daemon.logs(), "request lines are debug: not logged at info"

        write_config(daemon, "log.level debug\nhttp.threads 2\nlimits.sms.messages_per_second 40\n")
        daemon.proc.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "configuration reloaded" in daemon.logs(), what="reload")
        logs = daemon.logs()
        assert "SIGHUP: log.level is now debug" in logs, logs
        assert "SIGHUP: limits.sms.messages_per_second is now 40" in logs, logs
        assert "SIGHUP: http.threads changed; it applies after a restart" in logs, logs
        harness.wait_until(lambda: limits(daemon, app) == 40, timeout=5,
                           what="the new ceiling reported")
        harness.signed_request(daemon.url, "GET", f"/v1/apps/{app}")
        harness.wait_until(lambda: "op=GetApp" in daemon.logs(), what="debug request lines")

        # A broken file is refused as a whole: nothing changes and the process keeps serving.
        write_config(daemon, "log.level info\nlimits.sms.messages_per_second lots\n")
        daemon.proc.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "configuration not reloaded" in daemon.logs(),
                           what="refused reload")
        time.sleep(1.2)  # longer than the limiter's cache: a wrong value would show by now
        assert limits(daemon, app) == 40
        assert daemon.healthy()

        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(15) == 0, daemon.logs()
        assert "stopped" in daemon.logs()
    finally:
        daemon.cleanup()
        redis.cleanup()


def test_sighup_rotates_access_keys():
    """Access keys are rotated without a restart: add the new pair, SIGHUP, move clients, remove
    the old pair, SIGHUP; a credentials file that no longer loads keeps the keys in use."""
    new_key, new_secret = "AKRPROTATED000000001", "rotated-secret-0123456789abcdefghijklmn"
    with harness.stack() as (_, daemon):
        old = daemon.client()
        new = daemon.client(access_key=new_key, secret_key=new_secret)
        old.get_apps()
        with open(daemon.creds_path, "a") as f:
            f.write(f"{new_key} {new_secret}\n")
        daemon.proc.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "access keys reloaded" in daemon.logs(), what="reload")
        assert "(2 key(s))" in daemon.logs()
        new.get_apps()
        old.get_apps()

        with open(daemon.creds_path, "w") as f:
            f.write(f"{new_key} {new_secret}\n")
        daemon.proc.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "(1 key(s))" in daemon.logs(), what="second reload")
        new.get_apps()
        status, _, _ = harness.signed_request(daemon.url, "GET", "/v1/apps")
        assert status == 403

        with open(daemon.creds_path, "w") as f:
            f.write("not a valid line\n")
        daemon.proc.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "access keys not reloaded" in daemon.logs(),
                           what="refused reload")
        new.get_apps()


if __name__ == "__main__":
    harness.run_tests([test_sighup_reloads_log_level_and_limits, test_sighup_rotates_access_keys])
