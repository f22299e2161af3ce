#!/usr/bin/env python3
"""Campaign fan-out: a segment of N endpoints (half APNs tokens, half FCM tokens) imported from a
file:// JSON file, then one IMMEDIATE campaign per --mps value (0: no MessagesPerSecond) through
apns_sim and fcm_sim. Prints, per campaign: total time, the sustained delivery rate (results
recorded per second between 10% and 90% of the segment, from GetCampaignActivities), the rate
the scheduler queued at (same window), repoint's peak RSS (VmHWM) and Redis's peak memory.
usage: tests/bench/bench_campaign.py [--endpoints 1000000] [--mps 20000 0] [--workers 1]
       [--window 20000] [--queue-only] [--no-aof-rewrite] [--redis-config NAME VALUE]
Also prints CPU per endpoint by process, Redis's costliest commands (INFO commandstats), how
many AOF rewrites the run caused, and a timeline: deliveries per second in 2-second slices,
R marking the slices during which Redis was rewriting its AOF."""
import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
from procstat import cpu_seconds, peak_rss_mb  # noqa: E402
import push_sims  # noqa: E402
from apns_sim import ApnsSim, Credentials  # noqa: E402


def rounded(rate):
    """A rate for the report: None when the run was too short to sample one (NaN)."""
    return None if math.isnan(rate) else round(rate)


def cpu_snapshot(procs):
    spent = {name: cpu_seconds(p.pid, children=True) for name, p in procs.items()}
    # The benchmark's own polling (boto3, and the redis-cli runs it waited for) shares the
    # machine with what it measures: reported so that its share is known.
    t = os.times()
    spent["bench"] = t.user + t.system + t.children_user + t.children_system
    return spent


def redis_peak_mb(redis):
    for line in redis.cli("INFO", "memory").splitlines():
        if line.startswith("used_memory_peak:"):
            return int(line.split(":")[1]) / 1e6
    return 0.0


def aof_rewrites(redis):
    """Rewrites finished plus one under way: each forks a child that serialises the dataset."""
    info = dict(line.split(":", 1) for line in redis.cli("INFO", "persistence").splitlines()
                if ":" in line)
    return int(info.get("aof_rewrites", 0)) + int(info.get("aof_rewrite_in_progress", 0))


def aof_sizes(redis):
    """The AOF's size since the last rewrite and now (MB): Redis rewrites again once the second
    is twice the first, so their gap says how much a campaign may write before it does."""
    info = dict(line.split(":", 1) for line in redis.cli("INFO", "persistence").splitlines()
                if ":" in line)
    return {"aof_base_mb": int(info.get("aof_base_size", 0)) / 1e6,
            "aof_current_mb": int(info.get("aof_current_size", 0)) / 1e6,
            "rewriting": info.get("aof_rewrite_in_progress", "0").strip() == "1"}


def aof_rewriting(redis):
    return "aof_rewrite_in_progress:1" in redis.query("INFO", "persistence")


def timeline(samples, step=2.0):
    """Deliveries per second in each step-second slice of the run, with an R where Redis was
    rewriting its AOF during the slice: shows what the rewrite takes from the rate."""
    out, start = [], samples[0]
    for s in samples[1:]:
        if s[0] - start[0] >= step or s is samples[-1]:
            rewriting = any(x[3] for x in samples if start[0] <= x[0] <= s[0])
            out.append(f"{round((s[1] - start[1]) / (s[0] - start[0]))}{'R' if rewriting else ''}")
            start = s
    return " ".join(out)


def aof_rewrite_cost(redis):
    """The last rewrite's wall time and the memory the parent copied on write meanwhile (MB)."""
    info = dict(line.split(":", 1) for line in redis.cli("INFO", "persistence").splitlines()
                if ":" in line)
    return {"last_s": int(info.get("aof_last_rewrite_time_sec", -1)),
            "last_cow_mb": round(int(info.get("aof_last_cow_size", 0)) / 1e6)}


