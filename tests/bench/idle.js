'use strict';
// Opens N keep-alive HTTP connections to the gateway, makes one request on
// each, then holds them idle until stdin closes or SIGTERM; prints "ready"
// once all are idle. Usage: node idle.js PORT N
const net = require('node:net');

const [port, n] = [Number(process.argv[2]), Number(process.argv[3])];
const socks = [];
let answered = 0;

function open() {
  const s = net.connect(port, '127.0.0.1', () => {
    s.write('GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: keep-alive\r\n\r\n');
  });
  let seen = '';
  s.on('data', (d) => {
    seen += d;
    if (seen.includes('{"status":"ok"}') && !s.counted) {
      s.counted = true;
      if (++answered === n) process.stdout.write('ready\n');
    }
  });
  s.on('error', (e) => {
    process.stderr.write(`idle: ${e.message}\n`);
    process.exit(1);
  });
  socks.push(s);
}

for (let i = 0; i < n; i++) open();
const stop = () => {
  for (const s of socks) s.destroy();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
