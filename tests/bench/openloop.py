"""Open-loop HTTP load at a fixed rate, for latency at a given request rate: request i is due at
start + i/rate whether or not earlier ones have answered, and its latency is measured from that
due time, so a stall shows up in the percentiles instead of slowing the sender down (wrk's closed
loop hides it: "coordinated omission"). Requests are botocore-signed (SigV4) in advance and
replayed, cycling through N distinct ones, over keep-alive HTTP/1.1 connections (a new one is
opened whenever every open one is busy, up to --connections).

usage: openloop.py URL PATH BODY_TEMPLATE --rate R --seconds S [--distinct N] [--connections C]
       < "ACCESS SECRET"            (BODY_TEMPLATE may contain {i}; "-" for unsigned requests)
Prints one JSON line: sent, ok, non2xx, errors, rate, p50/p90/p99/p999/max latency (ms) from the
due time, service_p50/p99 (ms) from the moment the request was written, the count of each status
(statuses), and ok_p50/ok_p99/ok_p999 and ok_service_p99 (ms): the same for the 2xx answers
alone (the admitted requests, when admission control refuses others with 429)."""
import argparse
import asyncio
import json
import sys
import time
import urllib.parse


def build_requests(url, path, body_t, n, creds):
    """Returns n raw HTTP/1.1 POST requests (bytes), signed unless creds is None."""
    host = urllib.parse.urlsplit(url).netloc
    out = []
    for i in range(n):
        body = body_t.replace("{i}", str(i)).encode()
        headers = {"Content-Type": "application/json"}
        if creds:
            import botocore.auth
            import botocore.awsrequest
            req = botocore.awsrequest.AWSRequest(method="POST", url=url + path, data=body,
                                                 headers=headers)
            botocore.auth.SigV4Auth(creds, "mobiletargeting", "us-east-1").add_auth(req)
            headers = {k: v for k, v in req.prepare().headers.items()
                       if k.lower() not in ("host", "content-length")}
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        out.append(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return out


async def read_response(reader):
    """Reads one response; returns its status. Bodies are framed by Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def run(args, requests):
    parsed = urllib.parse.urlsplit(args.url)
    host, port = parsed.hostname, parsed.port or 80
    idle = []            # (reader, writer) ready for a request
    open_count = 0
    free = asyncio.Condition()
    latencies, service, ok_latencies, ok_service = [], [], [], []
    counts = {"ok": 0, "non2xx": 0, "errors": 0}
    statuses = {}

    async def acquire():
        nonlocal open_count
        async with free:
            while True:
                if idle:
                    return idle.pop()
                if open_count < args.connections:
                    open_count += 1
                    break
                await free.wait()
        try:
            return await asyncio.open_connection(host, port)
        except OSError:
            async with free:
                open_count -= 1
                free.notify()
            raise

    async def release(conn, broken):
        nonlocal open_count
        async with free:
            if broken:
                open_count -= 1
                conn[1].close()
            else:
                idle.append(conn)
            free.notify()

    async def one(due, raw):
        try:
            conn = await acquire()
        except OSError:
            counts["errors"] += 1
            return
        broken = False
        try:
            written = time.monotonic()
            conn[1].write(raw)
            status = await read_response(conn[0])
            done = time.monotonic()
            latencies.append(done - due)
            service.append(done - written)
            counts["ok" if 200 <= status < 300 else "non2xx"] += 1
            statuses[status] = statuses.get(status, 0) + 1
            if 200 <= status < 300:
                ok_latencies.append(done - due)
                ok_service.append(done - written)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            counts["errors"] += 1
            broken = True
        await release(conn, broken)

    total = int(args.rate * args.seconds)
    tasks = []
    start = time.monotonic() + 0.1
    for i in range(total):
        due = start + i / args.rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(due, requests[i % len(requests)])))
    elapsed = time.monotonic() - start
    await asyncio.gather(*tasks)
    for conn in idle:
        conn[1].close()
    return (total, elapsed, latencies, service, counts, open_count, ok_latencies, ok_service,
            statuses)


def pct(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, int(round(p / 100.0 * (len(sorted_values) - 1))))
    return round(sorted_values[k] * 1000, 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("path")
    ap.add_argument("body")
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--distinct", type=int, default=1000)
    ap.add_argument("--connections", type=int, default=256)
    ap.add_argument("--unsigned", action="store_true")
    args = ap.parse_args()
    creds = None
    if not args.unsigned:
        import botocore.credentials
        access, secret = sys.stdin.read().split()[:2]
        creds = botocore.credentials.Credentials(access, secret)
    requests = build_requests(args.url, args.path, args.body, args.distinct, creds)
    total, elapsed, lat, svc, counts, conns, ok_lat, ok_svc, statuses = asyncio.run(
        run(args, requests))
    lat.sort()
    svc.sort()
    ok_lat.sort()
    ok_svc.sort()
    print(json.dumps({
        "sent": total, **counts, "rate": round(total / elapsed, 1) if elapsed > 0 else None,
        "connections": conns, "p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99),
        "p999": pct(lat, 99.9), "max": pct(lat, 100), "service_p50": pct(svc, 50),
        "service_p99": pct(svc, 99), "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "ok_p50": pct(ok_lat, 50), "ok_p99": pct(ok_lat, 99), "ok_p999": pct(ok_lat, 99.9),
        "ok_service_p99": pct(ok_svc, 99)}))


if __name__ == "__main__":
    main()
