// The nodemailer side of tests/bench/bench_email.sh: N messages through nodemailer's pooled SMTP
// transport (pool: true, maxConnections C, no per-connection message cap) to the same sink and
// with the same message as Repoint gets. Prints "<messages> <seconds>".
// usage: node nodemailer_bench.js PORT CONNECTIONS MESSAGES MESSAGE_JSON_FILE
const path = require("path");
const fs = require("fs");
const nodemailer = require(path.join(__dirname, "..", "peers", "node_modules", "nodemailer"));

async function main() {
    const [port, connections, count, file] = process.argv.slice(2);
    const msg = JSON.parse(fs.readFileSync(file, "utf8"));
    const transport = nodemailer.createTransport({
        host: "127.0.0.1", port: Number(port), secure: false, ignoreTLS: true, pool: true,
        maxConnections: Number(connections), maxMessages: Infinity,
    });
    const n = Number(count);
    const start = process.hrtime.bigint();
    const sends = [];
    for (let i = 0; i < n; i++) {
        sends.push(transport.sendMail({
            from: msg.from, to: `user${i}@example.org`, subject: msg.subject,
            text: msg.text, html: msg.html,
        }));
    }
    const results = await Promise.allSettled(sends);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const failed = results.filter((r) => r.status !== "fulfilled").length;
    transport.close();
    if (failed) {
        console.error(`nodemailer: ${failed} of ${n} failed`);
        process.exit(1);
    }
    console.log(`${n} ${seconds.toFixed(3)}`);
}
main();
