'use strict';
// Sending through a real SMTP server (smtp-server) and reading back what
// arrived with mailparser: headers field by field, envelopes, non-ASCII,
// Bcc, de-duplication, the %Net.SMTP refusal semantics, time zones, AUTH.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { assertCleanRun, cleanupAll, randomSecret, send, startGateway } = require('./lib/gateway');
const { startSmtpServer } = require('./lib/smtpserver');

const T = { timeout: 30000 };

after(cleanupAll);

const BAD = 'bad@example.com';
const BAD_TEXT = '5.1.1 Mailbox bad@example.com unavailable here';
const WORSE = 'worse@example.net';
const WORSE_TEXT = '5.7.1 Relaying denied for worse';

/* The header section of a raw message, as text. */
function headerSection(raw) {
  const s = raw.toString('latin1');
  const i = s.indexOf('\r\n\r\n');
  assert.ok(i > 0, 'the message has a header section ended by an empty line');
  return s.slice(0, i + 2);
}

/* The unfolded value of the one header `name` in the raw message. */
function rawHeader(raw, name) {
  const unfolded = headerSection(raw).replace(/\r\n(?=[ \t])/g, '');
  const re = new RegExp(`^${name}:[ \\t]*(.*)$`, 'gim');
  const found = [...unfolded.matchAll(re)].map((m) => m[1].replace(/\r$/, ''));
  return found;
}

/* Line-level checks every message must pass. */
function assertWellFormed(raw) {
  const s = raw.toString('latin1');
  assert.ok(!/[^\r]\n|^\n/.test(s), 'no bare LF in the message');
  assert.ok(!/\r(?!\n)/.test(s), 'no bare CR in the message');
  for (const line of s.split('\r\n')) {
    assert.ok(Buffer.byteLength(line, 'latin1') <= 998, `a line of ${line.length} bytes`);
  }
}

/* Decodes RFC 2047 encoded-words (UTF-8, B or Q) in an unstructured
 * header value; mailparser leaves unknown headers as they are. */
function decodeWords(v) {
  const word = /=\?utf-8\?([bq])\?([^?]*)\?=/gi;
  // A run of encoded-words (the space between them does not count) is
  // decoded to bytes as a whole, then read as UTF-8.
  return v.replace(/=\?utf-8\?[bq]\?[^?]*\?=(?:\s+=\?utf-8\?[bq]\?[^?]*\?=)*/gi, (run) => {
    const bytes = [];
    for (const [, enc, text] of run.matchAll(word)) {
      if (enc.toLowerCase() === 'b') bytes.push(Buffer.from(text, 'base64'));
      else {
        const t = text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
        bytes.push(Buffer.from(t, 'latin1'));
      }
    }
    return Buffer.concat(bytes).toString('utf8');
  });
}

function stripNl(s) {
  return typeof s === 'string' ? s.replace(/\r?\n$/, '') : s;
}

/* Asserts the send reply shape and returns the JSON. */
function assertSendReply(r, httpStatus, status) {
  assert.equal(r.status, httpStatus, `HTTP status; body: ${r.text}`);
  const j = r.json;
  assert.ok(j && typeof j === 'object', `a JSON reply, got ${r.text}`);
  assert.equal(j.status, status, r.text);
  assert.ok(Array.isArray(j.failed_send), `failed_send is an array: ${r.text}`);
  assert.ok(Array.isArray(j.recipients), `recipients is an array: ${r.text}`);
  assert.equal(typeof j.message_id, 'string', r.text);
  assert.match(j.message_id, /^<[^<>\s@]+@[^<>\s@]+>$/, 'message_id is <local@domain>');
  for (const rc of j.recipients) {
    assert.equal(typeof rc.address, 'string');
    assert.equal(typeof rc.accepted, 'boolean');
    assert.ok(rc.code === null || Number.isInteger(rc.code), `code int|null: ${JSON.stringify(rc)}`);
    assert.ok(rc.reply === null || typeof rc.reply === 'string', `reply string|null: ${JSON.stringify(rc)}`);
  }
  if (status === 'sent') assert.equal(j.error, null, 'error is null when sent');
  else assert.ok(j.error === null || typeof j.error === 'string');
  return j;
}

