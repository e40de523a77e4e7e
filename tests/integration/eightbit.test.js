'use strict';
// options.allow_8bit: text parts go 8bit (BODY=8BITMIME) to a server that
// offers 8BITMIME, and the same message goes in 7-bit encodings, without
// BODY=, to one that does not; nothing is ever sent 8-bit to the latter.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');

const { assertCleanRun, cleanupAll, send, startGateway } = require('./lib/gateway');
const { startSmtpServer } = require('./lib/smtpserver');

const T = { timeout: 30000 };

after(cleanupAll);

const TEXT = 'Grüße aus Köln — 東京\n';
const MSG = { from: 'a@example.com', to: 'b@example.com', subject: '8bit', text: TEXT, html: `<p>${TEXT}</p>` };

/* The Content-Transfer-Encoding of every part of a raw message. */
function encodings(raw) {
  return [...raw.toString('latin1').matchAll(/^Content-Transfer-Encoding: (\S+)/gim)].map((m) => m[1].toLowerCase());
}

async function sendTo(serverOptions, options) {
  const smtp = await startSmtpServer({ serverOptions });
  const gw = await startGateway({ smtpPort: smtp.port });
  try {
    const r = await send(gw, { ...MSG, options });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'sent');
    const [m] = await smtp.waitForMessages(1);
    assert.equal(smtp.transactions.length, 1, 'one message delivered');
    assert.equal(m.parsed.text, TEXT, 'the text reads back exactly');
    return m;
  } finally {
    await gw.stop();
    await smtp.close();
    assertCleanRun(gw);
  }
}

describe('8bit bodies (options.allow_8bit)', () => {
  it('to a server offering 8BITMIME: 8bit parts and BODY=8BITMIME', T, async () => {
    const m = await sendTo({}, { allow_8bit: true });
    assert.equal(m.envelope.mailFromArgs.BODY, '8BITMIME');
    // The multipart itself is 8bit too, holding 8bit parts (RFC 2045 6.4).
    assert.deepEqual(encodings(m.raw), ['8bit', '8bit', '8bit']);
    assert.ok(m.raw.includes(Buffer.from('Grüße aus Köln')), 'raw UTF-8 in the body');
  });

  it('to a server without 8BITMIME: composed again as quoted-printable, no BODY=', T, async () => {
    const m = await sendTo({ hide8BITMIME: true }, { allow_8bit: true });
    assert.equal(m.envelope.mailFromArgs.BODY, undefined);
    assert.deepEqual(encodings(m.raw), ['7bit', 'quoted-printable', 'quoted-printable']);
    assert.ok(!/[\x80-\xff]/.test(m.raw.toString('latin1')), 'no 8-bit byte on the wire');
  });

  it('without the option: quoted-printable even where 8BITMIME is offered', T, async () => {
    const m = await sendTo({}, undefined);
    assert.equal(m.envelope.mailFromArgs.BODY, undefined);
    assert.deepEqual(encodings(m.raw), ['7bit', 'quoted-printable', 'quoted-printable']);
  });
});
