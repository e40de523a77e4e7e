'use strict';
// The SMTP leg byte for byte, against a hand-scripted server: the exact
// commands, dot-stuffing, CRLF, HELO fallback, multi-line and fragmented
// replies, protocol errors, timeouts, refused connections, and a hung
// connection not holding up another.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const { simpleParser } = require('mailparser');

const { assertCleanRun, cleanupAll, closedPort, send, startGateway } = require('./lib/gateway');
const { withScripted, send: say, read, readData, gate, happyScript, holdingScript, unstuff } = require('./lib/scripted');

const T = { timeout: 45000 };

after(cleanupAll);

// withScripted gives each send a connection of its own (no reuse), so
// each script is one whole session; reuse has tests of its own
// (pool.test.js).

function noMismatch(conn) {
  assert.deepEqual(conn.mismatches, [], `the client said something unexpected:\n${conn.text}`);
}

/* No CR without LF and no LF without CR anywhere in `s`. */
function assertCrlfOnly(s, what) {
  assert.ok(!/\r(?!\n)/.test(s), `${what}: a bare CR`);
  assert.ok(!/(^|[^\r])\n/.test(s), `${what}: a bare LF`);
}

function assertSmtpFailure(r, httpStatus, re) {
  assert.equal(r.status, httpStatus, `HTTP status; body: ${r.text}`);
  assert.ok(r.json, `a JSON body: ${r.text}`);
  assert.equal(r.json.status, 'failed', r.text);
  assert.equal(typeof r.json.error, 'string', r.text);
  if (re) assert.match(r.json.error, re);
}

