'use strict';
// Many clients sending through a credential whose upstream never greets,
// while another client, 127.0.0.2, asks for /healthz once a second: how
// many sends were answered (and with what) and how many /healthz.
// Usage: node tests/bench/hung.js PORT TOKEN CLIENTS SECONDS
const http = require('node:http');
const net = require('node:net');

const [port, token, clients, secs] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
const body = JSON.stringify({ from: 'a@example.com', to: 'b@example.com', subject: 'hung', text: 'x' });
const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
const codes = {};
let stop = false;

function sendLoop() {
  if (stop) return;
  const req = http.request(
    { port, host: '127.0.0.1', method: 'POST', path: '/v1/messages', agent,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
    (res) => {
      res.resume();
      res.on('end', () => {
        codes[res.statusCode] = (codes[res.statusCode] || 0) + 1;
        setImmediate(sendLoop);
      });
    },
  );
  req.on('error', () => {
    codes.error = (codes.error || 0) + 1;
    setTimeout(sendLoop, 100);
  });
  req.end(body);
}
for (let i = 0; i < clients; i++) sendLoop();

let asked = 0;
let answered = 0;
const probe = setInterval(() => {
  asked++;
  const s = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () =>
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
  let got = '';
  s.on('data', (d) => {
    got += d;
    if (got.includes('"ok"')) {
      answered++;
      s.destroy();
    }
  });
  s.on('error', () => {});
  setTimeout(() => s.destroy(), 900);
}, 1000);

setTimeout(() => {
  stop = true;
  clearInterval(probe);
  console.log(`clients=${clients} seconds=${secs} answers=${JSON.stringify(codes)} healthz_answered=${answered}/${asked}`);
  process.exit(0);
}, secs * 1000);
