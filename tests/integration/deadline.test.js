'use strict';
// The deadline of a whole send (GATEWAY_SMTP_DEADLINE, a credential's
// `deadline`): each step waits the smaller of its own timeout and what is
// left of the deadline, the wait for a pool slot counts against it, and
// the QUIT after a send never keeps the client waiting. Also the AUTH
// error for a server that offers AUTH only after STARTTLS.
//
// Outcomes are asserted, not speed: the scripted servers answer each step
// well inside its own timeout, so without a deadline every send here
// would succeed, and only the deadline can turn it into a 504. Where a
// time is compared it is against a bound seconds away from either answer.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');

const { assertCleanRun, assertErrorReply, cleanupAll, request, runGateway, validEnv } = require('./lib/gateway');
const { sendChecked: send, startSessionGateway: startGateway, assertOutcome } = require('./lib/upstream');
const { startScripted, withScripted, send: say, read, readData, gate } = require('./lib/scripted');

const T = { timeout: 60000 };
const MSG = { from: 'a@example.com', to: 'b@example.com', subject: 'deadline', text: 'x' };

after(cleanupAll);

/* A scripted server and a gateway with `env`. */
const withGateway = (scripts, env, fn) => withScripted(scripts, fn, { env });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const later = (ms, reply) => async () => {
  await sleep(ms);
  return reply;
};

/* What the client sent on a connection, one string per line. */
const linesOf = (conn) => conn.lines.map((l) => l.replace(/\r\n$/, ''));

