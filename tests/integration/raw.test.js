'use strict';
// POST /v1/messages/raw: a complete message relayed as given, streamed to
// a real SMTP server (smtp-server); what arrives is compared byte for
// byte with what was posted, and a message that is bad or cut short must
// never be delivered.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');

const { assertCleanRun, assertErrorReply, cleanupAll, readReply, request, send, sleep, startGateway, until } = require('./lib/gateway');
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

/*
 * The files the gateway holds open in `dir` that have no name any more:
 * a spooled body's temporary file. Read from /proc, as the gateway's own
 * user or root may; null where /proc does not show them.
 */
function spoolFiles(gw, dir) {
  const fdDir = `/proc/${gw.proc.pid}/fd`;
  let fds;
  try {
    fds = fs.readdirSync(fdDir);
  } catch {
    return null;
  }
  const out = [];
  for (const fd of fds) {
    let target;
    try {
      target = fs.readlinkSync(`${fdDir}/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (target.startsWith(`${dir}/`) && target.endsWith(' (deleted)')) out.push(target);
  }
  return out;
}

/*
 * A raw POST written by hand in pieces: `send(bytes)` writes more of the
 * body, `reply` resolves to { status, json } once the gateway answers.
 */
function openRaw(gw, query, length, opts = {}) {
  let send;
  const reply = new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: gw.port,
        method: 'POST',
        path: `/v1/messages/raw?${query}`,
        agent: false,
        headers: {
          Authorization: `Bearer ${opts.token || gw.token}`,
          'Content-Type': RAW,
          'Content-Length': String(length),
        },
      },
      (res) => readReply(res).then(resolve, reject),
    );
    req.on('error', reject);
    req.flushHeaders();
    send = (bytes) => new Promise((done) => req.write(bytes, done));
    opts.onRequest?.(req);
  });
  return { send, reply };
}

// A raw message is held by the gateway until it is complete: only then is
// the upstream connection opened, so a slow client costs its own HTTP
// connection alone. The first MiB is held in memory, the rest in a file
// of the data directory that has no name, so nothing is left behind.
describe('POST /v1/messages/raw: the upstream hears of a message only once it is whole', () => {
  let smtp;
  let gw;
  let scoped;

  before(async () => {
    smtp = await startSmtpServer();
    gw = await startGateway({
      smtpPort: smtp.port,
      env: {
        GATEWAY_SMTP_POOL: 1,
        GATEWAY_SMTP_IDLE_TIMEOUT: 0,
        GATEWAY_SMTP_TIMEOUT: 10,
        GATEWAY_MAX_BODY: '8M',
      },
    });
    const r = await request(gw, 'POST', '/v1/tokens', {
      body: { name: 'scoped', scope: 'send', from_domains: ['allowed.example'] },
    });
    assert.equal(r.status, 201, r.text);
    scoped = r.json.token;
    gw.secrets.push(scoped);
  });

  after(async () => {
    await gw.stop();
    await smtp.close();
    assertCleanRun(gw);
  });

  /* The data directory's entries and the spool files: none left. */
  function assertNoSpool(entries, what) {
    assert.deepEqual(fs.readdirSync(gw.dataDir).sort(), entries, `no file left in the data directory ${what}`);
    const open = spoolFiles(gw, gw.dataDir);
    if (open !== null) assert.deepEqual(open, [], `no spool file open ${what}`);
  }

  it('a slow client holds no upstream connection: a JSON send meanwhile gets its 200', T, async () => {
    const n = smtp.transactions.length;
    const conns = smtp.tcpConnections;
    const message = `From: a@example.com\r\nSubject: slow\r\nMessage-ID: <slow.1@example.com>\r\n\r\n${'s'.repeat(126)}\r\n`;
    assert.equal(message.length, 200);
    const slow = openRaw(gw, 'from=a@example.com&to=b@example.com', message.length);
    await slow.send(message.slice(0, 20));
    // Another send through the only connection of the pool, while the
    // slow one has sent a tenth of its message.
    const r = await send(gw, { from: 'a@example.com', to: 'c@example.com', subject: 'meanwhile', text: 'x' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'sent');
    // The rest at about 20 bytes a second.
    for (let at = 20; at < message.length - 20; at += 20) {
      await slow.send(message.slice(at, at + 20));
      await sleep(1000);
    }
    assert.equal(smtp.tcpConnections, conns + 1, 'no connection for the slow message before its end');
    await slow.send(message.slice(message.length - 20));
    const done = await slow.reply;
    assert.equal(done.status, 200, done.text);
    assert.equal(done.json.message_id, '<slow.1@example.com>');
    assert.equal(smtp.tcpConnections, conns + 2);
    const msgs = await smtp.waitForMessages(n + 2);
    assert.equal(msgs[n + 1].raw.toString('latin1'), message);
  });

  const refusedHeads = [
    ['a trace field', 'From: a@example.com\r\nReceived: from x by y\r\n', 400, null],
    ['a scoped token\'s foreign From', 'From: app@bank.example\r\n', 403, 'scoped'],
  ];
  for (const [label, head, status, who] of refusedHeads) {
    it(`${label} in the header: ${status}, and no SMTP connection at all`, T, async () => {
      const entries = fs.readdirSync(gw.dataDir).sort();
      const conns = smtp.tcpConnections;
      const r = await request(gw, 'POST', '/v1/messages/raw?from=app@allowed.example&to=b@example.com', {
        token: who === 'scoped' ? scoped : gw.token,
        body: Buffer.from(`${head}Subject: refused\r\n\r\nbody\r\n`),
        contentType: RAW,
      });
      assertErrorReply(r, status, 'message');
      await sleep(200);
      assert.equal(smtp.tcpConnections, conns, 'no SMTP connection');
      assertNoSpool(entries, 'after the refusal');
    });
  }

  it('a message larger than the part held in memory is delivered byte for byte', T, async () => {
    const entries = fs.readdirSync(gw.dataDir).sort();
    const n = smtp.transactions.length;
    const lines = [];
    for (let i = 0; lines.length < 130000; i++) lines.push(`${i % 5 === 0 ? '.' : ''}${i} ${'q'.repeat(i % 70)}`);
    const message = Buffer.from(`From: a@example.com\r\nSubject: five MiB\r\n\r\n${lines.join('\r\n')}\r\n`, 'latin1');
    assert.ok(message.length > 5 * 1024 * 1024, `${message.length} bytes`);
    const r = await postRaw(gw, 'from=a@example.com&to=b@example.com', message);
    assert.equal(r.status, 200, r.text);
    const msgs = await smtp.waitForMessages(n + 1);
    const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
    assert.equal(msgs[n].raw.length, message.length);
    assert.equal(sha(msgs[n].raw), sha(message));
    assertNoSpool(entries, 'after the send');
  });

  it('a large message refused at its end: 400, no SMTP connection, no file left', T, async () => {
    const entries = fs.readdirSync(gw.dataDir).sort();
    const conns = smtp.tcpConnections;
    const message = `From: a@example.com\r\n\r\n${`${'n'.repeat(99)}\r\n`.repeat(30000)}a NUL\u0000\r\n`;
    const r = await postRaw(gw, 'from=a@example.com&to=b@example.com', message);
    assertErrorReply(r, 400, 'message');
    assert.match(r.json.error, /NUL/);
    assert.equal(smtp.tcpConnections, conns, 'no SMTP connection');
    assertNoSpool(entries, 'after the refusal');
  });

  it('a client gone mid-body: no SMTP connection, the spool file goes, the send is logged', T, async () => {
    const entries = fs.readdirSync(gw.dataDir).sort();
    const conns = smtp.tcpConnections;
    let req;
    const cut = openRaw(gw, 'from=a@example.com&to=b@example.com', 5 * 1024 * 1024, {
      onRequest: (r) => {
        req = r;
      },
    });
    cut.reply.catch(() => {});
    await cut.send('From: a@example.com\r\nMessage-ID: <cut.2@example.com>\r\n\r\n');
    for (let i = 0; i < 32; i++) await cut.send(`${'c'.repeat(998)}\r\n`.repeat(64));
    if (spoolFiles(gw, gw.dataDir) !== null) {
      // Past the first MiB the body is in a file that has no name.
      await until(() => spoolFiles(gw, gw.dataDir).length === 1, 'a spool file open');
      assert.deepEqual(fs.readdirSync(gw.dataDir).sort(), entries, 'the spool file has no name');
    }
    req.destroy();
    let line;
    await until(() => {
      line = gw.stderr().split('\n').find((l) => l.includes('cut.2@example.com'));
      return line !== undefined;
    }, 'the log line of the send');
    assert.match(line, /level=warn event=send credential=default status=failed rcpts=1 /);
    assert.match(line, /error="the client went away before the end of the message"/);
    if (spoolFiles(gw, gw.dataDir) !== null) await until(() => spoolFiles(gw, gw.dataDir).length === 0, 'the spool file closed');
    assertNoSpool(entries, 'after the client went away');
    assert.equal(smtp.tcpConnections, conns, 'no SMTP connection');
  });

  it('CR-only line ends: the reply names the message\'s Message-ID', T, async () => {
    const n = smtp.transactions.length;
    const message = 'From: a@example.com\rMessage-ID: <cr.1@example.com>\rSubject: cr\r\rbody\r';
    const r = await postRaw(gw, 'from=a@example.com&to=b@example.com', message);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.message_id, '<cr.1@example.com>');
    const msgs = await smtp.waitForMessages(n + 1);
    assert.equal(msgs[n].raw.toString('latin1'), message.replace(/\r/g, '\r\n'));
  });
});

// With the whole message at hand the gateway declares exactly what it
// holds (RFC 6152, RFC 6531 3.4): nothing for 7-bit, BODY=8BITMIME for
// 8-bit bytes, and SMTPUTF8 with it for UTF-8 in the header; the exact
// MAIL FROM is read from a hand-scripted server.
describe('POST /v1/messages/raw: MAIL FROM declares what the message holds', () => {
  const EHLO_UTF8 = '250-scripted.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 HELP\r\n';

  async function mailLine(ehloReply, message) {
    const srv = await startScripted([happyScript({ ehloReply })]);
    let gw;
    try {
      gw = await startGateway({ smtpPort: srv.port, env: { GATEWAY_SMTP_IDLE_TIMEOUT: 0 } });
      const r = await postRaw(gw, 'from=a@example.com&to=b@example.com', Buffer.from(message, 'utf8'));
      assert.equal(r.status, 200, r.text);
      const conn = await srv.waitForClose(0);
      assert.deepEqual(conn.mismatches, [], `unexpected commands:\n${conn.text}`);
      return conn.text.split('\r\n').find((l) => l.startsWith('MAIL '));
    } finally {
      if (gw) await gw.stop();
      await srv.close();
      if (gw) assertCleanRun(gw);
    }
  }

  it('a 7-bit message: no BODY parameter, though 8BITMIME is offered', T, async () => {
    const line = await mailLine(EHLO_UTF8, 'From: a@example.com\r\nSubject: plain\r\n\r\nplain\r\n');
    assert.equal(line, 'MAIL FROM:<a@example.com>');
  });

  it('8-bit bytes in the body only: BODY=8BITMIME, no SMTPUTF8', T, async () => {
    const line = await mailLine(EHLO_UTF8, 'From: a@example.com\r\nSubject: plain\r\n\r\nGrüße\r\n');
    assert.equal(line, 'MAIL FROM:<a@example.com> BODY=8BITMIME');
  });

  it('a UTF-8 Subject: BODY=8BITMIME SMTPUTF8', T, async () => {
    const line = await mailLine(EHLO_UTF8, 'From: a@example.com\r\nSubject: Grüße\r\n\r\nplain\r\n');
    assert.equal(line, 'MAIL FROM:<a@example.com> BODY=8BITMIME SMTPUTF8');
  });

  it('a UTF-8 Subject to a server without SMTPUTF8: 502 naming SMTPUTF8, no MAIL sent', T, async () => {
    const srv = await startScripted([
      [
        { send: '220 scripted.test ESMTP ready\r\n' },
        { read: true, expect: /^EHLO \S+$/, reply: '250-scripted.test\r\n250-8BITMIME\r\n250 HELP\r\n' },
        { read: true, expect: 'QUIT', reply: '221 bye\r\n' },
        { close: true },
      ],
    ]);
    let gw;
    try {
      gw = await startGateway({ smtpPort: srv.port, env: { GATEWAY_SMTP_IDLE_TIMEOUT: 0 } });
      const r = await postRaw(gw, 'from=a@example.com&to=b@example.com', Buffer.from('From: a@example.com\r\nSubject: Grüße\r\n\r\nx\r\n'));
      assert.equal(r.status, 502, r.text);
      assert.equal(r.json.status, 'failed');
      assert.match(r.json.error, /the message needs SMTPUTF8/);
      const conn = await srv.waitForClose(0);
      assert.doesNotMatch(conn.text, /^MAIL /m, 'no MAIL sent');
      assert.deepEqual(conn.mismatches, [], `unexpected commands:\n${conn.text}`);
    } finally {
      if (gw) await gw.stop();
      await srv.close();
    }
    assertCleanRun(gw);
  });
});
