"""The Repoint side of tests/bench/bench_email.sh: a Redis and a Repoint relaying to the sink
with smtp.connections C; N messages sent as SendMessages requests of 100 addresses each (direct
sends: each request answers once all its messages have the sink's answer), 4 requests in flight.
Prints "<messages> <seconds> <successful>".
usage: python3 bench_email.py PORT CONNECTIONS MESSAGES MESSAGE_JSON_FILE"""
import concurrent.futures
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402


def main():
    port, connections, count, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with open(path) as f:
        msg = json.load(f)
    env = {"REPOINT_SMTP_URL": f"smtp://127.0.0.1:{port}", "REPOINT_SMTP_STARTTLS": "off",
           "REPOINT_SMTP_CONNECTIONS": connections, "REPOINT_SMTP_MESSAGES_PER_CONNECTION": "100",
           "REPOINT_DIRECT_DEADLINE_MS": "120000", "REPOINT_LOG_LEVEL": "warn",
           "REPOINT_QUEUE_IN_FLIGHT": "1024"}
    with harness.stack(env=env) as (_, daemon):
        client = daemon.client()
        app = client.create_app(CreateApplicationRequest={"Name": "bench"})["ApplicationResponse"]["Id"]
        client.update_email_channel(ApplicationId=app, EmailChannelRequest={
            "Enabled": True, "FromAddress": msg["from"], "Identity": "bench"})
        message = {"EmailMessage": {"SimpleEmail": {
            "Subject": {"Data": msg["subject"]}, "TextPart": {"Data": msg["text"]},
            "HtmlPart": {"Data": msg["html"]}}}}
        batches = [[f"user{i}@example.org" for i in range(s, min(s + 100, count))]
                   for s in range(0, count, 100)]
        clients = [daemon.client() for _ in range(4)]

        def send(k):
            batch = batches[k]
            resp = clients[k % 4].send_messages(ApplicationId=app, MessageRequest={
                "Addresses": {a: {"ChannelType": "EMAIL"} for a in batch},
                "MessageConfiguration": message})["MessageResponse"]["Result"]
            return sum(1 for r in resp.values() if r["DeliveryStatus"] == "SUCCESSFUL")

        send(0)  # warm-up: connections, caches
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            ok = sum(pool.map(send, range(len(batches))))
        seconds = time.monotonic() - start
        print(f"{count} {seconds:.3f} {ok}")


if __name__ == "__main__":
    main()