describe('the deadline of a whole send', () => {
  it('every reply 1.5 s late under a 2 s step timeout, deadline 4 s → 504 failed at the deadline, no DATA', T, async () => {
    const STEP = 1500;
    const script = [
      { delay: STEP },
      say('220 slow.test ESMTP\r\n'),
      read(/^EHLO \S+$/, later(STEP, '250 slow.test\r\n')),
      read('MAIL FROM:<a@example.com>', later(STEP, '250 ok\r\n')),
      read('RCPT TO:<b@example.com>', later(STEP, '250 ok\r\n')),
      read('DATA', later(STEP, '354 go\r\n')),
      readData(later(STEP, '250 queued\r\n')),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    await withGateway([script], { GATEWAY_SMTP_TIMEOUT: 2, GATEWAY_SMTP_DEADLINE: 4 }, async (gw, srv) => {
      const started = Date.now();
      const r = await send(gw, MSG, { timeoutMs: 30000 });
      const took = Date.now() - started;
      const j = assertOutcome(r, 504, 'failed', [/deadline/]);
      assert.equal(j.retryable, true, 'nothing was delivered: the same request may succeed later');
      // The greeting (1.5 s) and EHLO (3 s) came in time; MAIL's reply,
      // due at 4.5 s, is past the deadline.
      await srv.waitForClose(0, 10000);
      const conn = srv.connections[0];
      assert.deepEqual(linesOf(conn).slice(1), ['MAIL FROM:<a@example.com>'], 'nothing after MAIL FROM');
      assert.ok(!conn.text.includes('\r\n.\r\n'), 'no final dot');
      // Six replies 1.5 s late take 9 s; the deadline ends it well before.
      assert.ok(took < 6 * STEP - STEP, `answered after ${took} ms`);
    });
  });

  it('a stored credential with deadline 3: past it after the final dot → 504 unknown', T, async () => {
    // EHLO and RCPT 1 s late, the verdict on the dot 1.8 s late: each is
    // inside the 2 s timeout, together (3.8 s) past the deadline of 3 s,
    // which falls after the whole message went out (at 2 s).
    const script = [
      say('220 slow.test ESMTP\r\n'),
      read(/^EHLO \S+$/, later(1000, '250 slow.test\r\n')),
      read('MAIL FROM:<a@example.com>', '250 ok\r\n'),
      read('RCPT TO:<b@example.com>', later(1000, '250 ok\r\n')),
      read('DATA', '354 go\r\n'),
      readData(later(1800, '250 queued\r\n')),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    const srv = await startScripted([script]);
    let gw;
    try {
      gw = await startGateway({ smtpPort: srv.port });
      const put = await request(gw, 'PUT', '/v1/credentials/slow', {
        body: { host: '127.0.0.1', port: srv.port, timeout: 2, deadline: 3, idle_timeout: 0 },
      });
      assert.equal(put.status, 201, put.text);
      assert.equal(put.json.deadline, 3);
      assert.equal((await request(gw, 'GET', '/v1/credentials/slow')).json.deadline, 3);
      const r = await send(gw, { ...MSG, credential: 'slow' }, { timeoutMs: 30000 });
      const j = assertOutcome(r, 504, 'unknown', [/deadline/]);
      assert.equal(j.retryable, false, 'it may have been delivered');
      await srv.waitForClose(0, 10000);
      assert.ok(srv.connections[0].text.includes('\r\n.\r\n'), 'the whole message went out');
    } finally {
      if (gw) await gw.stop();
      await srv.close();
    }
    assertCleanRun(gw);
  });

  it('the wait for a pool slot counts: 3 s waiting, then a 4 s greeting, deadline 6 s → 504 failed', T, async () => {
    // Pool 1. The first send holds the only connection for 3 s (a late
    // greeting); the second waits for it (inside the 5 s timeout), then
    // meets a greeting 4 s late: inside its own timeout, and inside the
    // deadline too if the wait did not count, but 7 s after it began.
    const first = [{ delay: 3000 }, say('220 first.test\r\n'), read(/^EHLO \S+$/, '250 first.test\r\n'),
      read(/^MAIL FROM:/, '250 ok\r\n'), read(/^RCPT TO:/, '250 ok\r\n'), read('DATA', '354 go\r\n'),
      readData('250 queued\r\n'), read('QUIT', '221 bye\r\n'), { close: true }];
    const second = [{ delay: 4000 }, say('220 second.test\r\n'), read(/^EHLO \S+$/, '250 second.test\r\n'),
      read(/^MAIL FROM:/, '250 ok\r\n'), read(/^RCPT TO:/, '250 ok\r\n'), read('DATA', '354 go\r\n'),
      readData('250 queued\r\n'), read('QUIT', '221 bye\r\n'), { close: true }];
    const env = { GATEWAY_SMTP_POOL: 1, GATEWAY_SMTP_TIMEOUT: 5, GATEWAY_SMTP_DEADLINE: 6 };
    await withGateway([first, second], env, async (gw, srv) => {
      const a = send(gw, { ...MSG, from: 'first@example.com' }, { timeoutMs: 30000 });
      await srv.waitForConnection(0);
      const b = await send(gw, { ...MSG, from: 'second@example.com' }, { timeoutMs: 30000 });
      assertOutcome(await a, 200, 'sent');
      const j = assertOutcome(b, 504, 'failed', [/deadline/]);
      assert.equal(j.retryable, true);
      assert.equal(srv.connections.length, 2, 'the second send got the slot and connected');
      await srv.waitForClose(1, 10000);
      assert.deepEqual(linesOf(srv.connections[1]), [], 'nothing was sent to the second server');
    });
  });

  it('idle_timeout 0 and a server that holds its QUIT reply: the client has its 200 first', T, async () => {
    // The reply to QUIT is held until the client has its answer, or 1.5 s
    // at most; a gateway waiting for it would only answer after that.
    const answered = gate();
    let released = null;
    const script = [
      say('220 quit.test ESMTP\r\n'),
      read(/^EHLO \S+$/, '250 quit.test\r\n'),
      read('MAIL FROM:<a@example.com>', '250 ok\r\n'),
      read('RCPT TO:<b@example.com>', '250 ok\r\n'),
      read('DATA', '354 go\r\n'),
      readData('250 queued\r\n'),
      read('QUIT', async () => {
        released = await Promise.race([answered.promise.then(() => 'answer'), sleep(1500).then(() => 'timer')]);
        return '221 bye\r\n';
      }),
      { close: true },
    ];
    await withGateway([script], { GATEWAY_SMTP_IDLE_TIMEOUT: 0 }, async (gw, srv) => {
      const r = await send(gw, MSG);
      const heldStill = released === null;
      answered.open();
      assertOutcome(r, 200, 'sent');
      assert.ok(heldStill, `the answer came after the QUIT reply was released (by the ${released})`);
      await srv.waitForLine(/^QUIT\r\n$/);
      await srv.waitForClose(0, 10000);
      const lines = linesOf(srv.connections[0]);
      assert.equal(lines[lines.length - 1], 'QUIT', 'QUIT was sent, last');
    });
  });
});

describe('GATEWAY_SMTP_DEADLINE and deadline: the values', () => {
  for (const value of ['0', '3601', 'soon', '1.5']) {
    it(`GATEWAY_SMTP_DEADLINE=${value} → exit 2 naming it`, T, async () => {
      const r = await runGateway(['serve'], await validEnv({ GATEWAY_SMTP_DEADLINE: value }));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^smtp-gateway: GATEWAY_SMTP_DEADLINE: must be a number of seconds from 1 to 3600$/m);
    });
  }

  it('a deadline out of range in a PUT → 400 naming it; left out, 0 (the default)', T, async () => {
    const gw = await startGateway();
    try {
      const bad = await request(gw, 'PUT', '/v1/credentials/x', { body: { host: '127.0.0.1', deadline: 3601 } });
      assertErrorReply(bad, 400, 'deadline');
      const put = await request(gw, 'PUT', '/v1/credentials/x', { body: { host: '127.0.0.1' } });
      assert.equal(put.status, 201, put.text);
      assert.equal(put.json.deadline, 0);
      assert.equal((await request(gw, 'GET', '/v1/credentials/default')).json.deadline, 0);
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });
});

describe('AUTH offered only after STARTTLS', () => {
  it('a user name, tls none, a server offering STARTTLS and no AUTH → the error says to use starttls; no MAIL', T, async () => {
    const script = [
      say('220 tls-first.test ESMTP\r\n'),
      read(/^EHLO \S+$/, '250-tls-first.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n'),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    const env = { GATEWAY_SMTP_USERNAME: 'mailer', GATEWAY_SMTP_TLS: 'none' };
    await withGateway([script], env, async (gw, srv) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed', [
        'offers STARTTLS',
        'AUTH may follow it',
        'tls starttls',
      ]);
      await srv.waitForClose(0, 10000);
      const conn = srv.connections[0];
      assert.deepEqual(conn.mismatches, []);
      assert.equal(linesOf(conn).length, 2, conn.text);
      assert.match(linesOf(conn)[0], /^EHLO \S+$/);
      assert.equal(linesOf(conn)[1], 'QUIT', 'no STARTTLS, no AUTH, no MAIL: only QUIT');
    });
  });
});
