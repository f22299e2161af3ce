#!/usr/bin/env python3
"""What Redis's AOF rewrite costs per stored record, by layout: loads N records of one kind into a
fresh redis-server (AOF on, automatic rewrites off), then times one BGREWRITEAOF (the child's
CPU, from the parent's reaped-children time) and reports memory. Says which of repoint's keys
make a rewrite expensive, and what another layout would save.
usage: tests/bench/rewrite_cost.py [--records 300000] [kind ...]
kinds: endpoint (the older layout's hash: j and r), endpoint-listpack (the same under
hash-max-listpack-value 1024), endpoint-string (one string per endpoint: the layout since
2026-11-23), address-set (the older address index: a set per address), address-string,
address-field (one field per address in a hash per shard: the index since 2026-11-23), members
(the per-shard member sets), segment-member (an imported segment's sorted set of ids), event
(rp:events entries)."""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import free_port, resp_command as command  # noqa: E402

APP = "43c6a0ecaecac92222519d06b996bf56"
SHARDS = 32
EVENT = ('{"event_type":"_campaign.send","event_timestamp":1795396680955,"arrival_timestamp":'
         '1795396680905,"event_version":"3.1","application":{"app_id":"%s","sdk":{}},"client":'
         '{"client_id":"e%d"},"device":{"platform":{}},"session":{},"attributes":{"message_id":'
         '"1e321756-8259-4c35-9ff1-ae87748754b3","provider_message_id":"e95efb2d-ec1a-42de-bb12-'
         '5951525b9461","delivery_status":"SUCCESSFUL","status_code":"200","status_message":"OK",'
         '"channel_type":"APNS","address":"%064x","endpoint_id":"e%d","request_id":"1808f439f368'
         '27de6c949d35e9646497","campaign_id":"d19b476b94ab802595922da139aec87c","campaign_activi'
         'ty_id":"1808f439f36827de6c949d35e9646497","treatment_id":"0","attempt":"1","delivery_ty'
         'pe":"APNS","campaign_send_status":"SUCCESS"},"metrics":{},"awsAccountId":"000000000000"}')
ENDPOINT = ('{"ChannelType":"APNS","Address":"%064x","EndpointStatus":"ACTIVE","OptOut":"NONE",'
            '"Location":{},"Demographic":{},"EffectiveDate":"2026-11-23T01:18:32.988Z",'
            '"Attributes":{},"Metrics":{},"User":{"UserAttributes":{}},"ApplicationId":"%s",'
            '"Id":"e%d","CohortId":"62","CreationDate":"2026-11-23T01:18:32.988Z"}')
REV = "68c41d59e519476df588df148aecd164"


def record(kind, i):
    s = i % SHARDS
    if kind.startswith("endpoint"):
        key, text = f"rp:{{e:{APP}:{s}}}:ep:e{i}", ENDPOINT % (i, APP, i)
        if kind == "endpoint-string":
            return command("SET", key, f"{REV}\n{text}")
        return command("HSET", key, "j", text, "r", REV)
    if kind == "address-set":
        return command("SADD", f"rp:{{x:{APP}:{s}}}:ad:APNS:{i:064x}", f"e{i}")
    if kind == "address-string":
        return command("SET", f"rp:{{x:{APP}:{s}}}:ad:APNS:{i:064x}", f"e{i}")
    if kind == "address-field":
        return command("HSET", f"rp:{{x:{APP}:{s}}}:ad", f"APNS:{i:064x}", f"e{i}")
    if kind == "members":
        return command("SADD", f"rp:{{e:{APP}:{s}}}:eps", f"e{i}")
    if kind == "segment-member":
        return command("ZADD", f"rp:{{a:{APP}}}:seg:{APP}:m:1", "0", f"e{i}")
    if kind == "event":
        return command("XADD", "rp:events", "MAXLEN", "~", "1000000", "*", "data",
                       EVENT % (APP, i, i, i), "app", APP)
    raise SystemExit(f"unknown kind {kind}")


def children_cpu_s(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True,
                          check=True).stdout


def measure(kind, n):
    d = tempfile.mkdtemp(prefix="rp-rewrite-")
    port = free_port()
    extra = ["--hash-max-listpack-value", "1024"] if kind == "endpoint-listpack" else []
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir",
                              d, "--appendonly", "yes", "--save", "", "--auto-aof-rewrite-percentage",
                              "0", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        loader = subprocess.Popen(["redis-cli", "-p", str(port), "--pipe"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL)
        for start in range(0, n, 10000):
            loader.stdin.write(b"".join(record(kind, i) for i in range(start, min(n, start + 10000))))
        loader.stdin.close()
        loader.wait()
        memory = int(dict(l.split(":", 1) for l in cli(port, "INFO", "memory").splitlines()
                          if ":" in l)["used_memory"])
        cpu0 = children_cpu_s(redis.pid)
        cli(port, "BGREWRITEAOF")
        time.sleep(0.05)
        while "aof_rewrite_in_progress:1" in cli(port, "INFO", "persistence"):
            time.sleep(0.05)
        time.sleep(0.1)  # the child reaped
        child = children_cpu_s(redis.pid) - cpu0
        return {"kind": kind, "records": n, "rewrite_cpu_us_per_record": round(child * 1e6 / n, 2),
                "memory_bytes_per_record": round(memory / n)}
    finally:
        redis.terminate()
        redis.wait()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=300000)
    ap.add_argument("kinds", nargs="*", default=["endpoint", "endpoint-listpack", "endpoint-string",
                                                 "address-set", "address-string", "address-field",
                                                 "members", "segment-member", "event"])
    a = ap.parse_args()
    for kind in a.kinds:
        print(json.dumps(measure(kind, a.records)), flush=True)


if __name__ == "__main__":
    main()
