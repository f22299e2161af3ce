"""Endpoints stored by an older Repoint (a hash per endpoint) keep working after an upgrade to
the one-string layout: reads, updates, user lookups and deletes meet them and convert them, and
the janitor converts the rest in the background, once (rp:layout records it), with nothing for
the operator to do and nothing lost."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
from endpoint_layout import endpoint_keys, kinds, to_hash_layout  # noqa: E402

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
        harness.wait_until(lambda: redis.cli("GET", "rp:layout").strip() == "2",
                           what="the janitor's first pass")
        keys = endpoint_keys(redis, app)
        assert len(keys) == N and kinds(redis, keys) == {"string"}, kinds(redis, keys)

        # An older instance, still running during a rolling upgrade, wrote these: the janitor has
        # finished its pass, so the requests below meet hashes and must convert them.
        for k in keys:
            to_hash_layout(redis, k)
        assert kinds(redis, keys) == {"hash"}
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
        left = endpoint_keys(redis, app)
        assert len(left) == N - 1
        hashes = sorted(k.rsplit(":", 1)[1] for k in left if redis.cli("TYPE", k).strip() == "hash")
        # Read or written above: the even ones and user-1's; user-3's were not touched.
        assert hashes == sorted(f"ep-{i}" for i in range(3, N, 4)), hashes

        # Upgrading from an older Repoint: no rp:layout yet. The janitor converts every hash once.
        daemon.stop()
        redis.cli("DEL", "rp:layout")
        daemon.start()
        harness.wait_until(lambda: redis.cli("GET", "rp:layout").strip() == "2",
                           what="the conversion pass")
        assert kinds(redis, endpoint_keys(redis, app)) == {"string"}
        assert f"converted {len(hashes)} endpoints to the one-string layout" in daemon.logs()
        for i in range(N):
            if i in (1, 5):
                continue
            assert endpoint(c, app, f"Ep-{i}") == before[i], i
        assert user_endpoints(c, app, "user-2") == sorted(f"Ep-{i}" for i in range(2, N, 4))
    finally:
        daemon.stop()
        redis.cleanup()


if __name__ == "__main__":
    harness.run_tests([test_older_hash_layout_is_read_written_and_converted])