function assertAccepted(rc, address) {
  assert.equal(rc.address, address);
  assert.equal(rc.accepted, true, JSON.stringify(rc));
  assert.equal(rc.code, 250, JSON.stringify(rc));
  assert.match(rc.reply, /Accepted/, 'the server\'s own reply text');
}

describe('sending through smtp-server', () => {
  let smtp;
  let gw;

  before(async () => {
    smtp = await startSmtpServer({
      rejectRcpt: {
        [BAD]: { code: 550, message: BAD_TEXT },
        [WORSE]: { code: 553, message: WORSE_TEXT },
      },
    });
    gw = await startGateway({ smtpPort: smtp.port });
  });

  after(async () => {
    if (gw) await gw.stop();
    if (smtp) await smtp.close();
  });

  /* Sends and returns [reply json, the new transaction or null]. */
  async function sendAndReceive(body, httpStatus = 200, status = 'sent') {
    const n = smtp.transactions.length;
    const r = await send(gw, body);
    const j = assertSendReply(r, httpStatus, status);
    let m = null;
    if (status !== 'failed') {
      const msgs = await smtp.waitForMessages(n + 1);
      assert.equal(msgs.length, n + 1, 'exactly one message per send');
      m = msgs[n];
      assert.ok(m.parsed, 'mailparser could parse the message');
      assertWellFormed(m.raw);
    } else {
      assert.equal(smtp.transactions.length, n, 'no message may be taken when the send failed');
    }
    return [j, m];
  }

  it('a full message arrives field by field', T, async () => {
    const body = {
      from: 'Alice Sender <alice@example.com>',
      to: ['Bob Receiver <bob@example.com>', { name: 'Carol Q', address: 'carol@example.org' }],
      cc: 'dave@example.net',
      bcc: ['Eve Hidden <eve@example.com>'],
      reply_to: { name: 'Help Desk', address: 'help@example.com' },
      subject: 'Quarterly report',
      text: 'Hello Bob,\nthe numbers are in.\n\n-- \nAlice\n',
      html: '<p>Hello <b>Bob</b>,</p><p>the numbers are in.</p>',
      headers: { 'X-Campaign': 'q3-2024', 'X-Ticket': 'T-1234' },
    };
    const [j, m] = await sendAndReceive(body);

    // The reply.
    assert.deepEqual(j.failed_send, []);
    assert.deepEqual(
      j.recipients.map((r) => r.address),
      ['bob@example.com', 'carol@example.org', 'dave@example.net', 'eve@example.com'],
      'recipients in envelope order: to, cc, bcc',
    );
    for (const rc of j.recipients) assertAccepted(rc, rc.address);

    // The envelope.
    assert.equal(m.envelope.mailFrom, 'alice@example.com');
    assert.deepEqual(m.envelope.rcptTo, ['bob@example.com', 'carol@example.org', 'dave@example.net', 'eve@example.com']);

    // The headers, as a mail client reads them.
    const p = m.parsed;
    assert.deepEqual(p.from.value, [{ address: 'alice@example.com', name: 'Alice Sender' }]);
    assert.deepEqual(p.to.value, [
      { address: 'bob@example.com', name: 'Bob Receiver' },
      { address: 'carol@example.org', name: 'Carol Q' },
    ]);
    assert.deepEqual(p.cc.value, [{ address: 'dave@example.net', name: '' }]);
    assert.deepEqual(p.replyTo.value, [{ address: 'help@example.com', name: 'Help Desk' }]);
    assert.equal(p.subject, 'Quarterly report');
    assert.equal(p.headers.get('x-campaign'), 'q3-2024');
    assert.equal(p.headers.get('x-ticket'), 'T-1234');
    assert.equal(p.headers.get('mime-version'), '1.0');

    // Bcc: in the envelope, never in the headers.
    assert.equal(p.bcc, undefined, 'no Bcc header by default');
    assert.deepEqual(rawHeader(m.raw, 'Bcc'), []);
    assert.doesNotMatch(headerSection(m.raw), /eve@example\.com/i, 'the Bcc address appears nowhere in the headers');

    // Date and Message-ID.
    assert.equal(rawHeader(m.raw, 'Date').length, 1, 'exactly one Date header');
    assert.equal(rawHeader(m.raw, 'Message-ID').length, 1, 'exactly one Message-ID header');
    assert.equal(p.messageId, j.message_id, 'message_id in the reply is the Message-ID header');
    assert.ok(p.date instanceof Date && !Number.isNaN(p.date.getTime()), 'a parseable Date');
    assert.ok(Math.abs(p.date.getTime() - Date.now()) < 24 * 3600 * 1000, `Date is today: ${p.date.toISOString()}`);

    // The body: text and html as alternatives.
    assert.equal(p.headers.get('content-type').value, 'multipart/alternative');
    assert.equal(stripNl(p.text), stripNl(body.text));
    assert.equal(stripNl(p.html), stripNl(body.html));
  });

  it('two sends get different Message-IDs', T, async () => {
    const [a] = await sendAndReceive({ from: 'a@example.com', to: 'b@example.com', text: '1' });
    const [b] = await sendAndReceive({ from: 'a@example.com', to: 'b@example.com', text: '2' });
    assert.notEqual(a.message_id, b.message_id);
  });

  it('text only is text/plain; html only is text/html', T, async () => {
    const [, t] = await sendAndReceive({ from: 'a@example.com', to: 'b@example.com', subject: 'plain', text: 'just text' });
    assert.equal(t.parsed.headers.get('content-type').value, 'text/plain');
    assert.equal(stripNl(t.parsed.text), 'just text');
    assert.equal(t.parsed.html, false);
    const [, h] = await sendAndReceive({ from: 'a@example.com', to: 'b@example.com', subject: 'html', html: '<p>only <i>html</i></p>' });
    assert.equal(h.parsed.headers.get('content-type').value, 'text/html');
    assert.equal(stripNl(h.parsed.html), '<p>only <i>html</i></p>');
  });

  it('show_bcc: true writes the Bcc header', T, async () => {
    const [j, m] = await sendAndReceive({
      from: 'a@example.com',
      to: 'b@example.com',
      bcc: ['Eve Hidden <eve@example.com>', 'frank@example.org'],
      subject: 'with bcc',
      text: 'x',
      options: { show_bcc: true },
    });
    assert.deepEqual(m.envelope.rcptTo, ['b@example.com', 'eve@example.com', 'frank@example.org']);
    assert.deepEqual(j.recipients.map((r) => r.address), ['b@example.com', 'eve@example.com', 'frank@example.org']);
    assert.ok(m.parsed.bcc, 'a Bcc header with show_bcc');
    assert.deepEqual(m.parsed.bcc.value, [
      { address: 'eve@example.com', name: 'Eve Hidden' },
      { address: 'frank@example.org', name: '' },
    ]);
  });

  it('bcc-only recipients: delivered, no To/Cc/Bcc written', T, async () => {
    const [, m] = await sendAndReceive({ from: 'a@example.com', bcc: 'hidden@example.com', subject: 'bcc only', text: 'x' });
    assert.deepEqual(m.envelope.rcptTo, ['hidden@example.com']);
    assert.doesNotMatch(headerSection(m.raw), /hidden@example\.com/);
  });

  it('quoted and tricky display names survive', T, async () => {
    const [, m] = await sendAndReceive({
      from: '"Doe, Jane" <jane@example.com>',
      to: [{ name: 'Bob "The Builder" O\'Neil', address: 'bob@example.com' }, { name: 'Smith; John (Sales)', address: 'john@example.com' }],
      subject: 'names',
      text: 'x',
    });
    assert.deepEqual(m.parsed.from.value, [{ address: 'jane@example.com', name: 'Doe, Jane' }]);
    assert.deepEqual(m.parsed.to.value, [
      { address: 'bob@example.com', name: 'Bob "The Builder" O\'Neil' },
      { address: 'john@example.com', name: 'Smith; John (Sales)' },
    ]);
    assert.deepEqual(m.envelope.rcptTo, ['bob@example.com', 'john@example.com']);
  });

  it('non-ASCII names, subject, header and body round-trip as RFC 2047 / MIME', T, async () => {
    const subject = '会議の議事録 — 第3四半期の売上報告と来期の計画について (Zoë Ünal, Grüße)';
    const body = {
      from: 'Zoë Ünal <zoe@example.com>',
      to: [{ name: '山田 太郎', address: 'taro@example.jp' }],
      subject,
      text: 'Grüße aus Köln — 日本語のテキスト\nzweite Zeile\n',
      html: '<p>Grüße — 日本語</p>',
      headers: { 'X-Note': 'café crème' },
    };
    const [, m] = await sendAndReceive(body);
    const p = m.parsed;
    assert.deepEqual(p.from.value, [{ address: 'zoe@example.com', name: 'Zoë Ünal' }]);
    assert.deepEqual(p.to.value, [{ address: 'taro@example.jp', name: '山田 太郎' }]);
    assert.equal(p.subject, subject);
    assert.equal(decodeWords(p.headers.get('x-note')), 'café crème');
    assert.equal(stripNl(p.text), stripNl(body.text));
    assert.equal(stripNl(p.html), stripNl(body.html));
    // With header encoding allowed (the default) the header section is
    // plain ASCII, and long encoded subjects are folded.
    const head = headerSection(m.raw);
    assert.ok(!/[\x80-\xff]/.test(head), 'headers are 7-bit with allow_header_encoding');
    assert.match(head, /=\?utf-8\?[bq]\?/i, 'encoded-words are used');
    for (const line of head.split('\r\n')) {
      assert.ok(line.length <= 78 || !/=\?/.test(line), `an encoded header line over 78: ${line}`);
    }
    assert.equal(m.envelope.smtpUtf8, false, 'no SMTPUTF8 needed for encoded headers');
  });

  it('allow_header_encoding: false writes raw UTF-8 headers and asks for SMTPUTF8', T, async () => {
    const [, m] = await sendAndReceive({
      from: 'Zoë Ünal <zoe@example.com>',
      to: 'taro@example.jp',
      subject: 'Grüße 日本',
      text: 'x',
      options: { allow_header_encoding: false },
    });
    const head = Buffer.from(headerSection(m.raw), 'latin1');
    assert.ok(head.includes(Buffer.from('Subject: Grüße 日本', 'utf8')), 'the Subject in raw UTF-8');
    assert.ok(head.includes(Buffer.from('Zoë Ünal', 'utf8')), 'the display name in raw UTF-8');
    assert.doesNotMatch(head.toString('latin1'), /=\?utf-8\?/i, 'no encoded-words');
    assert.equal(m.envelope.smtpUtf8, true, 'MAIL FROM ... SMTPUTF8');
  });

  it('recipients are de-duplicated (domain case-insensitive) in envelope order', T, async () => {
    const tries = smtp.rcptAttempts.length;
    const [j] = await sendAndReceive({
      from: 'a@example.com',
      to: ['dup@example.com', 'Dup Again <dup@EXAMPLE.com>', 'Dup@example.com'],
      cc: ['dup@Example.Com', 'carol@example.com'],
      bcc: ['carol@EXAMPLE.COM', 'eve@example.com', 'dup@example.com'],
      subject: 'dedup',
      text: 'x',
    });
    const expected = ['dup@example.com', 'Dup@example.com', 'carol@example.com', 'eve@example.com'];
    // smtp-server itself merges envelope addresses without regard to case,
    // so judge by the RCPT TO commands it saw.
    assert.deepEqual(smtp.rcptAttempts.slice(tries), expected, 'one RCPT per mailbox; local parts keep their case');
    assert.deepEqual(j.recipients.map((r) => r.address), expected);
  });

  it('continue_after_bad_send false: the first refusal stops the send (502)', T, async () => {
    const tries = smtp.rcptAttempts.length;
    const transactions = smtp.transactions.length;
    const [j] = await sendAndReceive(
      { from: 'a@example.com', to: ['ok1@example.com', BAD, 'ok2@example.com'], subject: 'stop', text: 'x' },
      502,
      'failed',
    );
    assert.deepEqual(j.failed_send, [BAD], 'the refused address alone');
    assert.equal(typeof j.error, 'string');
    assert.ok(j.error.includes('550') && j.error.includes('unavailable here'), `the server's reply in error: ${j.error}`);
    assert.equal(j.recipients.length, 3);
    assertAccepted(j.recipients[0], 'ok1@example.com');
    assert.deepEqual(
      { ...j.recipients[1], reply: undefined, enhanced_code: undefined },
      { address: BAD, accepted: false, code: 550, reply: undefined, enhanced_code: undefined },
    );
    assert.ok(j.recipients[1].reply.includes('unavailable here'), j.recipients[1].reply);
    // smtp-server offers PIPELINING, so every RCPT went out in one batch
    // with MAIL FROM and was answered, and the reply says what the server
    // said to each; the refusal still stops the send: RSET, no DATA.
    assertAccepted(j.recipients[2], 'ok2@example.com');
    assert.deepEqual(smtp.rcptAttempts.slice(tries), ['ok1@example.com', BAD, 'ok2@example.com']);
    assert.equal(smtp.transactions.length, transactions, 'no message was delivered');
  });

  it('continue_after_bad_send true: refused addresses in failed_send, the rest delivered (partial)', T, async () => {
    const [j, m] = await sendAndReceive(
      {
        from: 'a@example.com',
        to: ['ok1@example.com', BAD],
        cc: 'ok2@example.com',
        bcc: WORSE,
        subject: 'partial',
        text: 'partial body',
        options: { continue_after_bad_send: true },
      },
      200,
      'partial',
    );
    assert.deepEqual(j.failed_send, [BAD, WORSE]);
    assert.deepEqual(j.recipients.map((r) => [r.address, r.accepted, r.code]), [
      ['ok1@example.com', true, 250],
      [BAD, false, 550],
      ['ok2@example.com', true, 250],
      [WORSE, false, 553],
    ]);
    assert.ok(j.recipients[3].reply.includes('Relaying denied'), j.recipients[3].reply);
    assert.deepEqual(m.envelope.rcptTo, ['ok1@example.com', 'ok2@example.com'], 'delivered to the accepted ones only');
    assert.equal(stripNl(m.parsed.text), 'partial body');
    // The headers are those of the message as asked for.
    assert.deepEqual(m.parsed.to.value.map((a) => a.address), ['ok1@example.com', BAD]);
    assert.equal(m.parsed.bcc, undefined);
  });

  it('continue_after_bad_send true with every recipient refused: failed, 502, no DATA', T, async () => {
    const tries = smtp.rcptAttempts.length;
    const [j] = await sendAndReceive(
      { from: 'a@example.com', to: [BAD, WORSE], subject: 'none', text: 'x', options: { continue_after_bad_send: true } },
      502,
      'failed',
    );
    assert.deepEqual(j.failed_send, [BAD, WORSE]);
    assert.deepEqual(j.recipients.map((r) => [r.address, r.accepted, r.code]), [
      [BAD, false, 550],
      [WORSE, false, 553],
    ]);
    assert.deepEqual(smtp.rcptAttempts.slice(tries), [BAD, WORSE]);
    assert.equal(typeof j.error, 'string');
    assert.ok(j.error.length > 0);
  });

  it('a single refused recipient without continue: failed, 502', T, async () => {
    const [j] = await sendAndReceive({ from: 'a@example.com', to: WORSE, text: 'x' }, 502, 'failed');
    assert.deepEqual(j.failed_send, [WORSE]);
    assert.ok(j.error.includes('553') && j.error.includes('Relaying denied'), j.error);
  });

  const zones = [
    [undefined, '+0000'],
    ['UT', '+0000'],
    ['GMT', '+0000'],
    ['EST', '-0500'],
    ['EDT', '-0400'],
    ['CST', '-0600'],
    ['MDT', '-0600'],
    ['PST', '-0800'],
    ['PDT', '-0700'],
    ['+0530', '+0530'],
    ['-1130', '-1130'],
    ['+0000', '+0000'],
  ];
  for (const [tz, suffix] of zones) {
    it(`timezone ${tz === undefined ? '(default)' : tz} → Date in ${suffix}`, T, async () => {
      const body = { from: 'a@example.com', to: 'b@example.com', subject: `tz ${tz}`, text: 'x' };
      if (tz !== undefined) body.options = { timezone: tz };
      const [, m] = await sendAndReceive(body);
      const [date] = rawHeader(m.raw, 'Date');
      assert.match(
        date,
        /^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/,
        `an RFC 5322 date: ${date}`,
      );
      assert.ok(date.endsWith(' ' + suffix), `Date ${date} should end in ${suffix}`);
      // The wall-clock time matches the zone: the instant is now.
      const t = Date.parse(date);
      assert.ok(Math.abs(t - Date.now()) < 3600 * 1000, `Date ${date} is not now in its zone`);
    });
  }

  it('exits 0 on SIGTERM and never logged a secret', T, async () => {
    const exit = await gw.stop();
    assert.equal(exit.code, 0, gw.stderr());
    assertCleanRun(gw);
  });
});

