'use strict';
// What a send's reply says. `retryable` on every send reply: true only when nothing was delivered and
// the same request may succeed later (a 4xx reply, a 421, a connection, TLS
// or timeout failure before the message went out, a full pool); false for
// what went out, permanent refusals and `unknown`. Each case states the
// conversation with a hand-scripted server and what the client is told.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');

const { assertCleanRun, cleanupAll, closedPort, request, send, startGateway } = require('./lib/gateway');
const { withScripted, send: say, read, readData, happyScript } = require('./lib/scripted');

const T = { timeout: 45000 };
const MSG = { from: 'a@example.com', to: 'b@example.com', text: 'x' };

after(cleanupAll);

/* A scripted server and a gateway with `env`. */
const withGateway = (scripts, fn, env = {}) => withScripted(scripts, fn, { env });

/* The server's side up to the RCPT reply for one recipient. */
function upToRcpt(rcptReply, ehlo = '250 scripted.test\r\n') {
  return [
    say('220 scripted.test ESMTP\r\n'),
    read(/^EHLO \S+$/, ehlo),
    read('MAIL FROM:<a@example.com>', '250 ok\r\n'),
    read('RCPT TO:<b@example.com>', rcptReply),
  ];
}

function expectReply(r, httpStatus, status, retryable) {
  assert.equal(r.status, httpStatus, r.text);
  assert.equal(r.json.status, status, r.text);
  assert.equal(r.json.retryable, retryable, `retryable in ${r.text}`);
}

describe('retryable: refusals by reply class', () => {
  const cases = [
    ['RCPT 450: a mailbox busy for now', [...upToRcpt('450 4.2.1 mailbox busy\r\n'), read('RSET', '250 ok\r\n'), read('QUIT', '221 bye\r\n')], true],
    ['RCPT 550: no such user', [...upToRcpt('550 5.1.1 no such user\r\n'), read('RSET', '250 ok\r\n'), read('QUIT', '221 bye\r\n')], false],
    [
      'MAIL 451: local error',
      [say('220 s ESMTP\r\n'), read(/^EHLO /, '250 s\r\n'), read(/^MAIL FROM:/, '451 4.3.0 try later\r\n'), read('QUIT', '221 bye\r\n')],
      true,
    ],
    [
      'MAIL 553: sender refused',
      [say('220 s ESMTP\r\n'), read(/^EHLO /, '250 s\r\n'), read(/^MAIL FROM:/, '553 5.7.1 not yours\r\n'), read('QUIT', '221 bye\r\n')],
      false,
    ],
    ['a 421 greeting', [say('421 4.3.2 closing\r\n'), { close: true }], true],
    ['a 554 greeting', [say('554 5.3.2 go away\r\n'), read('QUIT', '221 bye\r\n')], false],
    [
      'the final dot answered 452',
      [...upToRcpt('250 ok\r\n'), read('DATA', '354 go\r\n'), readData('452 4.3.1 out of storage\r\n'), read('QUIT', '221 bye\r\n')],
      true,
    ],
    [
      'the final dot answered 554',
      [...upToRcpt('250 ok\r\n'), read('DATA', '354 go\r\n'), readData('554 5.7.1 spam\r\n'), read('QUIT', '221 bye\r\n')],
      false,
    ],
    [
      'the final dot answered 421',
      [...upToRcpt('250 ok\r\n'), read('DATA', '354 go\r\n'), readData('421 4.4.2 shutting down\r\n'), { close: true }],
      true,
    ],
  ];
  for (const [name, script, retryable] of cases) {
    it(`${name} → 502 failed, retryable ${retryable}`, T, async () => {
      await withGateway([script], async (gw, srv) => {
        expectReply(await send(gw, MSG), 502, 'failed', retryable);
        const conn = await srv.waitForClose(0);
        assert.deepEqual(conn.mismatches, [], conn.text);
      });
    });
  }
});

describe('retryable: several recipients', () => {
  function twoRcpts(first, second, continueAfter) {
    return [
      say('220 scripted.test ESMTP\r\n'),
      read(/^EHLO \S+$/, '250 scripted.test\r\n'),
      read('MAIL FROM:<a@example.com>', '250 ok\r\n'),
      read('RCPT TO:<b1@example.com>', first),
      ...(continueAfter || first.startsWith('2') ? [read('RCPT TO:<b2@example.com>', second)] : []),
      read('RSET', '250 ok\r\n'),
      read('QUIT', '221 bye\r\n'),
    ];
  }
  const body = (c) => ({ from: 'a@example.com', to: ['b1@example.com', 'b2@example.com'], text: 'x', options: { continue_after_bad_send: c } });

  it('every recipient refused with 4xx (continue_after_bad_send) → retryable', T, async () => {
    await withGateway([twoRcpts('450 4.2.1 busy\r\n', '451 4.3.0 later\r\n', true)], async (gw) => {
      const r = await send(gw, body(true));
      expectReply(r, 502, 'failed', true);
      assert.deepEqual(r.json.failed_send, ['b1@example.com', 'b2@example.com']);
    });
  });

  it('a 450 and a 550 (continue_after_bad_send) → not retryable: the 550 stays', T, async () => {
    await withGateway([twoRcpts('450 4.2.1 busy\r\n', '550 5.1.1 unknown\r\n', true)], async (gw) => {
      expectReply(await send(gw, body(true)), 502, 'failed', false);
    });
  });

  it('partial: something was delivered → not retryable', T, async () => {
    const script = [
      say('220 scripted.test ESMTP\r\n'),
      read(/^EHLO \S+$/, '250 scripted.test\r\n'),
      read('MAIL FROM:<a@example.com>', '250 ok\r\n'),
      read('RCPT TO:<b1@example.com>', '250 ok\r\n'),
      read('RCPT TO:<b2@example.com>', '450 4.2.1 busy\r\n'),
      read('DATA', '354 go\r\n'),
      readData('250 queued\r\n'),
      read('QUIT', '221 bye\r\n'),
    ];
    await withGateway([script], async (gw) => {
      expectReply(await send(gw, body(true)), 200, 'partial', false);
    });
  });

  it('sent → not retryable', T, async () => {
    await withGateway([happyScript({ from: 'a@example.com' })], async (gw) => {
      expectReply(await send(gw, MSG), 200, 'sent', false);
    });
  });
});

