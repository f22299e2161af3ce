// The same benchmark as apns_bench, through @parse/node-apn (tests/peers): --count
// notifications, at most --in-flight at once, to --tokens distinct device tokens, token auth
// with the same .p8 key, against the same apns_sim. Prints one JSON line like apns_bench's.
// Usage: node apns_node.js URL SETTINGS_JSON CA_FILE COUNT IN_FLIGHT TOKENS
const path = require('path');
const fs = require('fs');
const apn = require(path.join(__dirname, '..', 'peers', 'node_modules', '@parse', 'node-apn'));

async function main() {
  const [url, settingsFile, caFile, count, inFlight, nTokens] = process.argv.slice(2);
  const settings = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
  const u = new URL(url);
  const provider = new apn.Provider({
    token: { key: settings.TokenKey, keyId: settings.TokenKeyId, teamId: settings.TeamId },
    address: u.hostname,
    port: +u.port,
    ca: fs.readFileSync(caFile),
    production: true,
    requestTimeout: 30000,
  });
  const tokens = [];
  for (let i = 0; i < +nTokens; i++) tokens.push((i + 1).toString(16).padStart(64, '0'));
  const note = new apn.Notification();
  note.alert = { title: 'Bench', body: 'Hello from Repoint' };
  note.topic = settings.BundleId;
  note.pushType = 'alert';
  const run = async (total) => {
    let ok = 0, failed = 0, next = 0;
    const worker = async () => {
      while (next < total) {
        const batch = [];
        while (batch.length < 100 && next < total) batch.push(tokens[next++ % tokens.length]);
        const r = await provider.send(note, batch);
        ok += r.sent.length;
        failed += r.failed.length;
      }
    };
    const workers = [];
    for (let i = 0; i < Math.max(1, Math.floor(+inFlight / 100)); i++) workers.push(worker());
    await Promise.all(workers);
    return { ok, failed };
  };
  await run(1000); // warm-up: connection and provider token
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const { ok, failed } = await run(+count);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(JSON.stringify({
    client: 'node-apn', count: +count, in_flight: +inFlight,
    statuses: { SUCCESSFUL: ok, FAILED: failed }, seconds, rate: +count / seconds,
    cpu_seconds: cpuSeconds, cpu_per_100k: cpuSeconds * 100000 / +count,
    max_rss_kb: Math.round(process.resourceUsage().maxRSS),
  }));
  provider.shutdown();
}
main().catch((e) => { console.error(e); process.exit(1); });
