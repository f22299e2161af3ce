#!/usr/bin/env python3
"""Writes the botocore-signed SigV4 vectors under botocore/ for tests/unit/sigv4_test.c.

Two kinds of request, all signed at the fixed time 2024-05-01T12:00:00Z (epoch 1714564800):

* client-*: made by botocore's real Pinpoint client (the code path of `aws pinpoint ...` and
  boto3), with the HTTP send replaced by a capture, so the path, query and body are exactly what
  botocore puts on the wire (path ids percent-encoded by the rest-json serializer, query
  encoded with the unreserved set).
* manual-*: botocore.awsrequest.AWSRequest signed by botocore.auth.SigV4Auth, shaped like the
  JS SDK v3 signs: x-amz-content-sha256 present and signed, plus content-length,
  amz-sdk-invocation-id, amz-sdk-request and x-amz-user-agent signed; one uses a Date header
  instead of X-Amz-Date (botocore then signs the RFC 1123 form with a "-0000" zone).

Each vector is NAME.req (the request as received: request line, headers in wire order, blank
line, body; without Authorization), NAME.authz (the Authorization value), NAME.creq and
NAME.sts (botocore's own canonical request and string to sign). vectors.txt lists them with the
service, region and time the test verifies them against. Headers botocore adds after signing
(User-Agent, amz-sdk-invocation-id) are unsigned; they are pinned to fixed values so that
re-running this script changes nothing.

Run from anywhere: python3 tests/unit/data/sigv4/gen_botocore.py (needs botocore, tested with
1.43.11).
"""
import datetime
import json
import os
from unittest import mock

import botocore
import botocore.auth
import botocore.session
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'botocore')
NOW = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
NOW_EPOCH = 1714564800
ACCESS_KEY = 'AKIAREPOINTEXAMPLE01'
SECRET_KEY = 'rePoint/Secret+Key0123456789EXAMPLEKEYab'
LONG_CREDS = Credentials('AKIAREPOINTLONGKEY02', 'L0ng/' + 'x' * 90 + '+end')
SERVICE = 'mobiletargeting'
APP = '0123456789abcdef0123456789abcdef'

captured = {}
index = []


class _Body:
    def stream(self, **kwargs):
        yield b'{}'


def _before_send(request, **kwargs):
    captured['request'] = request
    return AWSResponse(request.url, 200, {}, _Body())


_real_canonical = botocore.auth.SigV4Auth.canonical_request
_real_sts = botocore.auth.SigV4Auth.string_to_sign


def _canonical(self, request):
    captured['creq'] = _real_canonical(self, request)
    return captured['creq']


def _string_to_sign(self, request, canonical_request):
    captured['sts'] = _real_sts(self, request, canonical_request)
    return captured['sts']


def _text(v):
    return v.decode('utf-8') if isinstance(v, bytes) else str(v)


def _write(name, region, method, url, headers, body):
    """headers: list of (name, value) in wire order, Authorization among them."""
    parts = botocore.compat.urlsplit(url)
    target = parts.path + ('?' + parts.query if parts.query else '')
    authz = [v for k, v in headers if k.lower() == 'authorization']
    assert len(authz) == 1, name
    signed = authz[0].split('SignedHeaders=')[1].split(',')[0].split(';')
    lines = [f'{method} {target} HTTP/1.1']
    for k, v in headers:
        if k.lower() == 'authorization':
            continue
        if k.lower() == 'user-agent':
            v = f'Botocore/{botocore.__version__} (repoint sigv4 vector)'
        if k.lower() == 'amz-sdk-invocation-id' and 'amz-sdk-invocation-id' not in signed:
            v = '00000000-0000-4000-8000-000000000000'
        lines.append(f'{k}: {v}')
    req = '\n'.join(lines).encode('utf-8')
    if body:
        req += b'\n\n' + body
    base = os.path.join(OUT, name)
    with open(base + '.req', 'wb') as f:
        f.write(req)
    for ext, text in (('.authz', authz[0]), ('.creq', captured['creq']),
                      ('.sts', captured['sts'])):
        with open(base + ext, 'w', encoding='utf-8', newline='') as f:
            f.write(text)
    index.append(f'{name} {SERVICE} {region} {NOW_EPOCH}')