describe('retryable: the connection', () => {
  it('nothing listens on the port → 502, retryable', T, async () => {
    const gw = await startGateway({ smtpPort: await closedPort() });
    try {
      expectReply(await send(gw, MSG), 502, 'failed', true);
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });

  it('no greeting in time → 504, retryable', T, async () => {
    await withGateway([[{ stall: true }]], async (gw) => {
      expectReply(await send(gw, MSG), 504, 'failed', true);
    }, { GATEWAY_SMTP_TIMEOUT: 1 });
  });

  it('the connection lost after the final dot → 502 unknown, not retryable', T, async () => {
    const script = [...upToRcpt('250 ok\r\n'), read('DATA', '354 go\r\n'), readData(''), { destroy: true }];
    await withGateway([script], async (gw) => {
      expectReply(await send(gw, MSG), 502, 'unknown', false);
    });
  });

  it('no verdict on the final dot in time → 504 unknown, not retryable', T, async () => {
    const script = [...upToRcpt('250 ok\r\n'), read('DATA', '354 go\r\n'), readData(''), { stall: true }];
    await withGateway([script], async (gw) => {
      expectReply(await send(gw, MSG), 504, 'unknown', false);
    }, { GATEWAY_SMTP_TIMEOUT: 1 });
  });
  // A full pool (503, retryable true): wire.test.js, 'no free upstream connection'.
});

describe('retryable: AUTH', () => {
  const authScript = (reply) => [
    say('220 scripted.test ESMTP\r\n'),
    read(/^EHLO \S+$/, '250-scripted.test\r\n250 AUTH PLAIN\r\n'),
    read(/^AUTH PLAIN/, reply),
    read('QUIT', '221 bye\r\n'),
  ];
  const env = { GATEWAY_SMTP_USERNAME: 'user', GATEWAY_SMTP_PASSWORD: 'pw-secret', GATEWAY_SMTP_MECHANISMS: 'PLAIN', GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH: 'true' };

  it('454 temporary authentication failure → retryable', T, async () => {
    await withGateway([authScript('454 4.7.0 temporary authentication failure\r\n')], async (gw) => {
      expectReply(await send(gw, MSG), 502, 'failed', true);
    }, env);
  });

  it('535 bad credentials → not retryable', T, async () => {
    await withGateway([authScript('535 5.7.8 bad credentials\r\n')], async (gw) => {
      expectReply(await send(gw, MSG), 502, 'failed', false);
    }, env);
  });
});

describe('the raw route says retryable too', () => {
  it('RCPT 450 on /v1/messages/raw → 502, retryable', T, async () => {
    const script = [...upToRcpt('450 4.2.1 mailbox busy\r\n'), read('RSET', '250 ok\r\n'), read('QUIT', '221 bye\r\n')];
    await withGateway([script], async (gw) => {
      const r = await request(gw, 'POST', '/v1/messages/raw?from=a@example.com&to=b@example.com', {
        headers: { 'content-type': 'message/rfc822' },
        body: Buffer.from('From: a@example.com\r\nTo: b@example.com\r\nSubject: x\r\n\r\nhello\r\n'),
      });
      expectReply(r, 502, 'failed', true);
    });
  });
});

describe('every reply the server gave is reported', () => {
  it('pipelined, continue_after_bad_send false: [ok, refused, ok2] reports ok2 as answered 250', T, async () => {
    // With PIPELINING the three RCPTs go out in one batch; the server
    // answers all three before the gateway can stop, so the reply says
    // what the server said to each, though no DATA follows.
    const script = [
      say('220 scripted.test ESMTP\r\n'),
      read(/^EHLO \S+$/, '250-scripted.test\r\n250 PIPELINING\r\n'),
      read('MAIL FROM:<a@example.com>', '250 ok\r\n'),
      read('RCPT TO:<ok@example.com>', '250 2.1.5 ok\r\n'),
      read('RCPT TO:<refused@example.com>', '550 5.1.1 no such user\r\n'),
      read('RCPT TO:<ok2@example.com>', '250 2.1.5 ok too\r\n'),
      read('RSET', '250 2.0.0 reset\r\n'),
      read('QUIT', '221 bye\r\n'),
    ];
    await withGateway([script], async (gw, srv) => {
      const r = await send(gw, { from: 'a@example.com', to: ['ok@example.com', 'refused@example.com', 'ok2@example.com'], text: 'x' });
      expectReply(r, 502, 'failed', false);
      assert.deepEqual(r.json.failed_send, ['refused@example.com']);
      assert.deepEqual(
        r.json.recipients.map((x) => [x.address, x.accepted, x.code, x.reply]),
        [
          ['ok@example.com', true, 250, '250 2.1.5 ok'],
          ['refused@example.com', false, 550, '550 5.1.1 no such user'],
          ['ok2@example.com', true, 250, '250 2.1.5 ok too'],
        ],
      );
      assert.match(r.json.error, /^RCPT TO:<refused@example\.com> was refused: 550/);
      const conn = await srv.waitForClose(0);
      assert.deepEqual(conn.mismatches, [], conn.text);
      assert.doesNotMatch(conn.text, /^DATA\r$/m, 'no DATA after the refusal');
    });
  });
});