describe('the exact bytes of a simple send', () => {
  it('EHLO, MAIL, RCPT, DATA with dot-stuffing and CRLF, QUIT', T, async () => {
    await withScripted([happyScript({ from: 'a@example.com', rcpts: ['b@example.com'] })], async (gw, srv) => {
      const text = 'first line\n.hidden\n..two\n.\nunix\nwindows\r\nlast';
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', subject: 'Dots', text });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'sent');
      assert.deepEqual(r.json.recipients, [
        {
          address: 'b@example.com',
          accepted: true,
          code: 250,
          enhanced_code: '2.1.5',
          reply: r.json.recipients[0].reply,
        },
      ]);
      assert.match(r.json.recipients[0].reply, /2\.1\.5 recipient ok/);

      const conn = await srv.waitForClose(0);
      noMismatch(conn);
      assert.equal(srv.connections.length, 1, 'one connection per send');
      const wire = conn.text;
      const m = /^EHLO (\S+)\r\n/.exec(wire);
      assert.ok(m, `starts with EHLO <name>: ${JSON.stringify(wire.slice(0, 80))}`);
      const dataStart = wire.indexOf('DATA\r\n') + 'DATA\r\n'.length;
      const dataEnd = wire.indexOf('\r\n.\r\nQUIT\r\n');
      assert.ok(dataStart > 6 && dataEnd > dataStart, `a DATA section ended by CRLF.CRLF then QUIT:\n${wire}`);
      const data = wire.slice(dataStart, dataEnd + 2);
      assert.equal(
        wire,
        `EHLO ${m[1]}\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n${data}.\r\nQUIT\r\n`,
        'exactly these commands, nothing else',
      );
      assertCrlfOnly(wire, 'the client bytes');

      // Dot-stuffing: every body line starting with "." got one more.
      assert.ok(data.includes('\r\n..hidden\r\n'), `"..hidden" on the wire:\n${data}`);
      assert.ok(data.includes('\r\n...two\r\n'), `"...two" on the wire:\n${data}`);
      assert.ok(data.includes('\r\n..\r\n'), `the lone "." line as "..":\n${data}`);
      for (const line of data.split('\r\n')) {
        assert.ok(!/^\.(?!\.)/.test(line) || line === '', `an unstuffed line: ${JSON.stringify(line)}`);
      }

      // And the message itself.
      const msg = await simpleParser(Buffer.from(unstuff(data), 'latin1'));
      assert.equal(msg.subject, 'Dots');
      assert.deepEqual(msg.from.value, [{ address: 'a@example.com', name: '' }]);
      assert.deepEqual(msg.to.value, [{ address: 'b@example.com', name: '' }]);
      assert.equal(msg.text.replace(/\n$/, ''), text.replace(/\r\n/g, '\n'));
      assert.equal(msg.messageId, r.json.message_id);
      assert.ok(msg.date instanceof Date && !Number.isNaN(msg.date.getTime()));
    });
  });

  it('a bare CR, bare LFs and CRLFs in every part still give CRLF only on the wire', T, async () => {
    await withScripted([happyScript({ from: 'a@example.com', rcpts: ['b@example.com'] })], async (gw, srv) => {
      const r = await send(gw, {
        from: 'a@example.com',
        to: 'b@example.com',
        subject: 'crlf',
        text: 'one\rtwo\nthree\r\nfour\n\n\r\n',
        html: '<p>a</p>\n<p>b</p>\r\n<p>c</p>\r',
      });
      assert.equal(r.status, 200, r.text);
      const conn = await srv.waitForClose(0);
      noMismatch(conn);
      assertCrlfOnly(conn.text, 'the client bytes');
      assert.ok(conn.text.endsWith('\r\n.\r\nQUIT\r\n'));
    });
  });

  it('non-ASCII text to a server without 8BITMIME goes out 7-bit', T, async () => {
    await withScripted([happyScript({ from: 'a@example.com', rcpts: ['b@example.com'] })], async (gw, srv) => {
      const text = 'Grüße — 日本語\n';
      const r = await send(gw, { from: 'Zoë <a@example.com>', to: 'b@example.com', subject: 'Zoë', text });
      assert.equal(r.status, 200, r.text);
      const conn = await srv.waitForClose(0);
      noMismatch(conn);
      assert.ok(!/[\x80-\xff]/.test(conn.text), 'no 8-bit byte to a server that did not offer 8BITMIME');
      assert.match(conn.text, /^MAIL FROM:<a@example\.com>\r\n/m, 'no BODY=8BITMIME or SMTPUTF8 parameter');
      const msg = await simpleParser(Buffer.from(unstuff(conn.data), 'latin1'));
      assert.equal(msg.text.replace(/\n$/, ''), text.replace(/\n$/, ''));
      assert.equal(msg.subject, 'Zoë');
    });
  });

  it('bcc and cc go into the envelope in order: to, cc, bcc', T, async () => {
    const rcpts = ['t1@example.com', 't2@example.com', 'c1@example.com', 'b1@example.com'];
    await withScripted([happyScript({ from: 'a@example.com', rcpts })], async (gw, srv) => {
      const r = await send(gw, {
        from: 'a@example.com',
        bcc: 'b1@example.com',
        cc: ['c1@example.com'],
        to: ['t1@example.com', 't2@example.com'],
        text: 'x',
      });
      assert.equal(r.status, 200, r.text);
      const conn = await srv.waitForClose(0);
      noMismatch(conn);
      const rcptLines = conn.lines.filter((l) => l.startsWith('RCPT'));
      assert.deepEqual(rcptLines, rcpts.map((a) => `RCPT TO:<${a}>\r\n`));
      // Anchored, so that a Message-ID ending in ...b1@example.com cannot match.
      assert.doesNotMatch(conn.data, /[^0-9a-f]b1@example\.com/, 'the Bcc address is not in the message');
    });
  });
});

