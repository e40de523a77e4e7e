'use strict';
// ESMTP extensions: PIPELINING (proved by scripted servers that hold
// every reply until the whole batch arrived), one command at a time
// without it, SIZE (the parameter and the refusal before MAIL), SMTPUTF8,
// and enhanced status codes in the reply's recipients.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');

const {
  assertCleanRun,
  assertNoSecrets,
  cleanupAll,
} = require('./lib/gateway');
const { startSmtpServer } = require('./lib/smtpserver');
const { sendChecked: send, startSessionGateway: startGateway } = require('./lib/upstream');
const { withScripted, send: say, read, readData, unstuff } = require('./lib/scripted');
const { assertOutcome, ehloName } = require('./lib/upstream');

const T = { timeout: 30000 };

after(cleanupAll);


function noMismatch(conn) {
  assert.deepEqual(conn.mismatches, [], `the client said something unexpected:\n${conn.text}`);
}

/* A scripted server and a gateway with `env`; GATEWAY_SMTP_TIMEOUT=5 so
 * that a client waiting for a reply the server holds back fails (504)
 * instead of hanging. */
const withGateway = (scripts, fn, env = {}) => withScripted(scripts, fn, { env: { GATEWAY_SMTP_TIMEOUT: 5, ...env } });

async function withSmtpServer(serverOpts, fn, gwOpts = {}) {
  const smtp = await startSmtpServer(serverOpts);
  let gw;
  try {
    gw = await startGateway({ smtpPort: smtp.port, ...gwOpts });
    await fn(gw, smtp);
  } finally {
    if (gw) await gw.stop();
    await smtp.close();
  }
  assertCleanRun(gw);
}

const GREETING = say('220 scripted.test ESMTP\r\n');
const EHLO_PIPELINING = read(/^EHLO \S+$/, '250-scripted.test\r\n250-PIPELINING\r\n250 HELP\r\n');
const EHLO_PLAIN = read(/^EHLO \S+$/, '250-scripted.test\r\n250 HELP\r\n');
const held = (expect) => read(expect, undefined); // read, answer nothing yet

