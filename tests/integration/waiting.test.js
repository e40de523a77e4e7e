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

const { assertErrorReply, cleanupAll, request, runGateway, startGateway, validEnv } = require('./lib/gateway');
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