describe('refusals on the wire', () => {
  it('continue_after_bad_send false: RCPT refused → RSET, no DATA, QUIT', T, async () => {
    const script = [
      say('220 scripted.test ESMTP\r\n'),
      read(/^EHLO \S+$/, '250 scripted.test\r\n'),
      read('MAIL FROM:<a@example.com>', '250 ok\r\n'),
      read('RCPT TO:<b1@example.com>', '250 ok\r\n'),
      read('RCPT TO:<nobody@example.com>', '550 5.1.1 <nobody@example.com>: Recipient address rejected\r\n'),
      read('RSET', '250 2.0.0 reset\r\n'),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    await withScripted([script], async (gw, srv) => {
      const r = await send(gw, {
        from: 'a@example.com',
        to: ['b1@example.com', 'nobody@example.com', 'b3@example.com'],
        text: 'x',
      });
      assert.equal(r.status, 502, r.text);
      assert.equal(r.json.status, 'failed');
      assert.deepEqual(r.json.failed_send, ['nobody@example.com']);
      assert.match(r.json.error, /550/);
      assert.match(r.json.error, /Recipient address rejected/);
      assert.deepEqual(
        r.json.recipients.map((x) => [x.address, x.accepted, x.code]),
        [
          ['b1@example.com', true, 250],
          ['nobody@example.com', false, 550],
          ['b3@example.com', false, null],
        ],
      );
      const conn = await srv.waitForClose(0);
      noMismatch(conn);
      const ehlo = conn.lines[0];
      assert.equal(
        conn.text,
        `${ehlo}MAIL FROM:<a@example.com>\r\nRCPT TO:<b1@example.com>\r\nRCPT TO:<nobody@example.com>\r\nRSET\r\nQUIT\r\n`,
      );
    });
  });

  it('continue_after_bad_send true: every RCPT tried, DATA to the rest', T, async () => {
    const script = [
      say('220 scripted.test ESMTP\r\n'),
      read(/^EHLO \S+$/, '250 scripted.test\r\n'),
      read('MAIL FROM:<a@example.com>', '250 ok\r\n'),
      read('RCPT TO:<b1@example.com>', '250 ok\r\n'),
      read('RCPT TO:<nobody@example.com>', '550 5.1.1 no such user\r\n'),
      read('RCPT TO:<b3@example.com>', '251 2.1.5 will forward\r\n'),
      read('DATA', '354 go\r\n'),
      readData('250 queued\r\n'),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    await withScripted([script], async (gw, srv) => {
      const r = await send(gw, {
        from: 'a@example.com',
        to: ['b1@example.com', 'nobody@example.com', 'b3@example.com'],
        text: 'x',
        options: { continue_after_bad_send: true },
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'partial');
      assert.deepEqual(r.json.failed_send, ['nobody@example.com']);
      assert.deepEqual(
        r.json.recipients.map((x) => [x.address, x.accepted, x.code]),
        [
          ['b1@example.com', true, 250],
          ['nobody@example.com', false, 550],
          ['b3@example.com', true, 251],
        ],
      );
      const conn = await srv.waitForClose(0);
      noMismatch(conn);
    });
  });

  it('a 421 greeting → 502 with the 421 text in error', T, async () => {
    const script = [say('421 4.3.2 Service not available, closing channel\r\n'), { close: true }];
    await withScripted([script], async (gw) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'x' });
      assertSmtpFailure(r, 502, /421/);
      assert.match(r.json.error, /Service not available/);
    });
  });

  it('DATA itself refused (554 instead of 354) → 502, no body sent', T, async () => {
    const script = [
      say('220 scripted.test ESMTP\r\n'),
      read(/^EHLO \S+$/, '250 scripted.test\r\n'),
      read('MAIL FROM:<a@example.com>', '250 ok\r\n'),
      read('RCPT TO:<b@example.com>', '250 ok\r\n'),
      read('DATA', '554 5.5.1 no valid recipients today\r\n'),
      read(/^(RSET|QUIT)$/, (line) => (line.startsWith('RSET') ? '250 ok\r\n' : '221 bye\r\n')),
      read(/^QUIT$/, '221 bye\r\n'),
      { close: true },
    ];
    await withScripted([script], async (gw, srv) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', subject: 'never', text: 'never sent' });
      assertSmtpFailure(r, 502, /554/);
      assert.match(r.json.error, /no valid recipients today/);
      const conn = await srv.waitForClose(0);
      assert.doesNotMatch(conn.text, /Subject: never|never sent/, 'no message body after a refused DATA');
      assert.match(conn.text, /QUIT\r\n$/);
    });
  });

  it('the message refused after the final dot → 502 with the reply, then QUIT', T, async () => {
    const script = happyScript({ from: 'a@example.com', dataReply: '552 5.3.4 Message too big for this mailbox\r\n' });
    await withScripted([script], async (gw, srv) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'x' });
      assertSmtpFailure(r, 502, /552/);
      assert.match(r.json.error, /too big for this mailbox/);
      const conn = await srv.waitForClose(0);
      noMismatch(conn);
      assert.match(conn.text, /\r\n\.\r\nQUIT\r\n$/);
    });
  });
});

