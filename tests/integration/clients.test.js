'use strict';
// The limit of connections open at once from one client
// (GATEWAY_MAX_CONNECTIONS_PER_IP, a quarter of GATEWAY_MAX_CONNECTIONS by
// default): one more from that client is closed at once, unread, before
// it takes a thread, while another client is served as before; the
// refusals are counted and logged at most once a second.
//
// Loopback gives two clients: 127.0.0.1 and 127.0.0.2 (all of 127/8 is
// the loopback interface on Linux).

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');

const { assertCleanRun, cleanupAll, runGateway, startGateway, validEnv } = require('./lib/gateway');

const T = { timeout: 60000 };

after(cleanupAll);

/* A keep-alive GET /healthz from `from` on its own socket. Resolves to
   { socket, answered }: answered false when the gateway closed it first. */
function health(port, from) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    let got = '';
    socket.on('error', () => {});
    socket.on('data', (c) => {
      got += c.toString('latin1');
      if (got.includes('{"status":"ok"}')) resolve({ socket, answered: true });
    });
    socket.on('close', () => resolve({ socket, answered: false }));
    socket.on('connect', () => socket.write('GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n'));
  });
}

const refusalLines = (gw) => gw.stderr().split('\n').filter((l) => /event=connection_refused /.test(l));

describe('GATEWAY_MAX_CONNECTIONS_PER_IP', () => {
  it('limit 3: the fourth of one client is closed unread, another client is served, a closed one frees its place', T, async () => {
    const gw = await startGateway({ env: { GATEWAY_LOG_LEVEL: 'info', GATEWAY_MAX_CONNECTIONS_PER_IP: 3 } });
    const open = [];
    try {
      for (let i = 0; i < 3; i++) {
        const h = await health(gw.port, '127.0.0.1');
        assert.ok(h.answered, `connection ${i + 1} of 3 is served`);
        open.push(h.socket);
      }
      const fourth = await health(gw.port, '127.0.0.1');
      open.push(fourth.socket);
      assert.equal(fourth.answered, false, 'the fourth connection of 127.0.0.1 is closed unanswered');
      const other = await health(gw.port, '127.0.0.2');
      open.push(other.socket);
      assert.ok(other.answered, 'another client is served');

      // One of the three closes: once the gateway has seen it go, there is
      // room for one more (tried a bounded number of times, not timed).
      open[0].destroy();
      let again = { answered: false };
      for (let i = 0; i < 50 && !again.answered; i++) {
        again = await health(gw.port, '127.0.0.1');
        open.push(again.socket);
      }
      assert.ok(again.answered, 'a place freed by a closed connection is taken again');
      const line = refusalLines(gw)[0] || '';
      assert.match(line, /level=warn event=connection_refused reason=per_ip_limit client=127\.0\.0\.1 open=3 limit=3 suppressed=0/);
    } finally {
      for (const s of open) s.destroy();
      await gw.stop();
    }
    assertCleanRun(gw);
  });

  it('a flood from one client: every refusal is counted, in a line a second at most', T, async () => {
    const gw = await startGateway({ env: { GATEWAY_LOG_LEVEL: 'info', GATEWAY_MAX_CONNECTIONS_PER_IP: 1 } });
    const open = [];
    const FLOOD = 40;
    try {
      const first = await health(gw.port, '127.0.0.1');
      open.push(first.socket);
      assert.ok(first.answered);
      const t0 = Date.now();
      const refused = await Promise.all(Array.from({ length: FLOOD }, () => health(gw.port, '127.0.0.1')));
      const seconds = Math.ceil((Date.now() - t0) / 1000);
      for (const r of refused) open.push(r.socket);
      assert.equal(refused.filter((r) => r.answered).length, 0, 'none of the flood was served');
      const lines = refusalLines(gw);
      assert.ok(lines.length >= 1 && lines.length <= seconds + 1, `${lines.length} lines in ${seconds} s`);
      const other = await health(gw.port, '127.0.0.2');
      open.push(other.socket);
      assert.ok(other.answered, 'another client is served through the flood');
    } finally {
      for (const s of open) s.destroy();
      await gw.stop();
    }
    // Each line counts itself and those left out before it; what was left
    // out after the last line is said when the gateway stops.
    const lines = refusalLines(gw);
    const counted = lines.reduce((n, l) => n + 1 + Number(/suppressed=(\d+)/.exec(l)[1]), 0);
    const rest = /event=connection_refused_suppressed count=(\d+) total=(\d+)/.exec(gw.stderr());
    assert.equal(counted + (rest ? Number(rest[1]) : 0), FLOOD, gw.stderr().slice(-2000));
    if (rest) assert.equal(Number(rest[2]), FLOOD);
    assertCleanRun(gw);
  });

  for (const value of ['0', '100001', 'few']) {
    it(`GATEWAY_MAX_CONNECTIONS_PER_IP=${value} → exit 2 naming it`, T, async () => {
      const r = await runGateway(['serve'], await validEnv({ GATEWAY_MAX_CONNECTIONS_PER_IP: value }));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^smtp-gateway: GATEWAY_MAX_CONNECTIONS_PER_IP: must be a number from 1 to 100000$/m);
    });
  }
});