describe('PIPELINING', () => {
  it('one recipient: MAIL, RCPT and DATA go out before any reply is read', T, async () => {
    const script = [
      GREETING,
      EHLO_PIPELINING,
      held('MAIL FROM:<a@example.com>'),
      held('RCPT TO:<b@example.com>'),
      // Only now, with the whole batch in, do the replies go out.
      read('DATA', '250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n'),
      readData('250 2.0.0 queued\r\n'),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    await withGateway([script], async (gw, srv) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', subject: 'piped', text: 'x' });
      const j = assertOutcome(r, 200, 'sent');
      assert.deepEqual(j.recipients.map((x) => [x.address, x.accepted, x.code]), [['b@example.com', true, 250]]);
      const conn = await srv.waitForClose(0);
      noMismatch(conn);
      assert.match(conn.text, /^EHLO \S+\r\nMAIL FROM:<a@example\.com>\r\nRCPT TO:<b@example\.com>\r\nDATA\r\n/);
    });
  });

  it('continue_after_bad_send: every RCPT and DATA in the batch; a refusal in the middle → partial', T, async () => {
    const script = [
      GREETING,
      EHLO_PIPELINING,
      held('MAIL FROM:<a@example.com>'),
      held('RCPT TO:<r1@example.com>'),
      held('RCPT TO:<r2@example.com>'),
      held('RCPT TO:<r3@example.com>'),
      read('DATA', '250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user r2\r\n250 2.1.5 ok\r\n354 go ahead\r\n'),
      readData('250 2.0.0 queued\r\n'),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    await withGateway([script], async (gw, srv) => {
      const r = await send(gw, {
        from: 'a@example.com',
        to: ['r1@example.com', 'r2@example.com', 'r3@example.com'],
        text: 'x',
        options: { continue_after_bad_send: true },
      });
      const j = assertOutcome(r, 200, 'partial', ['550', 'no such user r2']);
      assert.deepEqual(j.failed_send, ['r2@example.com']);
      assert.deepEqual(
        j.recipients.map((x) => [x.address, x.accepted, x.code, x.enhanced_code]),
        [
          ['r1@example.com', true, 250, '2.1.5'],
          ['r2@example.com', false, 550, '5.1.1'],
          ['r3@example.com', true, 250, '2.1.5'],
        ],
      );
      noMismatch(await srv.waitForClose(0));
    });
  });

  it('several recipients without continue: MAIL and every RCPT batched, DATA only after their replies', T, async () => {
    let pendingAtReply = null;
    const script = [
      GREETING,
      EHLO_PIPELINING,
      held('MAIL FROM:<a@example.com>'),
      held('RCPT TO:<r1@example.com>'),
      read('RCPT TO:<r2@example.com>', (line, conn) => {
        // DATA must not have come with the batch.
        pendingAtReply = conn.pending.toString('latin1');
        return '250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n';
      }),
      read('DATA', '354 go ahead\r\n'),
      readData('250 2.0.0 queued\r\n'),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    await withGateway([script], async (gw, srv) => {
      const r = await send(gw, { from: 'a@example.com', to: ['r1@example.com', 'r2@example.com'], text: 'x' });
      assertOutcome(r, 200, 'sent');
      const conn = await srv.waitForClose(0);
      noMismatch(conn);
      assert.equal(pendingAtReply, '', 'nothing (no DATA) came with MAIL and the RCPTs');
    });
  });

  it('several recipients without continue, one refused: RSET after the batch, never DATA', T, async () => {
    const script = [
      GREETING,
      EHLO_PIPELINING,
      held('MAIL FROM:<a@example.com>'),
      held('RCPT TO:<r1@example.com>'),
      held('RCPT TO:<r2@example.com>'),
      read('RCPT TO:<r3@example.com>', '250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user r2\r\n250 2.1.5 ok\r\n'),
      read('RSET', '250 2.0.0 flushed\r\n'),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    await withGateway([script], async (gw, srv) => {
      const r = await send(gw, {
        from: 'a@example.com',
        to: ['r1@example.com', 'r2@example.com', 'r3@example.com'],
        subject: 'never',
        text: 'never sent',
      });
      const j = assertOutcome(r, 502, 'failed', ['550', 'no such user r2']);
      assert.deepEqual(j.failed_send, ['r2@example.com']);
      assert.deepEqual(j.recipients.slice(0, 2).map((x) => [x.address, x.accepted, x.code, x.enhanced_code]), [
        ['r1@example.com', true, 250, '2.1.5'],
        ['r2@example.com', false, 550, '5.1.1'],
      ]);
      const conn = await srv.waitForClose(0);
      noMismatch(conn);
      const name = ehloName(conn.text);
      assert.equal(
        conn.text,
        `EHLO ${name}\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<r1@example.com>\r\nRCPT TO:<r2@example.com>\r\n` +
          'RCPT TO:<r3@example.com>\r\nRSET\r\nQUIT\r\n',
      );
    });
  });

  it('MAIL refused inside a batch with DATA: the body is never sent after the 503 to DATA', T, async () => {
    const script = [
      GREETING,
      EHLO_PIPELINING,
      held('MAIL FROM:<a@example.com>'),
      held('RCPT TO:<b@example.com>'),
      read('DATA', '553 5.7.1 sender not allowed\r\n503 5.5.1 need MAIL first\r\n503 5.5.1 need RCPT first\r\n'),
      read(/^(RSET|QUIT)$/, (line) => (line.startsWith('RSET') ? '250 ok\r\n' : '221 bye\r\n')),
      read(/^QUIT$/, '221 bye\r\n'),
      { close: true },
    ];
    await withGateway([script], async (gw, srv) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', subject: 'never', text: 'never sent' });
      assertOutcome(r, 502, 'failed', ['553', 'sender not allowed']);
      const conn = await srv.waitForClose(0);
      noMismatch(conn);
      assert.doesNotMatch(conn.text, /Subject: never|never sent/, 'no message body after the refused DATA');
      assert.match(conn.text, /DATA\r\n(RSET\r\n)?QUIT\r\n$/);
    });
  });
});

describe('without PIPELINING', () => {
  it('one command at a time: each only after the reply to the one before', T, async () => {
    // Every reply comes 150 ms late; whatever arrived meanwhile was sent
    // before the client had its answer.
    const early = [];
    const late = (reply) => async (line, conn) => {
      await new Promise((r) => setTimeout(r, 150));
      if (conn.pending.length) early.push(`${line.trim()} → ${JSON.stringify(conn.pending.toString('latin1'))}`);
      return reply;
    };
    const script = [
      GREETING,
      read(/^EHLO \S+$/, late('250-scripted.test\r\n250 HELP\r\n')),
      read('MAIL FROM:<a@example.com>', late('250 2.1.0 ok\r\n')),
      read('RCPT TO:<r1@example.com>', late('250 2.1.5 ok\r\n')),
      read('RCPT TO:<r2@example.com>', late('250 2.1.5 ok\r\n')),
      read('DATA', late('354 go ahead\r\n')),
      readData('250 2.0.0 queued\r\n'),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    await withGateway([script], async (gw, srv) => {
      const r = await send(gw, {
        from: 'a@example.com',
        to: ['r1@example.com', 'r2@example.com'],
        text: 'x',
        options: { continue_after_bad_send: true },
      });
      assertOutcome(r, 200, 'sent');
      const conn = await srv.waitForClose(0);
      noMismatch(conn);
      assert.deepEqual(early, [], 'a command came before the reply to the previous one');
    });
  });
});

describe('SIZE', () => {
  it('MAIL FROM carries SIZE=<n>, n at least the message size', T, async () => {
    await withSmtpServer({ serverOptions: { size: 1000000 } }, async (gw, smtp) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', subject: 'sized', text: 'y'.repeat(5000) });
      assertOutcome(r, 200, 'sent');
      const [m] = await smtp.waitForMessages(1);
      const size = m.envelope.mailFromArgs && m.envelope.mailFromArgs.SIZE;
      assert.match(String(size), /^\d+$/, `a SIZE parameter: ${JSON.stringify(m.envelope.mailFromArgs)}`);
      assert.ok(Number(size) >= m.raw.length, `SIZE=${size} is at least the ${m.raw.length} bytes received`);
    });
  });

  it('the exact MAIL FROM with SIZE (scripted)', T, async () => {
    let mail = null;
    const script = [
      GREETING,
      read(/^EHLO \S+$/, '250-scripted.test\r\n250 SIZE 10000000\r\n'),
      read(/^MAIL FROM:<a@example\.com> SIZE=[1-9]\d*$/, (line) => {
        mail = line;
        return '250 2.1.0 ok\r\n';
      }),
      read('RCPT TO:<b@example.com>', '250 2.1.5 ok\r\n'),
      read('DATA', '354 go ahead\r\n'),
      readData('250 2.0.0 queued\r\n'),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    await withGateway([script], async (gw, srv) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'z'.repeat(3000) });
      assertOutcome(r, 200, 'sent');
      const conn = await srv.waitForClose(0);
      noMismatch(conn);
      const n = Number(/SIZE=(\d+)/.exec(mail)[1]);
      const body = Buffer.byteLength(unstuff(conn.data), 'latin1');
      assert.ok(n >= body, `SIZE=${n} is at least the body's ${body} bytes`);
    });
  });

  it('SIZE with no limit: the parameter is sent, any size goes', T, async () => {
    await withSmtpServer({ serverOptions: { size: 1000, hideSize: true } }, async (gw, smtp) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'w'.repeat(20000) });
      assertOutcome(r, 200, 'sent');
      const [m] = await smtp.waitForMessages(1);
      assert.ok(Number(m.envelope.mailFromArgs.SIZE) >= m.raw.length, JSON.stringify(m.envelope.mailFromArgs));
    });
  });

  it('a message over the advertised SIZE → 502 naming SIZE and the limit, no MAIL sent', T, async () => {
    await withSmtpServer({ serverOptions: { size: 2000 } }, async (gw, smtp) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'v'.repeat(8000) });
      assertOutcome(r, 502, 'failed', ['SIZE', '2000']);
      assertNoSecrets(gw, r.text);
      assert.deepEqual(smtp.mailFromAttempts, [], 'refused before MAIL');
      assert.equal(smtp.transactions.length, 0);
      // A message within the limit still goes.
      const ok = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'small' });
      assertOutcome(ok, 200, 'sent');
    });
  });

  it('no SIZE offered: no SIZE parameter', T, async () => {
    await withSmtpServer({}, async (gw, smtp) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'x' });
      assertOutcome(r, 200, 'sent');
      const [m] = await smtp.waitForMessages(1);
      assert.equal((m.envelope.mailFromArgs || {}).SIZE, undefined, JSON.stringify(m.envelope.mailFromArgs));
    });
  });
});

