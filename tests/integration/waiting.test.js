'use strict';
// The bound on sends waiting for a connection (GATEWAY_SMTP_WAITING, a
// credential's `waiting`, 4 times the pool by default): a send past it is
// refused at once with a 503 and Retry-After, instead of waiting out the
// timeout behind the others, and it never reaches the server.
//
// The conversation expected on the wire, pool 1 and waiting 1: the first
// send's connection gets its greeting only once the refused send has had
// its answer, so the refusal cannot come from a timeout; the send that
// waited then gets the connection's slot and a second connection.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');

const net = require('node:net');

const { assertErrorReply, cleanupAll, logged, request, runGateway, sleep, startGateway, validEnv } = require('./lib/gateway');
const { sendChecked: send } = require('./lib/upstream');
const { withScripted, send: say, read, readData, gate } = require('./lib/scripted');

const T = { timeout: 60000 };

after(cleanupAll);

/* A whole transaction whose greeting waits for `held` to open. */
const transaction = (name, held) => [
  ...(held ? [{ wait: held.promise }] : []),
  say(`220 ${name}.test ESMTP\r\n`),
  read(/^EHLO \S+$/, `250 ${name}.test\r\n`),
  read(/^MAIL FROM:/, '250 ok\r\n'),
  read(/^RCPT TO:/, '250 ok\r\n'),
  read('DATA', '354 go\r\n'),
  readData('250 queued\r\n'),
  read('QUIT', '221 bye\r\n'),
  { close: true },
];

describe('the bound on sends waiting for a connection', () => {
  it('pool 1, waiting 1: the third send → 503 at once, Retry-After, never connected', T, async () => {
    const refused = gate();
    const scripts = [transaction('first', refused), transaction('second')];
    await withScripted(scripts, async (gw, srv) => {
      const msg = (from) => ({ from, to: 'b@example.com', subject: 'waiting', text: 'x' });
      const first = send(gw, msg('first@example.com'), { timeoutMs: 40000 });
      await srv.waitForConnection(0);
      // Of the next two, one waits for the only slot and the other finds
      // the one place in the queue taken; which one is up to the threads.
      const later = [send(gw, msg('second@example.com'), { timeoutMs: 40000 }),
        send(gw, msg('third@example.com'), { timeoutMs: 40000 })];
      const answered = await Promise.race(later.map((p, i) => p.then((r) => ({ r, i }))));
      refused.open();
      const other = await later[1 - answered.i];
      assertErrorReply(answered.r, 503);
      assert.match(answered.r.json.error, /busy and 1 sends wait for one already/);
      assert.equal(answered.r.json.retryable, true, 'nothing was sent: the same request may succeed later');
      assert.equal(answered.r.headers['retry-after'], '1');
      assert.equal((await first).status, 200, 'the first send went through once greeted');
      assert.equal(other.status, 200, 'the send that waited had the slot next');
      assert.equal(srv.connections.length, 2, 'the refused send never connected');
      const refusedFrom = answered.i === 0 ? 'second@' : 'third@';
      assert.ok(!srv.connections.some((c) => c.lines.some((l) => l.includes(refusedFrom))),
        `nothing of ${refusedFrom} reached the server`);
    }, { env: { GATEWAY_SMTP_POOL: 1, GATEWAY_SMTP_WAITING: 1, GATEWAY_SMTP_TIMEOUT: 20 } });
  });
});

/* Writes a whole POST /v1/messages of `body` on a socket of its own, and
   leaves the socket to the caller (to close before any answer). */
function postAndHold(gw, body) {
  const payload = Buffer.from(JSON.stringify(body));
  const socket = net.connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(
    'POST /v1/messages HTTP/1.1\r\nHost: gateway\r\n' +
      `Authorization: Bearer ${gw.token}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${payload.length}\r\n\r\n`,
  );
  socket.write(payload);
  return socket;
}

describe('a client that goes away while its send waits for a connection', () => {
  it('the send is cancelled: nothing of it reaches the server, the next send has the slot', T, async () => {
    // Pool 1: the first send holds the connection (its greeting held back
    // until the cancelled send is logged). The second client posts, then
    // closes its connection while its send waits for the slot. A third
    // send comes after: had the second not been cancelled, it would have
    // had the slot first (slots go in order), and its MAIL FROM would be
    // on the second connection.
    const cancelled = gate();
    const scripts = [transaction('first', cancelled), transaction('third')];
    await withScripted(scripts, async (gw, srv) => {
      const msg = (from) => ({ from, to: 'b@example.com', subject: 'cancel', text: 'x' });
      const first = send(gw, msg('first@example.com'), { timeoutMs: 40000 });
      await srv.waitForConnection(0);
      const gone = postAndHold(gw, msg('second@example.com'));
      // Time for the gateway to read the request and queue its send; a
      // slower machine only makes the test fail safe (no cancel logged).
      await sleep(500);
      gone.destroy();
      try {
        await logged(gw, /event=send credential=default status=failed .*the client went away while the send waited/, 10000);
      } finally {
        cancelled.open();
      }
      assert.equal((await first).status, 200);
      const third = await send(gw, msg('third@example.com'), { timeoutMs: 40000 });
      assert.equal(third.status, 200, third.text);
      assert.equal(srv.connections.length, 2);
      const mailFrom = (c) => c.lines.find((l) => l.startsWith('MAIL FROM:')) || '';
      assert.match(mailFrom(srv.connections[1]), /third@example\.com/);
      assert.ok(!srv.connections.some((c) => c.lines.some((l) => l.includes('second@'))), 'nothing of the cancelled send went out');
    }, { env: { GATEWAY_LOG_LEVEL: 'info', GATEWAY_SMTP_POOL: 1, GATEWAY_SMTP_TIMEOUT: 20 } });
  });
});

describe('waiting: the values', () => {
  for (const value of ['0', '10001', 'many']) {
    it(`GATEWAY_SMTP_WAITING=${value} → exit 2 naming it`, T, async () => {
      const r = await runGateway(['serve'], await validEnv({ GATEWAY_SMTP_WAITING: value }));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^smtp-gateway: GATEWAY_SMTP_WAITING: must be a number from 1 to 10000$/m);
    });
  }

  it('a stored credential: out of range → 400 naming it; given, shown; left out, 0 (4 times the pool)', T, async () => {
    const gw = await startGateway({ smtpPort: 1 });
    try {
      const bad = await request(gw, 'PUT', '/v1/credentials/x', { body: { host: '127.0.0.1', waiting: 10001 } });
      assertErrorReply(bad, 400, 'waiting');
      const put = await request(gw, 'PUT', '/v1/credentials/x', { body: { host: '127.0.0.1', waiting: 12 } });
      assert.equal(put.status, 201, put.text);
      assert.equal(put.json.waiting, 12);
      assert.equal((await request(gw, 'GET', '/v1/credentials/x')).json.waiting, 12);
      assert.equal((await request(gw, 'GET', '/v1/credentials/default')).json.waiting, 0);
    } finally {
      await gw.stop();
    }
  });
});
