#!/usr/bin/env python3
"""An upgrade from a Repoint that stored the older layout (a hash per endpoint, a set per
address): N SMS endpoints imported by the older binary, which then stops; the current binary
starts on the same Redis and its janitor converts them. Prints Redis's memory before and after
and how long the conversion took (until rp:layout is set), and checks that every endpoint was
converted and a user's endpoints read back.
usage: tests/bench/bench_upgrade.py --old-bin <older build>/repoint [--rows 200000]"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
from bench_import import wait, write_csv  # noqa: E402


def used_mb(redis):
    for line in redis.cli("INFO", "memory").splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1]) / 1e6
    return float("nan")


def count(redis, pattern, kind):
    """Keys matching pattern of one type (this redis-cli has no --type: TYPE for each, piped)."""
    keys = redis.cli("--scan", "--pattern", pattern).split()
    types = subprocess.run(["redis-cli", "-p", str(redis.port)], capture_output=True, text=True,
                           input="".join(f'TYPE "{k}"\n' for k in keys), check=True).stdout
    return types.split().count(kind)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old-bin", required=True)
    ap.add_argument("--rows", type=int, default=200000)
    args = ap.parse_args()
    root = os.path.realpath(tempfile.mkdtemp(prefix="rp-bench-upgrade-"))
    path = os.path.join(root, "endpoints.csv")
    write_csv(path, args.rows, 0)
    current_bin = harness.REPOINT_BIN
    redis = harness.Redis().start()
    rp = None
    try:
        harness.REPOINT_BIN = args.old_bin
        rp = harness.Repoint(redis.url, env={"REPOINT_IMPORT_FILE_ROOT": root,
                                             "REPOINT_LOG_LEVEL": "info"})
        rp.start()
        c = rp.client()
        app = c.create_app(CreateApplicationRequest={"Name": "upgrade"})["ApplicationResponse"]["Id"]
        job = c.create_import_job(ApplicationId=app, ImportJobRequest={
            "S3Url": f"file://{path}", "RoleArn": "arn:aws:iam::1:role/x", "Format": "CSV"})
        jid = job["ImportJobResponse"]["Id"]
        r = wait(lambda: c.get_import_job(ApplicationId=app, JobId=jid)["ImportJobResponse"])
        assert r["TotalProcessed"] == args.rows and r["TotalFailures"] == 0, r
        rp.stop()
        redis.cli("DEL", "rp:layout")  # an older Repoint never set it
        hashes = count(redis, f"rp:{{e:{app}:*}}:ep:*", "hash")
        sets = count(redis, f"rp:{{x:{app}:*}}:ad:*", "set")
        assert hashes == args.rows and sets == args.rows, (hashes, sets)
        before = used_mb(redis)

        harness.REPOINT_BIN = current_bin
        t0 = time.monotonic()
        rp.start()
        harness.wait_until(lambda: redis.cli("GET", "rp:layout").strip() == "3", timeout=3600,
                           interval=0.1, what="the conversion")
        took = time.monotonic() - t0
        redis.cli("MEMORY", "PURGE")
        after = used_mb(redis)
        strings = count(redis, f"rp:{{e:{app}:*}}:ep:*", "string")
        assert strings == args.rows and not count(redis, f"rp:{{x:{app}:*}}:ad:*", "set")
        assert f"converted {args.rows} endpoints and {args.rows} address index entries" in rp.logs()
        users = rp.client().get_user_endpoints(ApplicationId=app, UserId="u0001")[
            "EndpointsResponse"]["Item"]
        assert len(users) == len(range(1, args.rows, 10000)), len(users)
        assert all(e["Address"].startswith("+1206") for e in users), users
        print(f"{args.rows} endpoints: converted in {took:.1f} s "
              f"({args.rows / took:,.0f}/s, including the start); Redis {before:.0f} MB -> "
              f"{after:.0f} MB", flush=True)
    finally:
        if rp:
            rp.stop()
        redis.cleanup()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