describe('SMTPUTF8', () => {
  it('a UTF-8 address to a server offering SMTPUTF8: MAIL FROM ... SMTPUTF8, delivered', T, async () => {
    await withSmtpServer({}, async (gw, smtp) => {
      const r = await send(gw, { from: 'zoë@example.com', to: ['ünïcode@example.com', 'plain@example.com'], text: 'x' });
      const j = assertOutcome(r, 200, 'sent');
      assert.deepEqual(j.recipients.map((x) => x.address), ['ünïcode@example.com', 'plain@example.com']);
      const [m] = await smtp.waitForMessages(1);
      assert.equal(m.envelope.smtpUtf8, true, 'SMTPUTF8 on MAIL FROM');
      assert.equal(m.envelope.mailFrom, 'zoë@example.com');
      assert.deepEqual(m.envelope.rcptTo, ['ünïcode@example.com', 'plain@example.com']);
    });
  });

  it('ASCII only: no SMTPUTF8 parameter even when offered', T, async () => {
    await withSmtpServer({}, async (gw, smtp) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', subject: 'Grüße', text: 'Grüße' });
      assertOutcome(r, 200, 'sent');
      const [m] = await smtp.waitForMessages(1);
      assert.equal(m.envelope.smtpUtf8, false);
    });
  });

  for (const [label, body] of [
    ['a UTF-8 address', { from: 'a@example.com', to: 'ünïcode@example.com', text: 'x' }],
    ['allow_header_encoding false with a non-ASCII subject', {
      from: 'a@example.com',
      to: 'b@example.com',
      subject: 'Grüße',
      text: 'x',
      options: { allow_header_encoding: false },
    }],
  ]) {
    it(`${label} to a server without SMTPUTF8 → 502 naming SMTPUTF8, nothing sent`, T, async () => {
      await withSmtpServer({ serverOptions: { hideSMTPUTF8: true } }, async (gw, smtp) => {
        const r = await send(gw, body);
        assertOutcome(r, 502, 'failed', ['SMTPUTF8']);
        assert.deepEqual(smtp.mailFromAttempts, [], 'no MAIL FROM');
        assert.deepEqual(smtp.rcptAttempts, []);
        assert.equal(smtp.transactions.length, 0);
      });
    });
  }
});

