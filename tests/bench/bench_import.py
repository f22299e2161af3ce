#!/usr/bin/env python3
"""Import and export throughput: N new SMS endpoints from one file:// CSV, then an export of
them all. Prints endpoints/s, repoint's peak RSS (VmHWM) after each phase, the CPU seconds of
repoint and of redis-server, and Redis commands per endpoint (INFO commandstats).

Rows are compact (about 40 bytes: ChannelType, Address, UserId, Country, one metric) or, with
--row-bytes, padded to that size with the custom attributes an endpoint may carry: up to 20
Attributes.* and 20 User.UserAttributes.* of up to 100 characters each, so a 4,000-byte row is
about 4,000 bytes of valid attributes (--rows 250000 --row-bytes 4000: a 1 GB file).
The export's peak RSS is measured on its own: the high-water mark is reset between the phases
(/proc/PID/clear_refs), so it shows whether export memory stays flat with the audience's size.
usage: tests/bench/bench_import.py [--rows 100000] [--row-bytes 0] [--threads N]"""
import argparse
import gzip
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
from procstat import cpu_seconds, peak_rss_mb  # noqa: E402

BASE_HEADER = "ChannelType,Address,User.UserId,Location.Country,Metrics.n"
MAX_VALUE = 100  # characters per attribute value (endpoint.h)
MAX_PAD_COLUMNS = 40  # 20 Attributes.* + 20 User.UserAttributes.*


