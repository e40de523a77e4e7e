'use strict';
// POST /v1/messages/raw: a complete message relayed as given, streamed to
// a real SMTP server (smtp-server); what arrives is compared byte for
// byte with what was posted, and a message that is bad or cut short must
// never be delivered.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const net = require('node:net');

const { assertCleanRun, cleanupAll, request, sleep, startGateway } = require('./lib/gateway');
const { startSmtpServer } = require('./lib/smtpserver');
const { happyScript, startScripted } = require('./lib/scripted');

const T = { timeout: 30000 };

after(cleanupAll);

const RAW = 'message/rfc822';

function postRaw(gw, query, body, opts = {}) {
  return request(gw, 'POST', `/v1/messages/raw?${query}`, {
    body: Buffer.from(body),
    contentType: opts.contentType === undefined ? RAW : opts.contentType,
  });
}

/* A message with CRLF line ends, as it should arrive. */
function crlf(text) {
  return text.replace(/\r?\n/g, '\r\n');
}

describe('POST /v1/messages/raw', () => {
  let smtp;
  let gw;

  before(async () => {
    smtp = await startSmtpServer({
      rejectRcpt: { 'bad@example.com': { code: 550, message: '5.1.1 no such user' } },
    });
    gw = await startGateway({ smtpPort: smtp.port, env: { GATEWAY_MAX_BODY: '8M' } });
  });

  after(async () => {
    await gw.stop();
    await smtp.close();
    assertCleanRun(gw);
  });

  it('relays the message as given, without its Bcc header, to the query envelope', T, async () => {
    const n = smtp.transactions.length;
    const message =
      'From: Ada <ada@example.com>\n' +
      'To: bob@example.com\n' +
      'Bcc: hidden@example.com,\n' +
      '  also-hidden@example.com\n' +
      'Subject: raw relay\n' +
      'Message-ID: <raw.1@example.com>\n' +
      '\n' +
      '.a line that starts with a dot\n' +
      '.\n' +
      'Bcc: in the body this is only text\n';
    const r = await postRaw(
      gw,
      'from=ada@example.com&to=bob@example.com&to=hidden@example.com',
      message,
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'sent');
    assert.equal(r.json.message_id, '<raw.1@example.com>');
    assert.deepEqual(r.json.recipients.map((x) => [x.address, x.accepted]), [
      ['bob@example.com', true],
      ['hidden@example.com', true],
    ]);
    const msgs = await smtp.waitForMessages(n + 1);
    const m = msgs[n];
    assert.equal(m.envelope.mailFrom, 'ada@example.com');
    assert.deepEqual(m.envelope.rcptTo, ['bob@example.com', 'hidden@example.com']);
    const expected = crlf(message).replace('Bcc: hidden@example.com,\r\n  also-hidden@example.com\r\n', '');
    assert.equal(m.raw.toString('latin1'), expected, 'the bytes as posted, CRLF, no Bcc field');
  });

  it('keeps the Bcc header with show_bcc=true', T, async () => {
    const n = smtp.transactions.length;
    const message = 'From: a@example.com\r\nBcc: b@example.com\r\nSubject: shown\r\n\r\nbody\r\n';
    const r = await postRaw(gw, 'from=a@example.com&to=b@example.com&show_bcc=true', message);
    assert.equal(r.status, 200, r.text);
    const msgs = await smtp.waitForMessages(n + 1);
    assert.equal(msgs[n].raw.toString('latin1'), message);
    assert.equal(r.json.message_id, null, 'no Message-ID header, none reported');
  });

  it('streams a large message through unchanged', T, async () => {
    const n = smtp.transactions.length;
    const lines = [];
    for (let i = 0; i < 60000; i++) lines.push(`${i % 7 === 0 ? '.' : ''}line ${i} ${'x'.repeat(i % 80)}`);
    const message = `From: a@example.com\r\nSubject: big\r\n\r\n${lines.join('\r\n')}\r\n`;
    const r = await postRaw(gw, 'from=a@example.com&to=b@example.com', message);
    assert.equal(r.status, 200, r.text);
    const msgs = await smtp.waitForMessages(n + 1);
    const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
    assert.ok(message.length > 3 * 1024 * 1024, 'a message of several MiB');
    assert.equal(sha(msgs[n].raw), sha(Buffer.from(message, 'latin1')));
  });

  it('a refused recipient stops the send: 502, nothing delivered', T, async () => {
    const n = smtp.transactions.length;
    const r = await postRaw(
      gw,
      'from=a@example.com&to=bad@example.com&to=b@example.com',
      'From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n',
    );
    assert.equal(r.status, 502, r.text);
    assert.equal(r.json.status, 'failed');
    assert.deepEqual(r.json.failed_send, ['bad@example.com']);
    assert.match(r.json.error, /550/);
    assert.equal(smtp.transactions.length, n);
  });

  it('continue_after_bad_send=true delivers to the accepted ones (partial)', T, async () => {
    const n = smtp.transactions.length;
    const r = await postRaw(
      gw,
      'from=a@example.com&to=bad@example.com&to=b@example.com&continue_after_bad_send=true',
      'From: a@example.com\r\nSubject: partial raw\r\n\r\nbody\r\n',
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'partial');
    const msgs = await smtp.waitForMessages(n + 1);
    assert.deepEqual(msgs[n].envelope.rcptTo, ['b@example.com']);
  });

  const badMessages = [
    ['a first line that is not a header field', 'not a header\r\n\r\nbody\r\n', /line 1 of the header/],
    ['a header line in the middle that is not a field', 'From: a@example.com\r\nnonsense\r\n\r\nx\r\n', /line 2/],
    ['a body line over 998 bytes', `From: a@example.com\r\n\r\n${'y'.repeat(1200)}\r\n`, /998/],
    ['a NUL byte', 'From: a@example.com\r\n\r\nnul\u0000byte\r\n', /NUL/],
    ['an empty message', '', /empty/],
  ];
  for (const [label, body, why] of badMessages) {
    it(`${label}: 400 naming message, nothing delivered`, T, async () => {
      const n = smtp.transactions.length;
      const r = await postRaw(gw, 'from=a@example.com&to=b@example.com', body);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.field, 'message');
      assert.match(r.json.error, why);
      await sleep(200);
      assert.equal(smtp.transactions.length, n, 'the server delivered nothing');
    });
  }

  const badQueries = [
    ['to=b@example.com', 'from'],
    ['from=a@example.com', 'to'],
    ['from=a@example.com&to=b%20c@example.com', 'to[0]'],
    ['from=a@example.com&to=b@example.com&show_bcc=maybe', 'show_bcc'],
    ['from=a@example.com&to=b@example.com&bogus=1', 'bogus'],
  ];
  for (const [query, field] of badQueries) {
    it(`query ${query}: 400 naming ${field}, no SMTP connection`, T, async () => {
      const before = smtp.tcpConnections;
      const r = await postRaw(gw, query, 'From: a@example.com\r\n\r\nx\r\n');
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.field, field);
      assert.equal(smtp.tcpConnections, before);
    });
  }

  it('an unknown credential is 404, a JSON body 415', T, async () => {
    let r = await postRaw(gw, 'credential=nope&from=a@example.com&to=b@example.com', 'From: a@example.com\r\n\r\nx');
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.field, 'credential');
    r = await postRaw(gw, 'from=a@example.com&to=b@example.com', '{}', { contentType: 'application/json' });
    assert.equal(r.status, 415, r.text);
  });

  it('a chunked body over the limit is 413 and nothing is delivered', T, async () => {
    const small = await startGateway({ smtpPort: smtp.port, env: { GATEWAY_MAX_BODY: '64K' } });
    try {
      const n = smtp.transactions.length;
      const status = await new Promise((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: small.port,
            method: 'POST',
            path: '/v1/messages/raw?from=a@example.com&to=b@example.com',
            headers: { Authorization: `Bearer ${small.token}`, 'Content-Type': RAW },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode));
          },
        );
        req.on('error', reject);
        req.write('From: a@example.com\r\n\r\n');
        for (let i = 0; i < 100; i++) req.write(`${'z'.repeat(999)}\r\n`.slice(1));
        req.end();
      });
      assert.equal(status, 413);
      await sleep(200);
      assert.equal(smtp.transactions.length, n);
    } finally {
      await small.stop();
    }
    assertCleanRun(small);
  });

  it('a client that goes away mid-message delivers nothing, and the gateway keeps serving', T, async () => {
    const n = smtp.transactions.length;
    const sock = net.connect(gw.port, '127.0.0.1');
    await new Promise((resolve) => sock.once('connect', resolve));
    sock.write(
      'POST /v1/messages/raw?from=a@example.com&to=b@example.com HTTP/1.1\r\n' +
        'Host: x\r\n' +
        `Authorization: Bearer ${gw.token}\r\n` +
        `Content-Type: ${RAW}\r\n` +
        'Content-Length: 100000\r\n\r\n' +
        'From: a@example.com\r\nSubject: cut\r\n\r\nthe start of the body\r\n',
    );
    await sleep(300);
    sock.destroy();
    await sleep(300);
    assert.equal(smtp.transactions.length, n, 'nothing delivered');
    const r = await request(gw, 'GET', '/healthz', { token: null });
    assert.equal(r.status, 200);
  });
});

