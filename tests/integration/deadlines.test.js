'use strict';
// The deadlines of a connection (GATEWAY_HEADER_TIMEOUT, 10 s by
// default): a client that trickles its request head, or its body slower
// than 4 KiB a second on average past the same grace, has its connection
// closed unanswered (slowloris), while other clients are served; the
// closings are logged at most a line a second.
//
// What is asserted is a count, not a time: the trickle would go on for
// many times the deadline, and the gateway must close the connection
// before it ends.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');

const { assertCleanRun, cleanupAll, request, runGateway, sleep, startGateway, validEnv } = require('./lib/gateway');

const T = { timeout: 60000 };

after(cleanupAll);

/*
 * Opens a connection, writes `start`, then one byte of `drip` every
 * `everyMs`. Resolves once the gateway closes it, or the drip is all
 * written: { closedBy: 'gateway' | 'end', dripped, answer }.
 */
function trickle(port, start, drip, everyMs) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    let dripped = 0;
    let timer = null;
    const done = (closedBy) => {
      clearInterval(timer);
      socket.destroy();
      resolve({ closedBy, dripped, answer });
    };
    socket.on('error', () => done('gateway'));
    socket.on('data', (c) => (answer += c.toString('latin1')));
    socket.on('close', () => done('gateway'));
    socket.on('connect', () => {
      socket.write(start);
      timer = setInterval(() => {
        if (dripped === drip.length) return done('end');
        socket.write(drip[dripped++]);
      }, everyMs);
    });
  });
}

const closings = (gw) => gw.stderr().split('\n').filter((l) => /event=connections_closed reason=slow_client/.test(l));

describe('GATEWAY_HEADER_TIMEOUT', () => {
  it('a head trickled a byte at a time past 1 s: closed unanswered long before its end; others served', T, async () => {
    const gw = await startGateway({ env: { GATEWAY_LOG_LEVEL: 'info', GATEWAY_HEADER_TIMEOUT: 1 } });
    try {
      // 40 bytes at 200 ms: 8 s of trickle against a deadline of 1 s.
      const slow = trickle(gw.port, 'GET /healthz HTTP/1.1\r\n', 'X-Slow: ' + 'a'.repeat(32), 200);
      assert.equal((await request(gw, 'GET', '/healthz', { token: null })).status, 200, 'served meanwhile');
      const r = await slow;
      assert.equal(r.closedBy, 'gateway', `the gateway closed it (after ${r.dripped} of 40 bytes)`);
      assert.equal(r.answer, '', 'no answer to a head that never came whole');
      await sleep(1200); // the log line comes at most once a second
      assert.match(closings(gw).join('\n'), /header=1 body=0 idle=0/);
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });

  it('a body slower than 4 KiB a second past the grace: closed, nothing sent', T, async () => {
    const gw = await startGateway({ env: { GATEWAY_LOG_LEVEL: 'info', GATEWAY_HEADER_TIMEOUT: 1 } });
    try {
      const head =
        'POST /v1/messages HTTP/1.1\r\nHost: gateway\r\n' +
        `Authorization: Bearer ${gw.token}\r\nContent-Type: application/json\r\n` +
        'Content-Length: 100000\r\n\r\n{"from":"a@example.com",';
      const r = await trickle(gw.port, head, ' '.repeat(40), 200);
      assert.equal(r.closedBy, 'gateway', `the gateway closed it (after ${r.dripped} of 40 bytes)`);
      assert.equal(r.answer, '');
    } finally {
      await gw.stop();
    }
    // The stop says what the last second left unsaid.
    assert.match(closings(gw).join('\n'), /header=0 body=1 idle=0/);
    assertCleanRun(gw);
  });

  it('a whole request inside the deadline, kept connections and a pause between requests: served as before', T, async () => {
    const gw = await startGateway({ env: { GATEWAY_HEADER_TIMEOUT: 1 } });
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal((await request(gw, 'GET', '/healthz', { token: null })).status, 200);
        await sleep(1500); // longer than the header timeout: idle is not a head
      }
    } finally {
      await gw.stop();
    }
    assert.deepEqual(closings(gw), []);
    assertCleanRun(gw);
  });

  for (const value of ['0', '3601', 'soon']) {
    it(`GATEWAY_HEADER_TIMEOUT=${value} → exit 2 naming it`, T, async () => {
      const r = await runGateway(['serve'], await validEnv({ GATEWAY_HEADER_TIMEOUT: value }));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^smtp-gateway: GATEWAY_HEADER_TIMEOUT: must be a number of seconds from 1 to 3600$/m);
    });
  }
});