def commandstats(redis):
    """{command: (calls, usec)}; a script's inner commands are counted under their own names
    too (and their time within EVALSHA's)."""
    stats = {}
    for line in redis.cli("INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            name, _, fields = line[len("cmdstat_"):].partition(":")
            kv = dict(f.split("=") for f in fields.split(","))
            stats[name] = (int(kv["calls"]), int(kv["usec"]))
    return stats


def per_endpoint(before, after, n):
    diff = {k: (v[0] - before.get(k, (0, 0))[0], v[1] - before.get(k, (0, 0))[1])
            for k, v in after.items() if v[0] > before.get(k, (0, 0))[0]}
    parts = [f"{k} {c / n:.2f} ({u / n:.1f} us)"
             for k, (c, u) in sorted(diff.items(), key=lambda kv: -kv[1][1]) if c / n >= 0.005]
    return f"{sum(c for c, _ in diff.values()) / n:.2f} commands/endpoint: " + ", ".join(parts)


def pad_columns(row_bytes, base_len):
    """(count, value length) of the padding columns that bring a row to about row_bytes."""
    room = row_bytes - base_len - 1  # the line break
    if room <= 0:
        return 0, 0
    count = min(MAX_PAD_COLUMNS, -(-room // (MAX_VALUE + 1)))
    return count, max(1, min(MAX_VALUE, room // count - 1))


def write_csv(path, rows, row_bytes):
    base_len = len("SMS,+12060000000,u0000,USA,0")
    count, width = pad_columns(row_bytes, base_len) if row_bytes else (0, 0)
    names = [f"Attributes.a{i}" for i in range(min(count, 20))]
    names += [f"User.UserAttributes.u{i}" for i in range(count - len(names))]
    filler = "x" * MAX_VALUE
    with open(path, "w", buffering=1 << 20) as f:
        f.write(BASE_HEADER + "".join("," + n for n in names) + "\n")
        chunk = []
        for i in range(rows):
            tag = f"{i:08d}"
            # Every value differs per row (a real audience does not repeat itself).
            pad = "".join(f",{tag}{filler[:width - 8]}" for _ in range(count)) if width > 8 \
                else f",{filler[:width]}" * count
            chunk.append(f"SMS,+1{2060000000 + i},u{i % 10000:04d},USA,{i}{pad}\n")
            if len(chunk) == 1000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))


def wait(get, timeout=7200):
    deadline = time.monotonic() + timeout
    while True:
        r = get()
        if r["JobStatus"] in ("COMPLETED", "FAILED"):
            return r
        if time.monotonic() > deadline:
            raise SystemExit(f"job still {r['JobStatus']}")
        time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--row-bytes", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="jobs.threads (0: the default)")
    args = ap.parse_args()
    root = os.path.realpath(tempfile.mkdtemp(prefix="rp-bench-import-"))
    try:
        run(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(args, root):
    path = os.path.join(root, "in", "endpoints.csv")
    os.makedirs(os.path.dirname(path))
    t0 = time.monotonic()
    write_csv(path, args.rows, args.row_bytes)
    size = os.path.getsize(path)
    print(f"rows {args.rows}, CSV {size / 1e6:.1f} MB ({size / args.rows:.0f} B/row), "
          f"written in {time.monotonic() - t0:.1f} s", flush=True)
    env = {"REPOINT_IMPORT_FILE_ROOT": root, "REPOINT_EXPORT_FILE_ROOT": root,
           "REPOINT_IMPORT_MAX_BYTES": str(max(size + 1, 1 << 30)), "REPOINT_LOG_LEVEL": "info"}
    if args.threads:
        env["REPOINT_JOBS_THREADS"] = str(args.threads)
    with harness.stack(env=env) as (redis, rp):
        c = rp.client()
        app = c.create_app(CreateApplicationRequest={"Name": "bench"})["ApplicationResponse"]["Id"]
        cmds0, rp_cpu0, redis_cpu0 = commandstats(redis), cpu_seconds(rp.proc.pid), \
            cpu_seconds(redis.proc.pid)
        t0 = time.monotonic()
        job = c.create_import_job(ApplicationId=app, ImportJobRequest={
            "S3Url": f"file://{path}", "RoleArn": "arn:aws:iam::1:role/x", "Format": "CSV"})
        jid = job["ImportJobResponse"]["Id"]
        r = wait(lambda: c.get_import_job(ApplicationId=app, JobId=jid)["ImportJobResponse"])
        t_imp = time.monotonic() - t0
        rss_imp = peak_rss_mb(rp.proc.pid)
        cmds1, rp_cpu1, redis_cpu1 = commandstats(redis), cpu_seconds(rp.proc.pid), \
            cpu_seconds(redis.proc.pid)
        assert r["TotalProcessed"] == args.rows and r["TotalFailures"] == 0, r
        print(f"import: {t_imp:.1f} s, {args.rows / t_imp:,.0f} endpoints/s, "
              f"{size / 1e6 / t_imp:.1f} MB/s, {r['TotalPieces']} pieces, "
              f"repoint peak RSS {rss_imp:.0f} MB", flush=True)
        print(f"  CPU: repoint {rp_cpu1 - rp_cpu0:.1f} s, redis-server "
              f"{redis_cpu1 - redis_cpu0:.1f} s; {per_endpoint(cmds0, cmds1, args.rows)}",
              flush=True)
        os.unlink(path)  # room for the export
        with open(f"/proc/{rp.proc.pid}/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS now
        rss_before_exp = peak_rss_mb(rp.proc.pid)
        t0 = time.monotonic()
        ex = c.create_export_job(ApplicationId=app, ExportJobRequest={
            "S3UrlPrefix": f"file://{root}/out/", "RoleArn": "arn:aws:iam::1:role/x"})
        eid = ex["ExportJobResponse"]["Id"]
        r = wait(lambda: c.get_export_job(ApplicationId=app, JobId=eid)["ExportJobResponse"])
        t_exp = time.monotonic() - t0
        rss_exp = peak_rss_mb(rp.proc.pid)
        rp_cpu2, redis_cpu2 = cpu_seconds(rp.proc.pid), cpu_seconds(redis.proc.pid)
        assert r["TotalProcessed"] == args.rows, r
        lines = files = gz_bytes = json_bytes = 0
        for base, _, names in os.walk(os.path.join(root, "out")):
            for fn in names:
                files += 1
                gz_bytes += os.path.getsize(os.path.join(base, fn))
                with gzip.open(os.path.join(base, fn), "rb") as g:
                    for line in g:
                        lines += 1
                        json_bytes += len(line)
        assert lines == args.rows, lines
    print(f"export: {t_exp:.1f} s, {args.rows / t_exp:,.0f} endpoints/s, {files} files, "
          f"{json_bytes / 1e6:.0f} MB of JSON in {gz_bytes / 1e6:.0f} MB of gzip, "
          f"repoint peak RSS {rss_exp:.0f} MB (RSS when it started: {rss_before_exp:.0f} MB)")
    print(f"  CPU: repoint {rp_cpu2 - rp_cpu1:.1f} s, redis-server {redis_cpu2 - redis_cpu1:.1f} s")


if __name__ == "__main__":
    main()
