'use strict';
// Text that is not UTF-8, from the upstream or in a request, on its way
// into a JSON reply: a server's 8-bit reply to RCPT, to DATA or in its
// greeting, a raw message's 8-bit Message-ID, a path or a query value
// with a byte that is not UTF-8, and long multibyte text cut to fit.
// Each invalid sequence shows as U+FFFD, as a WHATWG decoder (a browser,
// node's TextDecoder) shows the same bytes; the reply says what became of
// the mail, and the server received it exactly once.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');

const { assertCleanRun, assertErrorReply, cleanupAll, rawRequest, request, send, startGateway } = require('./lib/gateway');
const { withScripted, send: say, read, readData, happyScript } = require('./lib/scripted');

const T = { timeout: 60000 };
const RAW = 'message/rfc822';

after(cleanupAll);

/* The bytes of `latin1`, a string of one character per byte: the
 * scripted server writes a reply given as a string in UTF-8. */
function bytes(latin1) {
  return Buffer.from(latin1, 'latin1');
}

/* What a WHATWG decoder makes of `latin1` (a string of bytes). */
function decoded(latin1) {
  return new TextDecoder('utf-8').decode(Buffer.from(latin1, 'latin1'));
}

/* The one connection's transcript had no surprise and exactly one DATA
 * body, ended by its dot. */
async function assertOneMessage(srv) {
  const conn = await srv.waitForClose(0);
  assert.deepEqual(conn.mismatches, [], `unexpected client lines:\n${conn.text}`);
  assert.equal(srv.connections.length, 1, 'one connection');
  assert.equal(conn.text.match(/^DATA\r\n/gm).length, 1, `one DATA:\n${conn.text}`);
  assert.equal(conn.text.match(/\r\n\.\r\n/g).length, 1, 'one final dot');
  return conn;
}

function postRaw(gw, query, body) {
  return request(gw, 'POST', `/v1/messages/raw?${query}`, { body: Buffer.from(body, 'latin1'), contentType: RAW });
}

