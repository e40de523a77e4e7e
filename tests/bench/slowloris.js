'use strict';
// Slow clients against a gateway on loopback: N connections from
// 127.0.0.1 each write a request line, then one header line every 2 s and
// never end the head (slowloris); meanwhile another client, 127.0.0.2,
// asks for /healthz once a second. Prints how many of the slow
// connections the gateway closed and how many /healthz were answered.
// Usage: node tests/bench/slowloris.js PORT N SECONDS (raise `ulimit -n`
// for a large N).
const net = require('node:net');
const [port, n, secs] = process.argv.slice(2).map(Number);
const socks = [];
let closed = 0;
for (let i = 0; i < n; i++) {
  const s = net.connect({ port, host: '127.0.0.1' }, () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
  s.on('error', () => {});
  s.on('close', () => closed++);
  socks.push(s);
}
const drip = setInterval(() => { for (const s of socks) if (!s.destroyed) s.write('X-a: b\r\n'); }, 2000);
let asked = 0, answered = 0;
const probe = setInterval(() => {
  asked++;
  const s = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
  let got = '';
  s.on('data', (d) => { got += d; if (got.includes('"ok"')) { answered++; s.destroy(); } });
  s.on('error', () => {});
  setTimeout(() => s.destroy(), 900);
}, 1000);
setTimeout(() => {
  clearInterval(drip); clearInterval(probe);
  console.log(`slowloris=${n} closed_by_gateway=${closed} healthz_answered=${answered}/${asked}`);
  for (const s of socks) s.destroy();
  process.exit(0);
}, secs * 1000);
