"""Endpoints as a Repoint before the one-string layout stored them: a hash {j: the JSON,
r: the revision, u: the user id when there is one} (gateway/endpoint_store.c converts them)."""
import json

# gateway/endpoint_store.c's LAYOUT_RECHECK_MS: how long a thread that saw rp:layout set goes on
# trusting it. A test that takes the marker away waits this long before its requests.
LAYOUT_RECHECK_S = 2.0


def endpoint_keys(redis, app):
    return redis.cli("--scan", "--pattern", f"rp:{{e:{app}:*}}:ep:*").split()


def to_hash_layout(redis, key):
    """Rewrites one stored endpoint (a record: revision, newline, JSON) as the older hash."""
    record = redis.cli("GET", key)
    rev, text = record.rstrip("\n").split("\n", 1)
    user = json.loads(text).get("User", {}).get("UserId")
    redis.cli("DEL", key)
    fields = ["j", text, "r", rev] + (["u", user] if user else [])
    assert redis.cli("HSET", key, *fields).strip() == str(len(fields) // 2), key
    return rev


def kinds(redis, keys):
    return {redis.cli("TYPE", k).strip() for k in keys}


def address_hashes(redis, app):
    return redis.cli("--scan", "--pattern", f"rp:{{x:{app}:*}}:ad").split()


def address_sets(redis, app):
    return redis.cli("--scan", "--pattern", f"rp:{{x:{app}:*}}:ad:*").split()


def address_index(redis, app):
    """{channel:address: sorted holder ids} as the index holds it now."""
    index = {}
    for h in address_hashes(redis, app):
        for field in redis.cli("HKEYS", h).splitlines():
            index[field] = sorted(redis.cli("HGET", h, field).rstrip("\n").split("\n"))
    return index


def to_set_layout(redis, app):
    """Rewrites the address index as the older sets, one per address (named by the hash and the
    field); returns how many."""
    n = 0
    for h in address_hashes(redis, app):
        for field in redis.cli("HKEYS", h).splitlines():
            ids = redis.cli("HGET", h, field).rstrip("\n").split("\n")
            assert redis.cli("SADD", f"{h}:{field}", *ids).strip() == str(len(ids))
            n += 1
        redis.cli("DEL", h)
    return n