describe('8-bit replies from the server', () => {
  it('a 250 to RCPT with 8-bit text: sent, the reply shown with U+FFFD', T, async () => {
    const reply = '250 2.1.5 ok Empf\xe4nger';
    await withScripted([happyScript({ from: 'a@example.com', rcpts: ['b@example.com'], rcptReply: bytes(`${reply}\r\n`) })], async (gw, srv) => {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'sent');
      assert.equal(r.json.error, null);
      assert.deepEqual(r.json.failed_send, []);
      assert.deepEqual(r.json.recipients, [
        { address: 'b@example.com', accepted: true, code: 250, enhanced_code: '2.1.5', reply: decoded(reply) },
      ]);
      assert.equal(r.json.recipients[0].reply, '250 2.1.5 ok Empf\ufffdnger');
      await assertOneMessage(srv);
    });
  });

  it('a 550 with 8-bit text and continue_after_bad_send: partial, every recipient listed', T, async () => {
    const refusal = '550 5.1.1 no Empf\xe4nger';
    const script = [
      say('220 scripted.test ESMTP\r\n'),
      read(/^EHLO \S+$/, '250 scripted.test\r\n'),
      read('MAIL FROM:<a@example.com>', '250 2.1.0 ok\r\n'),
      read('RCPT TO:<b@example.com>', '250 2.1.5 ok\r\n'),
      read('RCPT TO:<c@example.com>', bytes(`${refusal}\r\n`)),
      read('RCPT TO:<d@example.com>', '250 2.1.5 ok\r\n'),
      read('DATA', '354 go\r\n'),
      readData('250 2.0.0 queued\r\n'),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    await withScripted([script], async (gw, srv) => {
      const r = await send(gw, {
        from: 'a@example.com',
        to: ['b@example.com', 'c@example.com', 'd@example.com'],
        subject: 's',
        text: 't',
        options: { continue_after_bad_send: true },
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'partial');
      assert.deepEqual(r.json.failed_send, ['c@example.com']);
      assert.ok(r.json.error.includes('550 5.1.1 no Empf\ufffdnger'), r.json.error);
      assert.deepEqual(
        r.json.recipients.map((x) => [x.address, x.accepted, x.code, x.reply]),
        [
          ['b@example.com', true, 250, '250 2.1.5 ok'],
          ['c@example.com', false, 550, decoded(refusal)],
          ['d@example.com', true, 250, '250 2.1.5 ok'],
        ],
      );
      await assertOneMessage(srv);
    });
  });

  it('a raw message with an 8-bit Message-ID: sent, the id shown with U+FFFD', T, async () => {
    const script = [
      say('220 scripted.test ESMTP\r\n'),
      read(/^EHLO \S+$/, '250-scripted.test\r\n250 8BITMIME\r\n'),
      read('MAIL FROM:<a@example.com> BODY=8BITMIME', '250 2.1.0 ok\r\n'),
      read('RCPT TO:<b@example.com>', '250 2.1.5 ok\r\n'),
      read('DATA', '354 go\r\n'),
      readData('250 2.0.0 queued\r\n'),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    await withScripted([script], async (gw, srv) => {
      const msg = 'From: a@example.com\r\nTo: b@example.com\r\nMessage-ID: <caf\xe9@example.com>\r\nSubject: s\r\n\r\nbody\r\n';
      const r = await postRaw(gw, 'from=a@example.com&to=b@example.com', msg);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'sent');
      assert.equal(r.json.message_id, '<caf\ufffd@example.com>');
      assert.equal(r.json.recipients.length, 1);
      const conn = await assertOneMessage(srv);
      assert.ok(conn.text.includes('Message-ID: <caf\xe9@example.com>\r\n'), 'the message itself is relayed as given');
    });
  });

  it('replies too large to show in full: the outcome, each recipient, no reply texts', T, async () => {
    // Four recipients whose 250 is 64 lines of 8-bit text: as JSON
    // (\ufffd per byte) that is over the gateway's limit of 1 MiB.
    const line = '\xe9'.repeat(1000);
    const big = `${'250-'.concat(line, '\r\n').repeat(63)}250 ${line}\r\n`;
    const rcpts = ['b@example.com', 'c@example.com', 'd@example.com', 'e@example.com'];
    await withScripted([happyScript({ from: 'a@example.com', rcpts, rcptReply: bytes(big) })], async (gw, srv) => {
      const r = await send(gw, { from: 'a@example.com', to: rcpts, subject: 's', text: 't' });
      assert.equal(r.status, 200, r.text.slice(0, 500));
      assert.equal(r.json.status, 'sent');
      assert.deepEqual(r.json.failed_send, []);
      assert.match(r.json.error, /too large/);
      assert.deepEqual(
        r.json.recipients.map((x) => [x.address, x.accepted, x.code]),
        rcpts.map((a) => [a, true, 250]),
      );
      assert.match(r.json.message_id, /^<.+@.+>$/);
      await assertOneMessage(srv);
    });
  });

  it('verify against an 8-bit greeting: 200, the greeting shown with U+FFFD', T, async () => {
    const greeting = '220 gr\xfc\xdf dich';
    const script = [
      say(`${greeting}\r\n`),
      read(/^EHLO \S+$/, bytes('250-scripted.test\r\n250 AUTH PL\xc4IN LOGIN\r\n')),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    await withScripted([script], async (gw, srv) => {
      const r = await request(gw, 'POST', '/v1/credentials/default/verify');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.ok, true, r.text);
      assert.equal(r.json.server.greeting, decoded(greeting));
      assert.ok(r.json.server.greeting.includes('gr\ufffd\ufffd dich'), r.json.server.greeting);
      assert.deepEqual(r.json.server.auth, ['PL\ufffdIN', 'LOGIN']);
      const conn = await srv.waitForClose(0);
      assert.deepEqual(conn.mismatches, []);
    });
  });
});

describe('request text that is not UTF-8', () => {
  let gw;
  after(async () => {
    if (gw) {
      await gw.stop();
      assertCleanRun(gw);
    }
  });

  it('GET /\\xff and GET /%ff: a 404 in JSON', T, async () => {
    gw = await startGateway();
    for (const p of [Buffer.from([0x2f, 0xff]), Buffer.from('/%ff')]) {
      const head = Buffer.concat([Buffer.from('GET '), p, Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]);
      const r = await rawRequest(gw, head, { contract: false });
      assertErrorReply(r, 404, null);
      assert.equal(r.json.error, 'no such path: /\ufffd');
    }
  });

  it('?credential=%ff on a raw send: a 400 naming credential', T, async () => {
    const r = await postRaw(gw, 'credential=%ff&from=a@example.com&to=b@example.com', 'From: a@example.com\r\n\r\nx');
    assertErrorReply(r, 400, 'credential');
  });

  it('a 300-character multibyte credential name: 400 in a query or a body, 404 in a path', T, async () => {
    const name = '\u00e9'.repeat(300);
    const q = await postRaw(gw, `credential=${encodeURIComponent(name)}&from=a@example.com&to=b@example.com`, 'x');
    assertErrorReply(q, 400, 'credential');
    const b = await send(gw, { credential: name, from: 'a@example.com', to: 'b@example.com', text: 't' });
    assertErrorReply(b, 400, 'credential');
    const p = await request(gw, 'GET', `/v1/credentials/${encodeURIComponent(name)}`);
    assertErrorReply(p, 404, null);
  });

  it('a long multibyte error text is cut on a character boundary', T, async () => {
    // An odd offset, so that a cut at the byte limit falls inside a character.
    const path = `/x${'\u00e9'.repeat(400)}`;
    const r = await request(gw, 'GET', encodeURI(path), { contract: false });
    assertErrorReply(r, 404, null);
    const full = `no such path: ${path}`;
    const shown = r.json.error;
    assert.ok(shown.endsWith('...'), shown);
    assert.ok(!shown.includes('\ufffd'), 'no character cut in half');
    assert.ok(full.startsWith(shown.slice(0, -3)), 'a prefix of the whole text');
    assert.ok(Buffer.byteLength(shown) <= 511 && Buffer.byteLength(shown) >= 505, `${Buffer.byteLength(shown)} bytes`);
  });
});