describe('EHLO and replies', () => {
  for (const code of ['500', '502']) {
    it(`EHLO answered ${code} → HELO with the same name, then the send goes on`, T, async () => {
      const script = [
        say('220 old.server SMTP\r\n'),
        read(/^EHLO \S+$/, `${code} 5.5.1 command not recognized\r\n`),
        read(/^HELO \S+$/, '250 old.server\r\n'),
        read('MAIL FROM:<a@example.com>', '250 ok\r\n'),
        read('RCPT TO:<b@example.com>', '250 ok\r\n'),
        read('DATA', '354 go\r\n'),
        readData('250 ok\r\n'),
        read('QUIT', '221 bye\r\n'),
        { close: true },
      ];
      await withScripted([script], async (gw, srv) => {
        const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'hello helo' });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.status, 'sent');
        const conn = await srv.waitForClose(0);
        noMismatch(conn);
        const name = /^EHLO (\S+)\r\n/.exec(conn.lines[0])[1];
        assert.equal(conn.lines[1], `HELO ${name}\r\n`);
        assert.equal(conn.lines[2], 'MAIL FROM:<a@example.com>\r\n', 'no ESMTP parameters after HELO');
        assert.match(conn.text, /\r\n\.\r\nQUIT\r\n$/);
      });
    });
  }

  it('multi-line replies everywhere, including a multi-line greeting', T, async () => {
    const script = [
      say('220-multi.test ESMTP first greeting line\r\n220-second greeting line\r\n220 ready\r\n'),
      read(/^EHLO \S+$/, '250-multi.test hello\r\n250-X-EXPERIMENTAL\r\n250-HELP\r\n250 X-LAST\r\n'),
      read('MAIL FROM:<a@example.com>', '250-sender\r\n250 2.1.0 ok\r\n'),
      read('RCPT TO:<b@example.com>', '250-first part\r\n250 2.1.5 second part\r\n'),
      read('DATA', '354-go\r\n354 ahead\r\n'),
      readData('250-queued\r\n250 as MULTI1\r\n'),
      read('QUIT', '221-bye\r\n221 now\r\n'),
      { close: true },
    ];
    await withScripted([script], async (gw, srv) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', subject: 'multi', text: 'x' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'sent');
      const rc = r.json.recipients[0];
      assert.equal(rc.code, 250);
      assert.match(rc.reply, /first part/, 'every line of the reply, verbatim');
      assert.match(rc.reply, /2\.1\.5 second part/);
      const conn = await srv.waitForClose(0);
      noMismatch(conn);
      assert.match(conn.text, /^EHLO \S+\r\nMAIL FROM:<a@example\.com>\r\nRCPT TO:<b@example\.com>\r\nDATA\r\n/);
      assert.match(conn.text, /\r\n\.\r\nQUIT\r\n$/, 'each command only after the whole reply');
    });
  });

  it('replies split into tiny TCP segments are reassembled', T, async () => {
    const script = [
      say('220-frag.test ESMTP\r\n220 ready\r\n', { chunked: 3 }),
      read(/^EHLO \S+$/, undefined),
      say('250-frag.test\r\n250 HELP\r\n', { chunked: 2 }),
      read('MAIL FROM:<a@example.com>', undefined),
      say('250 2.1.0 ok\r\n', { chunked: 1 }),
      read('RCPT TO:<b@example.com>', undefined),
      say('250 2.1.5 ok\r\n', { chunked: 4 }),
      read('DATA', undefined),
      say('354 go\r\n', { chunked: 1 }),
      readData(undefined),
      say('250 queued\r\n', { chunked: 5 }),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    await withScripted([script], async (gw, srv) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'x' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'sent');
      noMismatch(await srv.waitForClose(0));
    });
  });

  it('an overlong reply line (10000 bytes, no CRLF) → 502, a protocol error', T, async () => {
    const script = [
      say('220 scripted.test ESMTP\r\n'),
      read(/^EHLO \S+$/, '250-' + 'x'.repeat(10000)),
      { stall: true },
    ];
    await withScripted(
      [script],
      async (gw) => {
        const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'x' });
        assertSmtpFailure(r, 502, /protocol/i);
        assert.ok(r.json.error.length < 2000, 'the error does not carry the whole line');
      },
      { env: { GATEWAY_SMTP_TIMEOUT: 5 } },
    );
  });

  it('an overlong greeting line → 502, a protocol error', T, async () => {
    const script = [say('220 ' + 'y'.repeat(10000)), { stall: true }];
    await withScripted(
      [script],
      async (gw) => {
        const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'x' });
        assertSmtpFailure(r, 502, /protocol/i);
      },
      { env: { GATEWAY_SMTP_TIMEOUT: 5 } },
    );
  });

  const malformed = [
    ['no reply code', 'hello there\r\n', /protocol|malformed/i],
    ['a code with letters', '2x0 ok\r\n', /protocol|malformed/i],
    ['a code out of range', '999 what\r\n', undefined],
  ];
  for (const [label, greeting, re] of malformed) {
    it(`a greeting with ${label} → 502${re ? ', a protocol error' : ''}`, T, async () => {
      await withScripted([[say(greeting), { stall: true }]], async (gw) => {
        const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'x' });
        assertSmtpFailure(r, 502, re);
      }, { env: { GATEWAY_SMTP_TIMEOUT: 5 } });
    });
  }

  it('a multi-line reply whose lines disagree on the code → 502, a protocol error', T, async () => {
    const script = [
      say('220 scripted.test\r\n'),
      read(/^EHLO \S+$/, '250-scripted.test\r\n354 HELP\r\n'),
      { stall: true },
    ];
    await withScripted([script], async (gw) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'x' });
      assertSmtpFailure(r, 502, /protocol|malformed/i);
    }, { env: { GATEWAY_SMTP_TIMEOUT: 5 } });
  });

  it('the server drops the connection after RCPT → 502', T, async () => {
    const script = [
      say('220 scripted.test\r\n'),
      read(/^EHLO \S+$/, '250 scripted.test\r\n'),
      read('MAIL FROM:<a@example.com>', '250 ok\r\n'),
      read('RCPT TO:<b@example.com>', undefined),
      { destroy: true },
    ];
    await withScripted([script], async (gw, srv) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'x' });
      // Told that the link failed while it waited for the RCPT reply...
      assertSmtpFailure(r, 502, /closed the connection|reading from the SMTP server/i);
      // ... and nothing was sent after RCPT: no DATA, no message.
      const conn = srv.connections[0];
      assert.deepEqual(conn.lines.map((l) => l.replace(/^EHLO \S+/, 'EHLO')), [
        'EHLO\r\n',
        'MAIL FROM:<a@example.com>\r\n',
        'RCPT TO:<b@example.com>\r\n',
      ]);
      assert.doesNotMatch(conn.text, /DATA/);
    }, { env: { GATEWAY_SMTP_TIMEOUT: 5 } });
  });
});

