#!/usr/bin/env node
// Writes the JS-SDK-v3-signed SigV4 vectors under jssdk/ for tests/unit/sigv4_test.c.
//
// The real @aws-sdk/client-pinpoint signs each request (its serializer, its middleware stack,
// its SignatureV4), with the HTTP handler replaced by a capture and the clock pinned to
// 2024-05-01T12:00:00Z. Each vector is NAME.req (request line with the path and query exactly as
// @smithy/node-http-handler writes them, headers, blank line, body; without Authorization) and
// NAME.authz; the SDK does not expose its canonical request, so there is no .creq/.sts.
// vectors.txt lists them like botocore/vectors.txt. amz-sdk-invocation-id and the user agents
// are signed, so they differ from run to run; re-running rewrites every file.
//
// Run with the SDK installed anywhere, e.g.:
//   npm install --prefix /tmp/jsgen @aws-sdk/client-pinpoint
//   NODE_PATH=/tmp/jsgen/node_modules node tests/unit/data/sigv4/gen_jssdk.cjs
// (written against @aws-sdk/client-pinpoint 3.1132.0, @smithy/core 3.41.0).
'use strict';
const fs = require('fs');
const path = require('path');
const { Readable } = require('stream');
const pinpoint = require('@aws-sdk/client-pinpoint');
const { HttpResponse, buildQueryString } = require('@smithy/core/protocols');

const NOW = Date.UTC(2024, 4, 1, 12, 0, 0);
const NOW_EPOCH = NOW / 1000;
Date.now = () => NOW;
const OUT = path.join(__dirname, 'jssdk');
const APP = '0123456789abcdef0123456789abcdef';
const credentials = {
  accessKeyId: 'AKIAREPOINTEXAMPLE01',
  secretAccessKey: 'rePoint/Secret+Key0123456789EXAMPLEKEYab',
};

const cases = [
  ['js-get-apps-page', 'us-east-1', 'GetAppsCommand', { PageSize: '5', Token: 'a/b' }],
  ['js-get-app-odd-id', 'us-east-1', 'GetAppCommand', { ApplicationId: 'app:1@x y' }],
  ['js-get-user-endpoints', 'eu-west-1', 'GetUserEndpointsCommand',
    { ApplicationId: APP, UserId: 'team/alice smith+1' }],
  ['js-get-campaigns-token', 'us-east-1', 'GetCampaignsCommand',
    { ApplicationId: APP, Token: 'eyJrIjoiYSJ9+/=~ ;&' }],
  ['js-update-endpoint', 'eu-west-1', 'UpdateEndpointCommand', {
    ApplicationId: APP, EndpointId: 'device 1',
    EndpointRequest: { Address: 'token-abc', ChannelType: 'GCM', User: { UserId: 'alice' } },
  }],
  ['js-send-messages', 'eu-west-1', 'SendMessagesCommand', {
    ApplicationId: APP,
    MessageRequest: {
      Addresses: { '+15555550100': { ChannelType: 'SMS' } },
      MessageConfiguration: {
        SMSMessage: { Body: 'Caf\u00e9 \u2615 code 123456', MessageType: 'TRANSACTIONAL' },
      },
    },
  }],
  ['js-delete-endpoint', 'us-east-1', 'DeleteEndpointCommand',
    { ApplicationId: APP, EndpointId: 'a%b' }],
];

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const index = [];
  for (const [name, region, command, input] of cases) {
    let captured;
    const requestHandler = {
      handle: async (request) => {
        captured = request;
        return {
          response: new HttpResponse({
            statusCode: 200, headers: { 'content-type': 'application/json' },
            body: Readable.from([Buffer.from('{}')]),
          }),
        };
      },
      updateHttpClientConfig() {},
      httpHandlerConfigs() { return {}; },
    };
    const client = new pinpoint.PinpointClient({
      region, credentials, endpoint: 'http://localhost:8080', requestHandler, maxAttempts: 1,
    });
    try {
      await client.send(new pinpoint[command](input));
    } catch (e) {
      // The fake answer need not deserialize; only the signed request matters.
    }
    const r = captured;
    const qs = buildQueryString(r.query || {});
    const lines = [`${r.method} ${r.path}${qs ? '?' + qs : ''} HTTP/1.1`];
    const authz = r.headers.authorization;
    const signed = authz.split('SignedHeaders=')[1].split(',')[0].split(';');
    for (const [k, v] of Object.entries(r.headers)) {
      if (k === 'authorization') continue;
      // The unsigned user-agent names this machine's kernel; pin it.
      const value = k === 'user-agent' && !signed.includes(k) ? 'aws-sdk-js (repoint sigv4 vector)' : v;
      lines.push(`${k}: ${value}`);
    }
    let req = Buffer.from(lines.join('\n'), 'utf8');
    let body = Buffer.alloc(0);
    if (typeof r.body === 'string') body = Buffer.from(r.body, 'utf8');
    else if (r.body) body = Buffer.from(r.body);
    if (body.length) req = Buffer.concat([req, Buffer.from('\n\n'), body]);
    fs.writeFileSync(path.join(OUT, `${name}.req`), req);
    fs.writeFileSync(path.join(OUT, `${name}.authz`), authz);
    index.push(`${name} mobiletargeting ${region} ${NOW_EPOCH}`);
  }
  fs.writeFileSync(path.join(OUT, 'vectors.txt'),
    '# Written by ../gen_jssdk.cjs: name service region now(epoch seconds)\n' +
    index.join('\n') + '\n');
  console.log(`${index.length} vectors in ${OUT}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
