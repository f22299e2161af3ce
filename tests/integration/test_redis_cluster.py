"""Repoint on a real three-master Redis Cluster (redis-server --cluster-enabled yes, joined with
redis-cli --cluster create), named by redis.url redis-cluster://host:port,host:port: the API,
the queue and the workers spread their keys over the masters; sends keep succeeding while the
slots that hold the app, its endpoints and the SMS queue migrate to another master under
traffic (MOVED and ASK followed, nothing lost); and a deleted app's keys are removed from every
master."""
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402

SENDS = 40
PER_SEND = 10


def cluster_port():
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    while True:
        port = random.randint(20000, 50000)
        try:
            for p in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue


class Cluster:
    def __init__(self, masters=3):
        self.dir = tempfile.mkdtemp(prefix="rp-cluster-")
        self.ports = [cluster_port() for _ in range(masters)]
        self.procs = []

    def cli(self, port, *args):
        p = subprocess.run(["redis-cli", "-p", str(port), "--raw", *map(str, args)],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()

    def start(self):
        for port in self.ports:
            d = os.path.join(self.dir, str(port))
            os.makedirs(d)
            self.procs.append(subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                 "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-node-timeout", "5000", "--appendonly", "yes", "--save", "",
                 "--daemonize", "no", "--logfile", os.path.join(d, "redis.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in self.ports:
            harness.wait_until(lambda p=port: self.ping(p), what=f"redis {port}")
        p = subprocess.run(["redis-cli", "--cluster", "create",
                            *[f"127.0.0.1:{port}" for port in self.ports],
                            "--cluster-replicas", "0", "--cluster-yes"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        for port in self.ports:
            harness.wait_until(lambda p=port: "cluster_state:ok" in self.cli(p, "CLUSTER", "INFO"),
                               timeout=30, what="cluster_state:ok")
        self.ids = {port: self.cli(port, "CLUSTER", "MYID") for port in self.ports}
        return self

    def ping(self, port):
        try:
            return self.cli(port, "PING") == "PONG"
        except AssertionError:
            return False

    @property
    def url(self):
        return "redis-cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports[:2])

    def owner(self, slot):
        for line in self.cli(self.ports[0], "CLUSTER", "NODES").splitlines():
            fields = line.split()
            port = int(fields[1].split("@")[0].split(":")[1])
            for r in fields[8:]:
                if r.startswith("["):
                    continue
                lo, _, hi = r.partition("-")
                if int(lo) <= slot <= int(hi or lo):
                    return port
        raise AssertionError(f"nobody owns slot {slot}")

    def slot(self, key):
        return int(self.cli(self.ports[0], "CLUSTER", "KEYSLOT", key))

    def migrate(self, slot, dst):
        """Moves one slot the way redis-cli --cluster reshard does, slowly enough that traffic
        meets the MIGRATING/IMPORTING state."""
        src = self.owner(slot)
        if src == dst:
            return
        self.cli(dst, "CLUSTER", "SETSLOT", slot, "IMPORTING", self.ids[src])
        self.cli(src, "CLUSTER", "SETSLOT", slot, "MIGRATING", self.ids[dst])
        while True:
            keys = self.cli(src, "CLUSTER", "GETKEYSINSLOT", slot, 5).split()
            if not keys:
                break
            self.cli(src, "MIGRATE", "127.0.0.1", dst, "", 0, 5000, "KEYS", *keys)
            time.sleep(0.1)
        for port in self.ports:
            self.cli(port, "CLUSTER", "SETSLOT", slot, "NODE", self.ids[dst])

    def keys(self, pattern):
        return {port: self.cli(port, "--scan", "--pattern", pattern).split() for port in self.ports}

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def test_cluster_traffic_through_slot_migration():
    cluster = Cluster().start()
    sim = harness.SmsSim(tls=False).start()
    root = tempfile.mkdtemp(prefix="rp-cluster-import-")
    daemon = harness.Repoint(cluster.url, env={**sim.env(), "REPOINT_REDIS_TIMEOUT_MS": "2000",
                                               "REPOINT_IMPORT_FILE_ROOT": root})
    try:
        daemon.start()
        c = daemon.client(retries=2)
        app = c.create_app(CreateApplicationRequest={"Name": "clustered"})["ApplicationResponse"]["Id"]
        c.update_sms_channel(ApplicationId=app, SMSChannelRequest={"Enabled": True, "SenderId": "Repoint"})
        # An import first, before anything else has run the endpoint script on any master: its
        # pipelined EVALSHAs land on every master holding an endpoint shard.
        with open(os.path.join(root, "eps.json"), "w") as f:
            for i in range(64):
                f.write(json.dumps({"Id": f"imp-{i}", "ChannelType": "SMS",
                                    "Address": f"+1415666{i:04d}"}) + "\n")
        job = c.create_import_job(ApplicationId=app, ImportJobRequest={
            "Format": "JSON", "S3Url": f"file://{root}/eps.json",
            "RoleArn": "arn:aws:iam::000000000000:role/import"})["ImportJobResponse"]

        def imported():
            r = c.get_import_job(ApplicationId=app, JobId=job["Id"])["ImportJobResponse"]
            return r if r["JobStatus"] in ("COMPLETED", "FAILED") else None
        harness.wait_until(imported, timeout=30, what="the import job")
        done = imported()
        assert done["JobStatus"] == "COMPLETED" and done["TotalProcessed"] == 64 and \
            done["TotalFailures"] == 0, done
        for i in (0, 17, 63):
            assert c.get_endpoint(ApplicationId=app, EndpointId=f"imp-{i}")[
                "EndpointResponse"]["Address"] == f"+1415666{i:04d}"
        ids = [f"ep-{i}" for i in range(PER_SEND)]
        for i, ep in enumerate(ids):
            c.update_endpoint(ApplicationId=app, EndpointId=ep, EndpointRequest={
                "ChannelType": "SMS", "Address": f"+1415555{i:04d}"})
        spread = {port: len(keys) for port, keys in cluster.keys("rp:*").items()}
        assert sum(1 for n in spread.values() if n) >= 2, f"keys on one master only: {spread}"

        results, errors = [], []

        def traffic():
            try:
                for n in range(SENDS):
                    r = c.send_messages(ApplicationId=app, MessageRequest={
                        "Endpoints": {ep: {} for ep in ids},
                        "MessageConfiguration": {"SMSMessage": {"Body": f"wave {n}"}}})
                    results.append(r["MessageResponse"]["EndpointResult"])
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        t = threading.Thread(target=traffic)
        t.start()
        # The slots holding the app's records, one endpoint shard and the SMS queue each move to
        # a master that did not own them, while the sends run.
        moved = []
        for key in (f"rp:{{a:{app}}}:app", "rp:q:{SMS:0}",
                    next(k for keys in cluster.keys(f"rp:{{e:{app}:*}}:ep:*").values()
                         for k in keys)):
            slot = cluster.slot(key)
            dst = next(p for p in cluster.ports if p != cluster.owner(slot))
            cluster.migrate(slot, dst)
            moved.append((key, slot, dst))
        t.join(120)
        assert not t.is_alive(), "sends hung"
        assert not errors, errors
        logs = daemon.logs()
        assert "MOVED slot" in logs, "no redirection met: the migrations missed the traffic"
        for key, slot, dst in moved:
            assert cluster.owner(slot) == dst and cluster.cli(dst, "EXISTS", key) == "1", key
        statuses = [r["DeliveryStatus"] for res in results for r in res.values()]
        assert len(statuses) == SENDS * PER_SEND
        assert set(statuses) == {"SUCCESSFUL"}, [r for res in results for r in res.values()][:3]
        bodies = [m["body"] for m in sim.messages(0)["messages"]]
        for n in range(SENDS):
            assert bodies.count(f"wave {n}") >= PER_SEND, f"wave {n} lost messages"
        for ep in ids:
            assert c.get_endpoint(ApplicationId=app, EndpointId=ep)["EndpointResponse"]["Id"] == ep

        c.delete_app(ApplicationId=app)

        def gone():
            return not any(cluster.keys(f"rp:{{[aex]:{app}*").values())
        harness.wait_until(gone, timeout=30, what="the deleted app's keys removed on every master")
    finally:
        daemon.cleanup()
        sim.stop()
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    harness.run_tests([test_cluster_traffic_through_slot_migration])