describe('message bodies through smtp-server', () => {
  let smtp;
  let gw;
  before(async () => {
    smtp = await startSmtpServer();
    gw = await startGateway({ smtpPort: smtp.port });
  });
  after(async () => {
    if (gw) await gw.stop();
    if (smtp) await smtp.close();
  });

  it('lines starting with dots, long lines and mixed line ends round-trip', T, async () => {
    const long = 'L'.repeat(3000);
    const text = '.starts with a dot\n..two dots\n.\nmiddle\r\nwindows line\n' + long + '\nend';
    const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', subject: 'body', text });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'sent');
    const [m] = await smtp.waitForMessages(1);
    assertWellFormed(m.raw);
    assert.equal(stripNl(m.parsed.text), text.replace(/\r\n/g, '\n'));
    await gw.stop();
    assertCleanRun(gw);
  });

  it('a timezone of LOCAL uses the gateway\'s TZ', T, async () => {
    // POSIX TZ "XST3:30" is 3 h 30 west of UTC, no zone database needed.
    const smtp2 = await startSmtpServer();
    let gw2;
    try {
      gw2 = await startGateway({ smtpPort: smtp2.port, env: { TZ: 'XST3:30' } });
      const r = await send(gw2, { from: 'a@example.com', to: 'b@example.com', text: 'x', options: { timezone: 'LOCAL' } });
      assert.equal(r.status, 200, r.text);
      const [m] = await smtp2.waitForMessages(1);
      const [date] = rawHeader(m.raw, 'Date');
      assert.ok(date.endsWith(' -0330'), `Date ${date} should end in -0330`);
      assert.ok(Math.abs(Date.parse(date) - Date.now()) < 3600 * 1000, `Date ${date} is not now`);
      // And UT is still UT on that machine.
      const r2 = await send(gw2, { from: 'a@example.com', to: 'b@example.com', text: 'y' });
      assert.equal(r2.status, 200, r2.text);
      const msgs = await smtp2.waitForMessages(2);
      assert.ok(rawHeader(msgs[1].raw, 'Date')[0].endsWith(' +0000'));
    } finally {
      if (gw2) await gw2.stop();
      await smtp2.close();
    }
    assertCleanRun(gw2);
  });
});

