#!/usr/bin/env python3
"""Import and export throughput: N endpoints from a file:// CSV (compact rows, or rows padded
to about --row-bytes with custom attributes), then an export of them all. Prints endpoints/s and
repoint's peak RSS (VmHWM) after each phase.
usage: tests/bench/bench_import.py [--rows 100000] [--row-bytes 0]"""
import argparse
import gzip
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait(get, timeout=3600):
    deadline = time.monotonic() + timeout
    while True:
        r = get()
        if r["JobStatus"] in ("COMPLETED", "FAILED"):
            return r
        if time.monotonic() > deadline:
            raise SystemExit(f"job still {r['JobStatus']}")
        time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--row-bytes", type=int, default=0)
    args = ap.parse_args()
    root = os.path.realpath(tempfile.mkdtemp(prefix="rp-bench-import-"))
    path = os.path.join(root, "in", "endpoints.csv")
    os.makedirs(os.path.dirname(path))
    pad_cols = max(0, min(20, args.row_bytes // 100)) if args.row_bytes else 0
    pad = "x" * 95
    with open(path, "w") as f:
        f.write("ChannelType,Address,User.UserId,Location.Country,Metrics.n")
        f.write("".join(f",Attributes.a{i}" for i in range(pad_cols)) + "\n")
        for i in range(args.rows):
            f.write(f"SMS,+1{2060000000 + i},u{i % 10000},USA,{i}" + f",{pad}" * pad_cols + "\n")
    size = os.path.getsize(path)
    env = {"REPOINT_IMPORT_FILE_ROOT": root, "REPOINT_EXPORT_FILE_ROOT": root,
           "REPOINT_IMPORT_MAX_BYTES": str(max(size + 1, 1 << 30)), "REPOINT_LOG_LEVEL": "info"}
    with harness.stack(env=env) as (redis, rp):
        c = rp.client()
        app = c.create_app(CreateApplicationRequest={"Name": "bench"})["ApplicationResponse"]["Id"]
        t0 = time.monotonic()
        job = c.create_import_job(ApplicationId=app, ImportJobRequest={
            "S3Url": f"file://{path}", "RoleArn": "arn:aws:iam::1:role/x", "Format": "CSV"})
        jid = job["ImportJobResponse"]["Id"]
        r = wait(lambda: c.get_import_job(ApplicationId=app, JobId=jid)["ImportJobResponse"])
        t_imp = time.monotonic() - t0
        rss_imp = peak_rss_mb(rp.proc.pid)
        assert r["TotalProcessed"] == args.rows and r["TotalFailures"] == 0, r
        t0 = time.monotonic()
        ex = c.create_export_job(ApplicationId=app, ExportJobRequest={
            "S3UrlPrefix": f"file://{root}/out/", "RoleArn": "arn:aws:iam::1:role/x"})
        eid = ex["ExportJobResponse"]["Id"]
        r = wait(lambda: c.get_export_job(ApplicationId=app, JobId=eid)["ExportJobResponse"])
        t_exp = time.monotonic() - t0
        rss_exp = peak_rss_mb(rp.proc.pid)
        assert r["TotalProcessed"] == args.rows, r
        lines = 0
        for base, _, files in os.walk(os.path.join(root, "out")):
            for fn in files:
                with gzip.open(os.path.join(base, fn), "rt") as g:
                    lines += sum(1 for _ in g)
        assert lines == args.rows, lines
    print(f"rows {args.rows}, CSV {size / 1e6:.1f} MB ({size / args.rows:.0f} B/row)")
    print(f"import: {t_imp:.1f} s, {args.rows / t_imp:,.0f} endpoints/s, "
          f"repoint peak RSS {rss_imp:.0f} MB")
    print(f"export: {t_exp:.1f} s, {args.rows / t_exp:,.0f} endpoints/s, "
          f"repoint peak RSS {rss_exp:.0f} MB")


if __name__ == "__main__":
    main()