describe('timeouts and connection failures', () => {
  const stalls = [
    ['before the greeting', [{ stall: true }]],
    ['after EHLO', [say('220 slow.test\r\n'), read(/^EHLO \S+$/, undefined), { stall: true }]],
    ['after RCPT', [
      say('220 slow.test\r\n'),
      read(/^EHLO \S+$/, '250 slow.test\r\n'),
      read(/^MAIL FROM:/, '250 ok\r\n'),
      read(/^RCPT TO:/, undefined),
      { stall: true },
    ]],
    ['after the final dot', [
      say('220 slow.test\r\n'),
      read(/^EHLO \S+$/, '250 slow.test\r\n'),
      read(/^MAIL FROM:/, '250 ok\r\n'),
      read(/^RCPT TO:/, '250 ok\r\n'),
      read('DATA', '354 go\r\n'),
      readData(undefined),
      { stall: true },
    ]],
  ];
  for (const [label, script] of stalls) {
    it(`a server that stalls ${label} → 504 with GATEWAY_SMTP_TIMEOUT=1`, T, async () => {
      await withScripted([script], async (gw, srv) => {
        const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'x' }, { timeoutMs: 30000 });
        if (label === 'after the final dot') {
          // The whole message went out and no verdict came: it may have
          // been delivered, so the outcome is unknown, never retried.
          assert.equal(r.status, 504, r.text);
          assert.equal(r.json.status, 'unknown', r.text);
          assert.match(r.json.error, /may have been delivered.*not sent again.*time/i);
          assert.equal(srv.connections.length, 1, 'not sent again');
        } else {
          assertSmtpFailure(r, 504, /time/i);
        }
        // The gateway gave up on that connection.
        await srv.waitForClose(0, 10000);
        const h = await send(gw, { from: 'a@example.com' });
        assert.equal(h.status, 400, 'still answering');
      }, { env: { GATEWAY_SMTP_TIMEOUT: 1 } });
    });
  }

  it('connection refused → 502', T, async () => {
    const port = await closedPort();
    const gw = await startGateway({ smtpPort: port, env: { GATEWAY_SMTP_IDLE_TIMEOUT: 0 } });
    try {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'x' });
      assertSmtpFailure(r, 502);
      assert.ok(r.json.error.length > 0);
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });
});