def client_vectors():
    session = botocore.session.get_session()
    cases = [
        ('client-get-apps', 'us-east-1', 'get_apps', {}),
        ('client-get-apps-page', 'us-east-1', 'get_apps', {'PageSize': '5', 'Token': 'a/b'}),
        ('client-get-app-odd-id', 'us-east-1', 'get_app', {'ApplicationId': 'app:1@x y'}),
        ('client-get-endpoint', 'us-east-1', 'get_endpoint',
         {'ApplicationId': APP, 'EndpointId': 'user:42@example.com'}),
        ('client-get-user-endpoints', 'eu-west-1', 'get_user_endpoints',
         {'ApplicationId': APP, 'UserId': 'team/alice smith+1'}),
        ('client-get-segments', 'eu-west-1', 'get_segments',
         {'ApplicationId': 'app:2', 'PageSize': '5', 'Token': 'a/b'}),
        ('client-get-campaigns-token', 'us-east-1', 'get_campaigns',
         {'ApplicationId': APP, 'Token': 'eyJrIjoiYSJ9+/=~ ;&'}),
        ('client-create-app', 'us-east-1', 'create_app',
         {'CreateApplicationRequest': {'Name': 'repoint test', 'tags': {'env': 'ci'}}}),
        ('client-update-endpoint', 'eu-west-1', 'update_endpoint',
         {'ApplicationId': APP, 'EndpointId': 'device 1',
          'EndpointRequest': {'Address': 'token-abc', 'ChannelType': 'GCM',
                              'User': {'UserId': 'alice'}}}),
        ('client-send-messages', 'eu-west-1', 'send_messages',
         {'ApplicationId': APP,
          'MessageRequest': {'Addresses': {'+15555550100': {'ChannelType': 'SMS'}},
                             'MessageConfiguration': {'SMSMessage': {
                                 'Body': 'Caf\u00e9 \u2615 code 123456', 'MessageType':
                                 'TRANSACTIONAL'}}}}),
        ('client-delete-endpoint', 'us-east-1', 'delete_endpoint',
         {'ApplicationId': APP, 'EndpointId': 'a%b'}),
        ('client-phone-validate', 'us-east-1', 'phone_number_validate',
         {'NumberValidateRequest': {'PhoneNumber': '+15555550100', 'IsoCountryCode': 'US'}}),
    ]
    for name, region, op, params in cases:
        client = session.create_client(
            'pinpoint', region_name=region, endpoint_url='http://localhost:8080',
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
        client.meta.events.register('before-send', _before_send)
        captured.clear()
        getattr(client, op)(**params)
        r = captured['request']
        # http.client sends Host first, computed the way botocore signed it.
        headers = [('Host', botocore.auth._host_from_url(r.url))]
        headers += [(k, _text(v)) for k, v in r.headers.items()]
        body = r.body if isinstance(r.body, bytes) else (r.body or '').encode('utf-8')
        _write(name, region, r.method, r.url, headers, body)


def manual_vectors():
    creds = Credentials(ACCESS_KEY, SECRET_KEY)
    body = json.dumps({'MessageRequest': {'Addresses': {'alice@example.com': {
        'ChannelType': 'EMAIL'}}}}, separators=(',', ':')).encode('utf-8')
    import hashlib
    body_hash = hashlib.sha256(body).hexdigest()
    empty_hash = hashlib.sha256(b'').hexdigest()
    cases = [
        # The JS SDK v3 shape: every header it sends is signed except user-agent.
        ('manual-jsv3-post', 'us-east-1', 'POST', f'https://pinpoint.us-east-1.amazonaws.com'
         f'/v1/apps/{APP}/messages', [
             ('content-type', 'application/json'),
             ('content-length', str(len(body))),
             ('x-amz-user-agent', 'aws-sdk-js/3.600.0'),
             ('user-agent', 'aws-sdk-js/3.600.0 ua/2.0 os/linux lang/js md/nodejs#20.0.0'),
             ('amz-sdk-invocation-id', '6f1c4a7e-1d2b-4c3d-9e8f-0a1b2c3d4e5f'),
             ('amz-sdk-request', 'attempt=1; max=3'),
             ('x-amz-content-sha256', body_hash),
         ], body),
        ('manual-jsv3-get-query', 'eu-west-1', 'GET', f'https://pinpoint.eu-west-1.amazonaws.com'
         f'/v1/apps/{APP}/segments?token=a%2Fb&page-size=5', [
             ('x-amz-user-agent', 'aws-sdk-js/3.600.0'),
             ('amz-sdk-invocation-id', '0b5e3c2a-7d44-4a4e-8c9b-112233445566'),
             ('amz-sdk-request', 'attempt=2; max=3'),
             ('x-amz-content-sha256', empty_hash),
         ], b''),
        # A secret longer than the HMAC block (64 bytes), which the verifier hashes first.
        ('manual-long-secret', 'us-east-1', 'GET',
         f'http://localhost:8080/v1/apps/{APP}', [], b'', LONG_CREDS),
        ('manual-date-header', 'us-east-1', 'GET',
         f'http://localhost:8080/v1/apps/{APP}/endpoints/e%3A1', [
             ('Date', 'Wed, 01 May 2024 12:00:00 GMT'),
             ('X-Custom', '  spaced    value  '),
         ], b''),
    ]
    for name, region, method, url, headers, payload, *key in cases:
        captured.clear()
        request = AWSRequest(method=method, url=url, data=payload)
        for k, v in headers:
            request.headers[k] = v
        auth = botocore.auth.SigV4Auth(key[0] if key else creds, SERVICE, region)
        auth.add_auth(request)
        wire = [('Host', botocore.auth._host_from_url(url))]
        wire += [(k, _text(v)) for k, v in request.headers.items()]
        _write(name, region, method, url, wire, payload)


def main():
    os.makedirs(OUT, exist_ok=True)
    with mock.patch.object(botocore.auth, 'get_current_datetime', return_value=NOW), \
            mock.patch.object(botocore.auth.SigV4Auth, 'canonical_request', _canonical), \
            mock.patch.object(botocore.auth.SigV4Auth, 'string_to_sign', _string_to_sign):
        client_vectors()
        manual_vectors()
    with open(os.path.join(OUT, 'vectors.txt'), 'w') as f:
        f.write('# Written by ../gen_botocore.py: name service region now(epoch seconds)\n')
        f.write('\n'.join(index) + '\n')
    print(f'{len(index)} vectors in {OUT}')


if __name__ == '__main__':
    main()