// The query of a raw send is read as the fields of POST /v1/messages are:
// each recipient once, international domains in A-labels, auth_from a
// mailbox, and a NUL byte or a repeated single parameter refused.
describe('POST /v1/messages/raw: the query as POST /v1/messages reads it', () => {
  let smtp;
  let gw;

  before(async () => {
    smtp = await startSmtpServer();
    gw = await startGateway({ smtpPort: smtp.port });
  });

  after(async () => {
    await gw.stop();
    await smtp.close();
    assertCleanRun(gw);
  });

  const MESSAGE = 'From: a@example.com\r\nSubject: query\r\n\r\nbody\r\n';

  it('a repeated to is one RCPT TO, as in JSON', T, async () => {
    const n = smtp.transactions.length;
    const rcpts = smtp.rcptAttempts.length;
    const r = await postRaw(gw, 'from=a@example.com&to=b@example.com&to=b@EXAMPLE.com&to=c@example.com&to=b@example.com', MESSAGE);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.recipients.map((x) => x.address), ['b@example.com', 'c@example.com']);
    const [m] = (await smtp.waitForMessages(n + 1)).slice(n);
    assert.deepEqual(m.envelope.rcptTo, ['b@example.com', 'c@example.com']);
    assert.deepEqual(smtp.rcptAttempts.slice(rcpts), ['b@example.com', 'c@example.com']);
  });

  // smtp-server shows envelope domains in Unicode: the commands are read
  // from a hand-scripted server.
  it('an international domain goes out in A-labels, in MAIL FROM and RCPT TO', T, async () => {
    const srv = await startScripted([
      happyScript({ from: 'a@xn--bcher-kva.example', rcpts: ['info@xn--bcher-kva.example'] }),
    ]);
    let idn;
    try {
      idn = await startGateway({ smtpPort: srv.port, env: { GATEWAY_SMTP_IDLE_TIMEOUT: 0 } });
      const q = `from=${encodeURIComponent('a@bücher.example')}&to=${encodeURIComponent('info@Bücher.example')}`;
      const r = await postRaw(idn, q, MESSAGE);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.recipients.map((x) => x.address), ['info@xn--bcher-kva.example']);
      const conn = await srv.waitForClose(0);
      assert.deepEqual(conn.mismatches, [], `unexpected commands:\n${conn.text}`);
      assert.match(conn.text, /^MAIL FROM:<a@xn--bcher-kva\.example>( BODY=8BITMIME)?\r\n/m, 'no SMTPUTF8');
    } finally {
      if (idn) await idn.stop();
      await srv.close();
    }
    assertCleanRun(idn);
  });

  const badQueries = [
    ['auth_from=not%20a%20mailbox', 'auth_from'],
    ['auth_from=nobody', 'auth_from'],
    ['credential=default%00x', 'credential'],
    ['from=a@example.com%00x', 'from'],
    ['to=c@example.com%00x', 'to[1]'],
    ['auth_from=a@example.com%00', 'auth_from'],
    ['show_bcc=true%00x', 'show_bcc'],
    ['continue_after_bad_send=false%00', 'continue_after_bad_send'],
    ['to%00x=c@example.com', 'to'],
    ['credential=default', 'credential'],
    ['from=z@example.com', 'from'],
    ['show_bcc=true&show_bcc=false', 'show_bcc'],
  ];
  for (const [extra, field] of badQueries) {
    it(`query ...&${extra}: 400 naming ${field}, no SMTP connection`, T, async () => {
      const before = smtp.tcpConnections;
      const r = await postRaw(gw, `credential=default&from=a@example.com&to=b@example.com&${extra}`, MESSAGE);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.field, field, r.text);
      assert.ok(r.json.error.startsWith(`${field}: `), r.text);
      assert.equal(smtp.tcpConnections, before);
    });
  }

  it('a client that goes away mid-message is logged, and nothing is delivered', T, async () => {
    const n = smtp.transactions.length;
    const sock = net.connect(gw.port, '127.0.0.1');
    await new Promise((resolve) => sock.once('connect', resolve));
    sock.write(
      'POST /v1/messages/raw?from=a@example.com&to=b@example.com&to=c@example.com HTTP/1.1\r\n' +
        'Host: x\r\n' +
        `Authorization: Bearer ${gw.token}\r\n` +
        `Content-Type: ${RAW}\r\n` +
        'Content-Length: 100000\r\n\r\n' +
        'From: a@example.com\r\nMessage-ID: <gone.1@example.com>\r\nSubject: cut\r\n\r\nsecret-body-text\r\n',
    );
    await sleep(300);
    sock.destroy();
    let line;
    for (let i = 0; i < 50 && !line; i++) {
      await sleep(100);
      line = gw.stderr().split('\n').find((l) => l.includes('gone.1@example.com'));
    }
    assert.ok(line, `a log line for the send:\n${gw.stderr()}`);
    assert.match(line, /level=\w+ event=send credential=default status=failed rcpts=2 /);
    assert.match(line, /error="the client went away before the end of the message"/);
    assert.ok(!line.includes('secret-body-text') && !line.includes(gw.token), 'no body, no token');
    assert.equal(smtp.transactions.length, n, 'nothing delivered');
    const r = await request(gw, 'GET', '/healthz', { token: null });
    assert.equal(r.status, 200);
  });
});