def redis_command_us(redis, n):
    """Redis's own time per endpoint by command (INFO commandstats since the run's RESETSTAT),
    the five costliest: says which of the run's Redis work to cut first."""
    spent = {}
    for line in redis.cli("INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            name, fields = line[len("cmdstat_"):].split(":", 1)
            stats = dict(kv.split("=") for kv in fields.strip().split(","))
            spent[name] = (int(stats["usec"]) / n, int(stats["calls"]))
    top = sorted(spent.items(), key=lambda kv: -kv[1][0])[:5]
    return {name: {"us": round(us, 2), "calls": calls} for name, (us, calls) in top}


def run_campaign(c, redis, app, seg, n, mps, procs, queue_only=False):
    req = {"Name": f"bench-{mps}", "SegmentId": seg, "Schedule": {"StartTime": "IMMEDIATE"},
           "MessageConfiguration": {"APNSMessage": {"Title": "Bench", "Body": "Hello"},
                                    "GCMMessage": {"Title": "Bench", "Body": "Hello"}}}
    if mps:
        req["Limits"] = {"MessagesPerSecond": mps}
    redis.cli("CONFIG", "RESETSTAT")  # also zeroes aof_rewrites
    aof0 = aof_sizes(redis)["aof_current_mb"]
    cpu0 = cpu_snapshot(procs)
    t0 = time.monotonic()
    cid = c.create_campaign(ApplicationId=app, WriteCampaignRequest=req)["CampaignResponse"]["Id"]
    samples = []  # (t, results recorded, endpoints queued, Redis rewriting its AOF)
    while True:
        acts = c.get_campaign_activities(ApplicationId=app, CampaignId=cid)[
            "ActivitiesResponse"]["Item"]
        t = time.monotonic() - t0
        if acts:
            a = acts[0]
            done = sum(int(v) for k, v in a["ExecutionMetrics"].items()
                       if not k.startswith(("SKIPPED", "HOLDOUT", "WITHDRAWN")))
            samples.append((t, done, a["TotalEndpointCount"], aof_rewriting(redis)))
            if a["State"] == "COMPLETED" or (queue_only and a["TotalEndpointCount"] >= n):
                break
        time.sleep(0.25)
    total = time.monotonic() - t0
    cpu1 = cpu_snapshot(procs)
    # CPU per delivery by process: steadier than the wall rate on a shared machine, and it says
    # which part the rate is waiting on.
    cpu_us = {name: round((cpu1[name] - cpu0[name]) * 1e6 / n, 1) for name in cpu0}

    def rate(index):
        lo = next(s for s in samples if s[index] >= n * 0.1)
        hi = next(s for s in samples if s[index] >= n * 0.9)
        return (hi[index] - lo[index]) / (hi[0] - lo[0]) if hi[0] > lo[0] else float("nan")
    cpu_us["redis_commands"] = redis_command_us(redis, n)
    cpu_us["aof_rewrites"] = aof_rewrites(redis)
    cpu_us["aof_rewrite"] = aof_rewrite_cost(redis)
    # What the run appended to the AOF (readable only when no rewrite restarted the count): the
    # pace at which a campaign brings the next rewrite nearer.
    cpu_us["aof_bytes_per_endpoint"] = None if cpu_us["aof_rewrites"] else round(
        (aof_sizes(redis)["aof_current_mb"] - aof0) * 1e6 / n)
    cpu_us["timeline"] = timeline(samples)
    return cid, total, float("nan") if queue_only else rate(1), rate(2), a, cpu_us


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoints", type=int, default=1000000)
    ap.add_argument("--mps", type=int, nargs="+", default=[20000, 0])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--window", type=int, default=20000)
    ap.add_argument("--no-aof-rewrite", action="store_true",
                    help="Redis does not rewrite its AOF during the campaigns: separates what "
                         "the rewrite of a large dataset costs from the run's own Redis work")
    ap.add_argument("--redis-config", nargs=2, action="append", default=[],
                    metavar=("NAME", "VALUE"),
                    help="CONFIG SET on the benchmark's Redis before the import (repeatable): "
                         "what an operator's setting does to the run; the default is Redis's "
                         "own configuration")
    ap.add_argument("--queue-only", action="store_true",
                    help="the scheduler alone: no workers, a window of the whole segment; "
                         "measures how fast it reads, renders and queues")
    args = ap.parse_args()
    n = args.endpoints
    if args.queue_only:
        args.workers, args.window = 0, n
    root = os.path.realpath(tempfile.mkdtemp(prefix="rp-bench-campaign-"))
    path = os.path.join(root, "in", "endpoints.json")
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        for i in range(n):
            if i % 2:
                f.write(f'{{"Id":"e{i}","ChannelType":"GCM","Address":"fcm-token-{i}"}}\n')
            else:
                f.write(f'{{"Id":"e{i}","ChannelType":"APNS","Address":"{i:064x}"}}\n')
    creds = Credentials("com.example.repoint")
    apns = ApnsSim(creds, "production", extra=["--max-streams", "1000", "--no-record"])
    fcm = push_sims.FcmSim(extra_args=["--no-record"]).start()
    redis = harness.Redis().start()
    for name, value in args.redis_config:
        assert redis.cli("CONFIG", "SET", name, value).strip() == "OK", (name, value)
    rp = None
    try:
        rp = harness.Repoint(redis.url, env={
            **fcm.env(), "REPOINT_APNS_PRODUCTION_URL": apns.url,
            "REPOINT_IMPORT_FILE_ROOT": root, "REPOINT_LOG_LEVEL": "info",
            "REPOINT_IMPORT_MAX_BYTES": str(max(os.path.getsize(path) + 1, 1 << 30)),
            "REPOINT_WORKERS_THREADS": str(args.workers), "REPOINT_QUEUE_IN_FLIGHT": "2000",
            "REPOINT_CAMPAIGNS_QUEUE_WINDOW": str(args.window)})
        rp.start()
        c = rp.client()
        app = c.create_app(CreateApplicationRequest={"Name": "bench"})["ApplicationResponse"]["Id"]
        c.update_apns_channel(ApplicationId=app, APNSChannelRequest=creds.token_channel())
        c.update_gcm_channel(ApplicationId=app, GCMChannelRequest={
            "ServiceJson": fcm.service_json(), "Enabled": True})
        t0 = time.monotonic()
        job = c.create_import_job(ApplicationId=app, ImportJobRequest={
            "S3Url": f"file://{path}", "RoleArn": "arn:aws:iam::1:role/x", "Format": "JSON",
            "DefineSegment": True, "SegmentName": "bench", "RegisterEndpoints": True})[
            "ImportJobResponse"]
        while True:
            r = c.get_import_job(ApplicationId=app, JobId=job["Id"])["ImportJobResponse"]
            if r["JobStatus"] in ("COMPLETED", "FAILED"):
                break
            time.sleep(0.5)
        assert r["JobStatus"] == "COMPLETED", r
        print(f"import: {n} endpoints in {time.monotonic() - t0:.1f} s; Redis "
              f"{redis_peak_mb(redis):.0f} MB", flush=True)
        redis.cli("MEMORY", "PURGE")
        # A rewrite the import started is the import's cost: the campaign starts once it is
        # over, so the rewrites a run reports are the ones its own writes caused.
        harness.wait_until(lambda: not aof_rewriting(redis), timeout=300,
                           what="the AOF rewrite the import started")
        sizes = aof_sizes(redis)
        print(f"after import: AOF {sizes['aof_base_mb']:.0f} MB at the last rewrite, "
              f"{sizes['aof_current_mb']:.0f} MB now"
              f"{', rewriting' if sizes['rewriting'] else ''}", flush=True)
        if args.no_aof_rewrite:
            redis.cli("CONFIG", "SET", "auto-aof-rewrite-percentage", "0")
        for mps in args.mps:
            procs = {"repoint": rp.proc, "redis": redis.proc, "apns_sim": apns.proc,
                     "fcm_sim": fcm.proc}
            cid, total, delivered, queued, a, cpu_us = run_campaign(
                c, redis, app, job["Definition"]["SegmentId"], n, mps, procs, args.queue_only)
            print(json.dumps({
                "endpoints": n, "MessagesPerSecond": mps or None, "workers": args.workers,
                "total_s": round(total, 1),
                "sustained_delivered_per_s": None if args.queue_only else rounded(delivered),
                "sustained_queued_per_s": rounded(queued),
                "successful": a["SuccessfulEndpointCount"], "metrics": a["ExecutionMetrics"],
                "repoint_peak_rss_mb": round(peak_rss_mb(rp.proc.pid)),
                "redis_peak_mb": round(redis_peak_mb(redis)),
                "cpu_us_per_endpoint": cpu_us,
                "apns_accepted": apns.stats()["accepted"],
                "fcm_accepted": fcm.stats()["accepted"]}), flush=True)
    finally:
        if rp:
            rp.cleanup()
        redis.cleanup()
        apns.stop()
        fcm.cleanup()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