describe('concurrency', () => {
  it('a hung upstream connection does not delay another request (pool 2)', T, async () => {
    const release = gate();
    // The connection that carries MAIL FROM:<slow@...> stops answering
    // until released; every other connection answers at once.
    const script = () => holdingScript('slow@', release.promise);
    await withScripted(script, async (gw, srv) => {
      const order = [];
      const slow = send(gw, { from: 'slow@example.com', to: 'b@example.com', text: 'slow' }, { timeoutMs: 40000 }).then((r) => {
        order.push('slow');
        return r;
      });
      try {
        await srv.waitForLine(/^MAIL FROM:<slow@example\.com>/);
        const fast = await send(gw, { from: 'fast@example.com', to: 'b@example.com', text: 'fast' });
        order.push('fast');
        assert.equal(fast.status, 200, fast.text);
        assert.equal(fast.json.status, 'sent');
        assert.deepEqual(order, ['fast'], 'the second request finished while the first was still hanging');
      } finally {
        release.open();
      }
      const s = await slow;
      assert.equal(s.status, 200, s.text);
      assert.equal(s.json.status, 'sent');
      assert.deepEqual(order, ['fast', 'slow']);
    }, { env: { GATEWAY_SMTP_POOL: 2, GATEWAY_SMTP_TIMEOUT: 30 } });
  });

  it('no free upstream connection in time → 503 with Retry-After (pool 1)', T, async () => {
    // The first send holds the only connection: its server answers every
    // command 1.5 s late (well within the 4 s timeout) until the second
    // request has had its answer. Five late replies hold the connection
    // for 7.5 s, so the second request waits out its 4 s and gets 503.
    const secondDone = gate();
    const slowly = (reply) => async () => {
      await Promise.race([secondDone.promise, new Promise((r) => setTimeout(r, 1500))]);
      return reply;
    };
    const script = [
      say('220 busy.test ESMTP\r\n'),
      read(/^EHLO \S+$/, slowly('250 busy.test\r\n')),
      read(/^MAIL FROM:/, slowly('250 ok\r\n')),
      read(/^RCPT TO:/, slowly('250 ok\r\n')),
      read('DATA', slowly('354 go\r\n')),
      readData(slowly('250 queued\r\n')),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    await withScripted([script, script], async (gw, srv) => {
      const order = [];
      const first = send(gw, { from: 'first@example.com', to: 'b@example.com', text: '1' }, { timeoutMs: 40000 }).then((r) => {
        order.push('first');
        return r;
      });
      let second;
      try {
        await srv.waitForLine(/^EHLO /);
        second = await send(gw, { from: 'second@example.com', to: 'b@example.com', text: '2' }, { timeoutMs: 40000 });
        order.push('second');
      } finally {
        secondDone.open();
      }
      assert.equal(second.status, 503, second.text);
      assert.equal(second.json.status, 'failed');
      assert.equal(typeof second.json.error, 'string');
      assert.equal(second.json.retryable, true, 'nothing was sent: the same request may succeed later');
      assert.match(second.headers['retry-after'] || '', /^[1-9]\d*$/, 'Retry-After in whole seconds');
      const f = await first;
      assert.equal(f.status, 200, f.text);
      assert.deepEqual(order, ['second', 'first']);
      assert.equal(srv.connections.length, 1, 'the refused request never connected');
    }, { env: { GATEWAY_SMTP_POOL: 1, GATEWAY_SMTP_TIMEOUT: 4 } });
  });
});
