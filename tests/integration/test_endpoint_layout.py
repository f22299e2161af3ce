"""Endpoints stored by an older Repoint (a hash per endpoint, a set per address in the address
index) keep working after an upgrade to the current layout (a string per endpoint, a field per
address): reads, updates, user lookups, deletes and the rule that a new endpoint with an address
deactivates the others meet them and convert them, and the janitor converts the rest in the
background, once (rp:layout records it), with nothing for the operator to do and nothing lost."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
from endpoint_layout import (LAYOUT_RECHECK_S, address_index, address_sets,  # noqa: E402
                             endpoint_keys, kinds, to_hash_layout, to_set_layout)

N = 40


def endpoint(c, app, eid):
    got = c.get_endpoint(ApplicationId=app, EndpointId=eid)["EndpointResponse"]
    got.pop("RequestId", None)
    return got


def user_endpoints(c, app, user):
    items = c.get_user_endpoints(ApplicationId=app, UserId=user)["EndpointsResponse"]["Item"]
    return sorted(e["Id"] for e in items)


def test_older_hash_layout_is_read_written_and_converted():
    redis = harness.Redis().start()
    daemon = harness.Repoint(redis.url)
    try:
        daemon.start()
        c = daemon.client()
        app = c.create_app(CreateApplicationRequest={"Name": "layout"})["ApplicationResponse"]["Id"]
        for i in range(N):
            c.update_endpoint(ApplicationId=app, EndpointId=f"Ep-{i}", EndpointRequest={
                "ChannelType": "SMS", "Address": f"+1206555{i:04d}",
                "User": {"UserId": f"user-{i % 4}"}, "Attributes": {"n": [str(i)]}})
        before = {i: endpoint(c, app, f"Ep-{i}") for i in range(N)}
        harness.wait_until(lambda: redis.cli("GET", "rp:layout").strip() == "3",
                           what="the janitor's first pass")
        keys = endpoint_keys(redis, app)
        assert len(keys) == N and kinds(redis, keys) == {"string"}, kinds(redis, keys)

        # As if the janitor's conversion pass had not finished: rp:layout is not set (this
        # process's janitor has done its pass and does not look again), so the requests below
        # meet older records and must take them in.
        redis.cli("DEL", "rp:layout")
        index = address_index(redis, app)
        assert len(index) == N and all(len(v) == 1 for v in index.values()), index
        for k in keys:
            to_hash_layout(redis, k)
        assert kinds(redis, keys) == {"hash"}
        assert to_set_layout(redis, app) == N and not address_index(redis, app)
        time.sleep(LAYOUT_RECHECK_S + 0.2)  # every thread reads the marker again
        assert all(endpoint(c, app, f"Ep-{i}") == before[i] for i in range(0, N, 2))
        assert user_endpoints(c, app, "user-1") == sorted(f"Ep-{i}" for i in range(1, N, 4))
        c.update_endpoint(ApplicationId=app, EndpointId="Ep-1", EndpointRequest={
            "Attributes": {"n": ["changed"]}, "User": {"UserId": "user-9"}})
        got = endpoint(c, app, "Ep-1")
        assert got["Attributes"]["n"] == ["changed"] and got["User"]["UserId"] == "user-9", got
        assert user_endpoints(c, app, "user-9") == ["Ep-1"]
        c.delete_endpoint(ApplicationId=app, EndpointId="Ep-5")
        assert user_endpoints(c, app, "user-1") == sorted(
            f"Ep-{i}" for i in range(9, N, 4)), "Ep-1 moved to user-9, Ep-5 was deleted"
        # A new endpoint with Ep-3's address: Ep-3, known only to the older set, goes INACTIVE.
        c.update_endpoint(ApplicationId=app, EndpointId="Dup", EndpointRequest={
            "ChannelType": "SMS", "Address": "+12065550003"})
        assert endpoint(c, app, "Ep-3")["EndpointStatus"] == "INACTIVE"
        assert endpoint(c, app, "Dup")["EndpointStatus"] == "ACTIVE"
        assert address_index(redis, app) == {"SMS:+12065550003": ["dup", "ep-3"]}
        left = endpoint_keys(redis, app)
        assert len(left) == N
        hashes = sorted(k.rsplit(":", 1)[1] for k in left if redis.cli("TYPE", k).strip() == "hash")
        # Read or written above: the even ones, user-1's and Ep-3; the rest of user-3's were not.
        assert hashes == sorted(f"ep-{i}" for i in range(7, N, 4)), hashes
        sets = address_sets(redis, app)
        assert len(sets) == N - 2, "Ep-5's (deleted) and Ep-3's (taken over) were converted"

        # Upgrading from an older Repoint: no rp:layout yet. The janitor converts every hash once.
        daemon.stop()
        daemon.start()
        harness.wait_until(lambda: redis.cli("GET", "rp:layout").strip() == "3",
                           what="the conversion pass")
        assert kinds(redis, endpoint_keys(redis, app)) == {"string"}
        assert not address_sets(redis, app)
        assert (f"converted {len(hashes)} endpoints and {len(sets)} address index entries to the "
                "current layout") in daemon.logs()
        index = address_index(redis, app)
        assert len(index) == N - 1 and index["SMS:+12065550007"] == ["ep-7"], index
        for i in range(N):
            if i in (1, 3, 5):
                continue
            assert endpoint(c, app, f"Ep-{i}") == before[i], i
        assert user_endpoints(c, app, "user-2") == sorted(f"Ep-{i}" for i in range(2, N, 4))
        # The converted index still deactivates: a new endpoint takes Ep-7's address.
        c.update_endpoint(ApplicationId=app, EndpointId="Dup2", EndpointRequest={
            "ChannelType": "SMS", "Address": "+12065550007"})
        assert endpoint(c, app, "Ep-7")["EndpointStatus"] == "INACTIVE"
    finally:
        daemon.stop()
        redis.cleanup()


if __name__ == "__main__":
    harness.run_tests([test_older_hash_layout_is_read_written_and_converted])