describe('POST /v1/messages/raw: a bare CR ends a header line', () => {
  let smtp;
  let gw;

  before(async () => {
    smtp = await startSmtpServer();
    gw = await startGateway({ smtpPort: smtp.port });
  });

  after(async () => {
    await gw.stop();
    await smtp.close();
    assertCleanRun(gw);
  });

  // The DATA stream makes every bare CR a CRLF, so the server sees a Bcc
  // field after one: the header check must see it too, and drop it.
  it('a Bcc field after a bare CR is dropped', T, async () => {
    const n = smtp.transactions.length;
    const message =
      'From: a@example.com\r\n' +
      'Subject: a\rBcc: hidden@example.com\r\n' +
      'To: b@example.com\r\n' +
      '\r\n' +
      'body\r\n';
    const r = await postRaw(gw, 'from=a@example.com&to=b@example.com', message);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'sent');
    assert.deepEqual(r.json.recipients.map((x) => [x.address, x.accepted]), [['b@example.com', true]]);
    const msgs = await smtp.waitForMessages(n + 1);
    const raw = msgs[n].raw.toString('latin1');
    const header = raw.slice(0, raw.indexOf('\r\n\r\n') + 2);
    assert.doesNotMatch(header, /^bcc\s*:/im, 'no Bcc header line reached the server');
    assert.equal(header, 'From: a@example.com\r\nSubject: a\r\nTo: b@example.com\r\n');
    assert.equal(raw, `${header}\r\nbody\r\n`);
    assert.equal(msgs[n].parsed.bcc, undefined);
  });

  // Dropping the field between a line ended by a bare CR and an empty
  // line ended by a bare LF must not join the two into one CRLF, which
  // would make the body's first line a header line.
  it('the empty line after a dropped Bcc still ends the header', T, async () => {
    const n = smtp.transactions.length;
    const message = 'From: a@example.com\r\nSubject: b\rBcc: hidden@example.com\n\nBody: not a field\r\n';
    const r = await postRaw(gw, 'from=a@example.com&to=b@example.com', message);
    assert.equal(r.status, 200, r.text);
    const msgs = await smtp.waitForMessages(n + 1);
    assert.equal(
      msgs[n].raw.toString('latin1'),
      'From: a@example.com\r\nSubject: b\r\n\r\nBody: not a field\r\n',
    );
  });

  it('a line after a bare CR that is not a field is refused: 400, nothing delivered', T, async () => {
    const n = smtp.transactions.length;
    const r = await postRaw(gw, 'from=a@example.com&to=b@example.com', 'Subject: a\rnot a field\r\n\r\nbody\r\n');
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.field, 'message');
    assert.match(r.json.error, /line 2 of the header is not a header field/);
    await sleep(200);
    assert.equal(smtp.transactions.length, n, 'nothing delivered');
  });
});
