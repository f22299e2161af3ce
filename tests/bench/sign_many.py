"""Writes a wrk Lua script that cycles through N botocore-signed requests (SigV4, valid for AWS's
15 minutes), so a benchmark can spread over many endpoints and still have every request verified.
usage: sign_many.py URL METHOD PATH_TEMPLATE BODY_TEMPLATE N OUT.lua < "ACCESS SECRET"
PATH_TEMPLATE and BODY_TEMPLATE may contain {i}."""
import sys

import botocore.auth
import botocore.awsrequest
import botocore.credentials

url, method, path_t, body_t, n, out = sys.argv[1:7]
access, secret = sys.stdin.read().split()[:2]
creds = botocore.credentials.Credentials(access, secret)


def lua(s):
    return "[==[" + s + "]==]"


with open(out, "w") as f:
    f.write("local reqs = {}\nlocal raw = {\n")
    for i in range(int(n)):
        path, body = path_t.replace("{i}", str(i)), body_t.replace("{i}", str(i))
        req = botocore.awsrequest.AWSRequest(method=method, url=url + path, data=body.encode(),
                                             headers={"Content-Type": "application/json"}
                                             if body else {})
        botocore.auth.SigV4Auth(creds, "mobiletargeting", "us-east-1").add_auth(req)
        headers = ", ".join(f"[ {lua(k)} ] = {lua(v)}" for k, v in req.prepare().headers.items()
                            if k.lower() not in ("host", "content-length"))
        f.write(f"  {{{lua(path)}, {{{headers}}}, {lua(body)}}},\n")
    f.write("}\n"
            "init = function(args)\n"
            "  for i, r in ipairs(raw) do reqs[i] = wrk.format(" + lua(method) +
            ", r[1], r[2], r[3] ~= '' and r[3] or nil) end\n"
            "end\n"
            "local n = 0\n"
            "request = function()\n  n = n % #reqs + 1\n  return reqs[n]\nend\n")
