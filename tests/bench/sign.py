"""Prints wrk arguments for one request signed by botocore (SigV4, valid for AWS's 15 minutes):
the same bytes can then be replayed at full speed, each copy verified in full by the server.
usage: sign.py URL METHOD PATH [BODY] -> lines "-H" "Name: value" ..."""
import sys

import botocore.auth
import botocore.awsrequest
import botocore.credentials

url, method, path = sys.argv[1:4]
body = sys.argv[4].encode() if len(sys.argv) > 4 else b""
access, secret = open(sys.argv[5] if len(sys.argv) > 5 else "/dev/stdin").read().split()[:2]
req = botocore.awsrequest.AWSRequest(method=method, url=url + path, data=body,
                                     headers={"Content-Type": "application/json"} if body else {})
botocore.auth.SigV4Auth(botocore.credentials.Credentials(access, secret), "mobiletargeting",
                        "us-east-1").add_auth(req)
for k, v in req.prepare().headers.items():
    if k.lower() in ("host", "content-length"):
        continue
    print(f"{k}: {v}")