describe('upstream refusals other than RCPT', () => {
  it('MAIL FROM refused → 502 failed with the reply, no RCPT tried', T, async () => {
    const smtp = await startSmtpServer({ rejectMail: { code: 553, message: '5.7.1 Sender address rejected: not owned' } });
    let gw;
    try {
      gw = await startGateway({ smtpPort: smtp.port });
      const r = await send(gw, { from: 'a@example.com', to: ['b@example.com', 'c@example.com'], text: 'x' });
      const j = assertSendReply(r, 502, 'failed');
      assert.ok(j.error.includes('553') && j.error.includes('Sender address rejected'), j.error);
      assert.deepEqual(smtp.rcptAttempts, []);
      assert.deepEqual(j.recipients.map((x) => [x.address, x.accepted, x.code, x.reply]), [
        ['b@example.com', false, null, null],
        ['c@example.com', false, null, null],
      ]);
      assert.equal(smtp.transactions.length, 0);
    } finally {
      if (gw) await gw.stop();
      await smtp.close();
    }
    assertCleanRun(gw);
  });

  it('the message refused after DATA → 502 failed with the reply', T, async () => {
    const smtp = await startSmtpServer({ rejectData: { code: 554, message: '5.7.1 Message rejected as spam' } });
    let gw;
    try {
      gw = await startGateway({ smtpPort: smtp.port });
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'buy now' });
      const j = assertSendReply(r, 502, 'failed');
      assert.ok(j.error.includes('554') && j.error.includes('rejected as spam'), j.error);
      assert.deepEqual(smtp.rcptAttempts, ['b@example.com'], 'RCPT was accepted');
    } finally {
      if (gw) await gw.stop();
      await smtp.close();
    }
    assertCleanRun(gw);
  });
});