describe('enhanced status codes in the reply', () => {
  const BAD = 'bad@example.com';
  const enhanced = { hideENHANCEDSTATUSCODES: false };

  it('continue_after_bad_send: each recipient\'s enhanced_code', T, async () => {
    await withSmtpServer({ rejectRcpt: { [BAD]: { code: 550, message: 'Mailbox unavailable' } }, serverOptions: enhanced }, async (gw) => {
      const r = await send(gw, {
        from: 'a@example.com',
        to: ['ok1@example.com', BAD, 'ok2@example.com'],
        text: 'x',
        options: { continue_after_bad_send: true },
      });
      const j = assertOutcome(r, 200, 'partial');
      assert.deepEqual(
        j.recipients.map((x) => [x.address, x.code, x.enhanced_code]),
        [
          ['ok1@example.com', 250, '2.1.5'],
          [BAD, 550, '5.1.1'],
          ['ok2@example.com', 250, '2.1.5'],
        ],
      );
      assert.match(j.recipients[1].reply, /^550 5\.1\.1 Mailbox unavailable/);
    });
  });

  it('a recipient never tried has enhanced_code null', T, async () => {
    // Without PIPELINING the refusal stops the send before the last RCPT.
    const serverOptions = { ...enhanced, hidePIPELINING: true };
    await withSmtpServer({ rejectRcpt: { [BAD]: { code: 550, message: 'Mailbox unavailable' } }, serverOptions }, async (gw) => {
      const r = await send(gw, { from: 'a@example.com', to: ['ok1@example.com', BAD, 'later@example.com'], text: 'x' });
      const j = assertOutcome(r, 502, 'failed');
      assert.deepEqual(j.recipients.map((x) => x.enhanced_code), ['2.1.5', '5.1.1', null]);
      assert.deepEqual(j.recipients[2], {
        address: 'later@example.com',
        accepted: false,
        code: null,
        enhanced_code: null,
        reply: null,
      });
    });
  });

  it('replies without an enhanced code → enhanced_code null', T, async () => {
    await withSmtpServer({ rejectRcpt: { [BAD]: { code: 550, message: 'Mailbox unavailable' } } }, async (gw) => {
      const r = await send(gw, {
        from: 'a@example.com',
        to: ['ok1@example.com', BAD],
        text: 'x',
        options: { continue_after_bad_send: true },
      });
      const j = assertOutcome(r, 200, 'partial');
      for (const rc of j.recipients) {
        assert.ok('enhanced_code' in rc, `every recipient has enhanced_code: ${JSON.stringify(rc)}`);
        assert.equal(rc.enhanced_code, null, JSON.stringify(rc));
      }
    });
  });
});
