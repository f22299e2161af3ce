"""Rotating the key that seals channel credentials at rest: values sealed under the old key keep
opening while it is listed in secrets.previous_key_files, `repoint rotate-secrets` re-seals them
with the current key (and says what it could not open), after which the old key can go. Proved
by deliveries: the ADM simulator only issues tokens for the right ClientSecret, so a send that
succeeds shows the secret opened intact."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
import push_sims  # noqa: E402

TOKEN = "amzn1.adm-registration.v3.rotation"


def write_key(directory, name):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    os.chmod(path, 0o600)
    return path


def daemon_with(redis, sim, key_file, previous=""):
    d = harness.Repoint(redis.url, env={
        **sim.env(), "REPOINT_DIRECT_DEADLINE_MS": "3000", "REPOINT_QUEUE_RETRY_BASE_MS": "100",
        "REPOINT_QUEUE_MAX_ATTEMPTS": "1",
        "REPOINT_SECRETS_KEY_FILE": key_file, "REPOINT_SECRETS_PREVIOUS_KEY_FILES": previous})
    return d.start()


def send(d, app):
    resp = d.aws("send-messages", "--application-id", app, "--message-request", json.dumps({
        "Addresses": {TOKEN: {"ChannelType": "ADM"}},
        "MessageConfiguration": {"ADMMessage": {"Title": "t", "Body": "b"}}}))
    return resp["MessageResponse"]["Result"][TOKEN]


def rotate(d):
    p = subprocess.run([harness.REPOINT_BIN, "rotate-secrets"], env=d.env, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout.strip(), p.stderr


def sealed_key_ids(redis, apps):
    ids = []
    for app in apps:
        for channel in ("ADM", "SMS"):
            value = redis.cli("HGET", f"rp:{{a:{app}}}:ch:{channel}", "sealed").strip()
            if value:
                ids.append(value.split(".")[1])
    return ids


def key_id(path):
    import hashlib
    with open(path) as f:
        return hashlib.sha256(bytes.fromhex(f.read().strip())).hexdigest()[:8]


def main():
    work = tempfile.mkdtemp(prefix="rp-rotation-")
    old_key, new_key = write_key(work, "old.key"), write_key(work, "new.key")
    sim = push_sims.AdmSim().start()
    redis = harness.Redis().start()
    daemons = []

    def start(key_file, previous=""):
        d = daemon_with(redis, sim, key_file, previous)
        daemons.append(d)
        return d

    def stop_all():
        while daemons:
            daemons.pop().cleanup()

    try:
        d = start(old_key)
        apps = []
        for name in ("rotation-a", "rotation-b"):
            app = d.aws("create-app", "--create-application-request",
                        json.dumps({"Name": name}))["ApplicationResponse"]["Id"]
            d.aws("update-adm-channel", "--application-id", app, "--adm-channel-request",
                  json.dumps({"ClientId": sim.client_id, "ClientSecret": sim.client_secret,
                              "Enabled": True}))
            apps.append(app)
        d.aws("update-sms-channel", "--application-id", apps[0], "--sms-channel-request",
              json.dumps({"Enabled": True, "SenderId": "Rotation"}))
        r = send(d, apps[0])
        assert r["DeliveryStatus"] == "SUCCESSFUL", r
        assert sealed_key_ids(redis, apps) == [key_id(old_key)] * 3
        stop_all()

        # The new key alone cannot open what the old one sealed: sends fail, and the rotation
        # refuses to pretend, naming every record it cannot open.
        d = start(new_key)
        r = send(d, apps[0])
        assert r["DeliveryStatus"] != "SUCCESSFUL", r
        rc, out, err = rotate(d)
        assert rc == 1, (rc, out, err)
        assert out == "re-sealed 0, already current 0, changed meanwhile 0, unreadable 3", out
        assert f"app {apps[0]} channel ADM" in err and f"app {apps[1]} channel ADM" in err, err
        stop_all()

        # With the old key listed as previous: sends work at once, before any rotation.
        d = start(new_key, previous=f"{old_key}")
        for app in apps:
            r = send(d, app)
            assert r["DeliveryStatus"] == "SUCCESSFUL", r
        rc, out, err = rotate(d)
        assert rc == 0, (rc, out, err)
        assert out == "re-sealed 3, already current 0, changed meanwhile 0, unreadable 0", out
        assert sealed_key_ids(redis, apps) == [key_id(new_key)] * 3
        rc, out, _ = rotate(d)
        assert (rc, out) == (0, "re-sealed 0, already current 3, changed meanwhile 0, "
                                "unreadable 0"), out
        stop_all()

        # The old key retired: everything still opens. Revoking the simulator's tokens makes
        # each send fetch a new one with the ClientSecret; a partial update merges into the
        # stored settings only when they open (else SenderId would be lost).
        d = start(new_key)
        sim.revoke()
        for app in apps:
            r = send(d, app)
            assert r["DeliveryStatus"] == "SUCCESSFUL", r
        d.aws("update-sms-channel", "--application-id", apps[0], "--sms-channel-request",
              json.dumps({"Enabled": True}))
        sms = d.aws("get-sms-channel", "--application-id", apps[0])["SMSChannelResponse"]
        assert sms["SenderId"] == "Rotation", sms

        # A previous key that is the current one, or unreadable, stops start-up (exit 2).
        for previous in (new_key, os.path.join(work, "missing.key")):
            bad = harness.Repoint(redis.url, env={"REPOINT_SECRETS_KEY_FILE": new_key,
                                                  "REPOINT_SECRETS_PREVIOUS_KEY_FILES": previous})
            bad.start(wait=False)
            assert bad.proc.wait(10) == 2, bad.logs()
            assert "secrets.previous_key_files" in bad.logs(), bad.logs()
            bad.cleanup()
        print("secrets rotation: passed")
    except BaseException:
        for d in daemons:
            sys.stderr.write("---- repoint log ----\n" + d.logs()[-8000:] + "\n")
        raise
    finally:
        stop_all()
        redis.cleanup()
        sim.stop()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