// AUTH over plain TCP: smtp-server here offers PLAIN and LOGIN without
// TLS, which the gateway only uses with allow_plaintext_auth (auth.test.js
// covers TLS, every mechanism and the refusals).
const AUTH = T;
const PLAINTEXT_AUTH = { GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH: 'true' };

describe('SMTP AUTH', () => {
  it('authenticates with GATEWAY_SMTP_USERNAME/PASSWORD and never logs the password', AUTH, async () => {
    const password = randomSecret('pw_');
    const smtp = await startSmtpServer({ auth: { username: 'gwuser', password } });
    let gw;
    try {
      gw = await startGateway({
      smtpPort: smtp.port,
      password,
      env: { GATEWAY_SMTP_USERNAME: 'gwuser', ...PLAINTEXT_AUTH },
      secrets: [
        Buffer.from(`\0gwuser\0${password}`).toString('base64'), // AUTH PLAIN
        Buffer.from(password).toString('base64'), // AUTH LOGIN
      ],
    });
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', subject: 'authed', text: 'x' });
      assertSendReply(r, 200, 'sent');
      const [m] = await smtp.waitForMessages(1);
      assert.equal(m.user, 'gwuser', 'the message came over an authenticated session');
      assert.equal(m.parsed.subject, 'authed');
      assert.deepEqual(smtp.authAttempts.map((a) => a.ok), [true]);
    } finally {
      if (gw) await gw.stop();
      await smtp.close();
    }
    assertCleanRun(gw);
  });

  it('a wrong password → 502 failed with the 535 reply, nothing sent, password not logged', AUTH, async () => {
    const password = randomSecret('pw_');
    const smtp = await startSmtpServer({ auth: { username: 'gwuser', password: 'the-right-one' } });
    let gw;
    try {
      gw = await startGateway({
      smtpPort: smtp.port,
      password,
      env: { GATEWAY_SMTP_USERNAME: 'gwuser', ...PLAINTEXT_AUTH },
      secrets: [Buffer.from(`\0gwuser\0${password}`).toString('base64'), Buffer.from(password).toString('base64')],
    });
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'x' });
      assert.equal(r.status, 502, r.text);
      assert.equal(r.json.status, 'failed');
      assert.ok(r.json.error.includes('535'), r.json.error);
      assert.ok(!r.text.includes(password), 'the password is not in the reply');
      assert.equal(smtp.transactions.length, 0);
      assert.deepEqual(smtp.mailFromAttempts, [], 'no MAIL FROM after failed AUTH');
    } finally {
      if (gw) await gw.stop();
      await smtp.close();
    }
    assertCleanRun(gw);
  });
});
