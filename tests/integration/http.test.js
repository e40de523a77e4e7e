'use strict';
// The HTTP surface: health check, authentication, routing, content types,
// body limits, malformed JSON, and the table of bad input that must be
// refused before any SMTP connection is made.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const {
  assertErrorReply,
  assertCleanRun,
  cleanupAll,
  rawRequest,
  request,
  send,
  startGateway,
} = require('./lib/gateway');
const { startSmtpServer } = require('./lib/smtpserver');

const T = { timeout: 30000 };

after(cleanupAll);

const FROM = 'Alice <alice@example.com>';
const TO = 'bob@example.com';
const ok = (extra = {}) => ({ from: FROM, to: TO, subject: 'hi', text: 'hello', ...extra });

describe('HTTP API', () => {
  let smtp;
  let gw;

  before(async () => {
    smtp = await startSmtpServer();
    // A connection per send, so that counting connections counts sends.
    gw = await startGateway({ smtpPort: smtp.port, env: { GATEWAY_SMTP_IDLE_TIMEOUT: 0 } });
  });

  after(async () => {
    if (gw) await gw.stop();
    if (smtp) await smtp.close();
  });

  describe('GET /healthz', () => {
    it('answers 200 {"status":"ok"} without a token', T, async () => {
      const r = await request(gw, 'GET', '/healthz', { token: null });
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { status: 'ok' });
      assert.match(r.headers['content-type'] || '', /^application\/json\b/i);
    });

    it('POST /healthz is 405 with Allow: GET', T, async () => {
      const r = await request(gw, 'POST', '/healthz', { body: {} });
      assertErrorReply(r, 405, null);
      assert.ok(r.headers.allow, 'an Allow header');
      assert.match(r.headers.allow, /\bGET\b/);
      assert.doesNotMatch(r.headers.allow, /\bPOST\b/);
    });
  });

  describe('authentication', () => {
    const cases = [
      ['no Authorization header', { token: null }],
      ['a wrong token', { token: 'wrong-token-0123456789' }],
      ['the token with a character too many', { tokenFn: (t) => t + 'x' }],
      ['the token with a character missing', { tokenFn: (t) => t.slice(0, -1) }],
      ['an empty bearer token', { headers: { Authorization: 'Bearer ' } }],
      ['Basic instead of Bearer', { basic: true }],
      ['the token without a scheme', { raw: true }],
    ];
    for (const [label, c] of cases) {
      it(`${label} → 401 with WWW-Authenticate: Bearer, nothing sent`, T, async () => {
        const before = smtp.tcpConnections;
        const opts = { token: c.token };
        if (c.tokenFn) opts.token = c.tokenFn(gw.token);
        if (c.headers) opts.headers = c.headers;
        if (c.basic) opts.headers = { Authorization: 'Basic ' + Buffer.from(`user:${gw.token}`).toString('base64') };
        if (c.raw) opts.headers = { Authorization: gw.token };
        const r = await send(gw, ok(), opts);
        assertErrorReply(r, 401, null);
        assert.match(r.headers['www-authenticate'] || '', /^Bearer\b/i);
        assert.equal(smtp.tcpConnections, before, 'no SMTP connection for an unauthenticated request');
      });
    }

    it('the right token is accepted (the 401s above are about the token)', T, async () => {
      const r = await send(gw, ok({ subject: 'auth ok' }));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'sent');
    });
  });

  describe('routing', () => {
    it('an unknown path is 404 with a JSON error', T, async () => {
      for (const p of ['/', '/nope', '/v1/nope', '/v2/messages', '/v1/messages/extra']) {
        // No document can describe a path that does not exist.
        const r = await request(gw, 'GET', p, { contract: false });
        assertErrorReply(r, 404, null);
      }
      const r = await send(gw, ok(), {});
      assert.equal(r.status, 200, 'and the real path still works');
    });

    it('a path with an encoded line break cannot forge a log line', T, async () => {
      // assertCleanRun at the end checks that no line starts with 1999-.
      const forged = '%0D%0A1999-01-01T00:00:00Z%20level=error%20event=forged';
      const r = await request(gw, 'GET', `/nope${forged}`, { contract: false });
      assertErrorReply(r, 404, null);
      const r2 = await request(gw, 'POST', `/v1/messages${forged}`, { body: ok(), contract: false });
      assertErrorReply(r2, 404, null);
    });

    it('POST to an unknown path is 404', T, async () => {
      const r = await request(gw, 'POST', '/v1/message', { body: ok(), contract: false });
      assertErrorReply(r, 404, null);
    });

    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
      it(`${method} /v1/messages is 405 with Allow: POST`, T, async () => {
        const before = smtp.tcpConnections;
        const r = await request(gw, method, '/v1/messages', method === 'GET' || method === 'DELETE' ? {} : { body: ok() });
        assertErrorReply(r, 405, null);
        assert.ok(r.headers.allow, 'an Allow header');
        assert.match(r.headers.allow, /\bPOST\b/);
        assert.doesNotMatch(r.headers.allow, /\b(GET|PUT|DELETE|PATCH)\b/);
        assert.equal(smtp.tcpConnections, before);
      });
    }
  });

  describe('content type', () => {
    const bad = [
      ['text/plain', 'text/plain'],
      ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
      ['no Content-Type', null],
      ['application/jsonx', 'application/jsonx'],
    ];
    for (const [label, ct] of bad) {
      it(`${label} → 415, nothing sent`, T, async () => {
        const before = smtp.tcpConnections;
        const r = await request(gw, 'POST', '/v1/messages', { body: JSON.stringify(ok()), contentType: ct });
        assertErrorReply(r, 415, null);
        assert.equal(smtp.tcpConnections, before);
      });
    }

    it('application/json; charset=utf-8 is JSON (accepted)', T, async () => {
      const r = await request(gw, 'POST', '/v1/messages', {
        body: JSON.stringify(ok({ subject: 'charset' })),
        contentType: 'application/json; charset=utf-8',
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'sent');
    });
  });

  describe('body size', () => {
    it('a 20 MiB Content-Length is refused with 413 before the body is sent', T, async () => {
      const before = smtp.tcpConnections;
      // Only the headers and a few bytes go out: an answer proves the
      // gateway judged the Content-Length without waiting for the body.
      const head =
        'POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
        `Authorization: Bearer ${gw.token}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${20 * 1024 * 1024}\r\nConnection: close\r\n\r\n{"from":"a@example.com",`;
      const r = await rawRequest(gw, head);
      assertErrorReply(r, 413, null);
      assert.equal(smtp.tcpConnections, before);
      const h = await request(gw, 'GET', '/healthz', { token: null });
      assert.equal(h.status, 200, 'still serving');
    });

    it('a body just under the default 10 MiB limit is not refused for its size', T, async () => {
      // 9 MiB of JSON that is otherwise malformed: 400, not 413.
      const body = '{"from":"' + 'a'.repeat(9 * 1024 * 1024) + '"';
      const r = await request(gw, 'POST', '/v1/messages', { body });
      assertErrorReply(r, 400, undefined);
    });
  });

  describe('malformed JSON', () => {
    const bodies = [
      ['truncated', '{"from":"a@example.com","to":'],
      ['not JSON at all', 'from=a@example.com&to=b@example.com'],
      ['empty body', ''],
      ['trailing garbage', JSON.stringify(ok()) + ' x'],
      ['single quotes', "{'from':'a@example.com','to':'b@example.com'}"],
      ['invalid UTF-8 in a string', Buffer.concat([Buffer.from('{"from":"a@example.com","to":"b@example.com","subject":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])],
    ];
    for (const [label, body] of bodies) {
      it(`${label} → 400 JSON error without a field, nothing sent`, T, async () => {
        const before = smtp.tcpConnections;
        const r = await request(gw, 'POST', '/v1/messages', { body });
        assertErrorReply(r, 400, null);
        assert.equal(smtp.tcpConnections, before);
      });
    }

    for (const [label, body] of [
      ['a JSON array', '[]'],
      ['a JSON string', '"hello"'],
      ['JSON null', 'null'],
    ]) {
      it(`${label} instead of an object → 400, nothing sent`, T, async () => {
        const before = smtp.tcpConnections;
        const r = await request(gw, 'POST', '/v1/messages', { body });
        assertErrorReply(r, 400, undefined);
        assert.equal(smtp.tcpConnections, before);
      });
    }
  });

  describe('bad input never reaches SMTP', () => {
    // [label, body, HTTP status, field]; field undefined = not checked.
    const CRLF_BCC = 'x\r\nBcc: victim@example.net';
    const table = [
      ['no from', { to: TO, text: 'x' }, 400, 'from'],
      ['from is a number', { from: 5, to: TO }, 400, 'from'],
      ['from is empty', { from: '', to: TO }, 400, 'from'],
      ['from without @', { from: 'alice', to: TO }, 400, 'from'],
      ['from with LF in the display name', { from: 'Ali\nce <alice@example.com>', to: TO }, 400, 'from'],
      ['from with an unclosed <', { from: 'Alice <alice@example.com', to: TO }, 400, 'from'],
      ['to is a number', { from: FROM, to: 5 }, 400, 'to'],
      ['to is an object without address', { from: FROM, to: { name: 'Bob' } }, 400, 'to.address'],
      ['to[1] has CRLF', { from: FROM, to: [TO, 'carol@example.com\r\nRCPT TO:<evil@example.net>'] }, 400, 'to[1]'],
      ['to[1] has a space', { from: FROM, to: [TO, 'car ol@example.com'] }, 400, 'to[1]'],
      ['to has a >', { from: FROM, to: 'bob>@example.com' }, 400, 'to'],
      ['to[0] is null', { from: FROM, to: [null] }, 400, 'to[0]'],
      ['to[0].name has CRLF', { from: FROM, to: [{ name: 'Bob' + CRLF_BCC, address: TO }] }, 400, 'to[0].name'],
      ['to[0].address is a number', { from: FROM, to: [{ name: 'Bob', address: 7 }] }, 400, 'to[0].address'],
      ['to[0] has an unknown key', { from: FROM, to: [{ address: TO, nick: 'b' }] }, 400, 'to[0].nick'],
      ['cc[0].address has a space', { from: FROM, to: TO, cc: [{ name: 'Carol', address: 'carol@exa mple.com' }] }, 400, 'cc[0].address'],
      ['cc[1] has a bare CR', { from: FROM, to: TO, cc: ['c@example.com', 'd@example.com\rX'] }, 400, 'cc[1]'],
      ['bcc[0] is a number', { from: FROM, to: TO, bcc: [5] }, 400, 'bcc[0]'],
      ['reply_to has LF', { from: FROM, to: TO, reply_to: 'r@exa\nmple.com' }, 400, 'reply_to'],
      ['reply_to[0].name has CR', { from: FROM, to: TO, reply_to: [{ name: 'R\r', address: 'r@example.com' }] }, 400, 'reply_to[0].name'],
      ['no recipients at all', { from: FROM, subject: 'x' }, 400, undefined],
      ['empty recipient lists', { from: FROM, to: [], cc: [], bcc: [] }, 400, undefined],
      ['subject is an array', { from: FROM, to: TO, subject: [] }, 400, 'subject'],
      ['subject has CRLF', { from: FROM, to: TO, subject: 'Hi' + CRLF_BCC }, 400, 'subject'],
      ['subject has a bare LF', { from: FROM, to: TO, subject: 'Hi\nthere' }, 400, 'subject'],
      ['text is a number', { from: FROM, to: TO, text: 5 }, 400, 'text'],
      ['html is an object', { from: FROM, to: TO, html: {} }, 400, 'html'],
      ['headers is an array', { from: FROM, to: TO, headers: ['X-Foo: bar'] }, 400, 'headers'],
      ['header value with CRLF', { from: FROM, to: TO, headers: { 'X-Foo': 'a' + CRLF_BCC } }, 400, 'headers.X-Foo'],
      ['header value with a bare LF', { from: FROM, to: TO, headers: { 'X-Foo': 'a\nb' } }, 400, 'headers.X-Foo'],
      ['header value with a bare CR', { from: FROM, to: TO, headers: { 'X-Foo': 'a\rb' } }, 400, 'headers.X-Foo'],
      ['header value is a number', { from: FROM, to: TO, headers: { 'X-Num': 5 } }, 400, 'headers.X-Num'],
      ['header named Content-Type', { from: FROM, to: TO, headers: { 'Content-Type': 'text/evil' } }, 400, 'headers.Content-Type'],
      ['header named Bcc', { from: FROM, to: TO, headers: { Bcc: 'spy@example.net' } }, 400, 'headers.Bcc'],
      ['header named bcc (any case)', { from: FROM, to: TO, headers: { bcc: 'spy@example.net' } }, 400, 'headers.bcc'],
      ['header name with a space', { from: FROM, to: TO, headers: { 'X Foo': 'v' } }, 400, 'headers.X Foo'],
      ['header name with a colon', { from: FROM, to: TO, headers: { 'X-Foo:': 'v' } }, 400, 'headers.X-Foo:'],
      ['options is a string', { from: FROM, to: TO, options: 'fast' }, 400, 'options'],
      ['options.show_bcc is "yes"', { from: FROM, to: TO, options: { show_bcc: 'yes' } }, 400, 'options.show_bcc'],
      ['options.continue_after_bad_send is 1', { from: FROM, to: TO, options: { continue_after_bad_send: 1 } }, 400, 'options.continue_after_bad_send'],
      ['options.allow_header_encoding is "no"', { from: FROM, to: TO, options: { allow_header_encoding: 'no' } }, 400, 'options.allow_header_encoding'],
      ['options.timezone is unknown', { from: FROM, to: TO, options: { timezone: 'Mars/Olympus_Mons' } }, 400, 'options.timezone'],
      ['options.timezone is a number', { from: FROM, to: TO, options: { timezone: -500 } }, 400, 'options.timezone'],
      ['options.timezone is "+5"', { from: FROM, to: TO, options: { timezone: '+5' } }, 400, 'options.timezone'],
      ['an unknown option', { from: FROM, to: TO, options: { bogus: true } }, 400, 'options.bogus'],
      ['an unknown top-level field', { from: FROM, to: TO, bogus_field: 1 }, 400, 'bogus_field'],
      ['credential is a number', { from: FROM, to: TO, credential: 5 }, 400, 'credential'],
      ['an unknown credential', { from: FROM, to: TO, credential: 'other' }, 404, 'credential'],
    ];

    for (const [label, body, status, field] of table) {
      it(`${label} → ${status}${field ? ` naming ${field}` : ''}, no SMTP connection`, T, async () => {
        const before = smtp.tcpConnections;
        const r = await send(gw, body);
        assertErrorReply(r, status, field);
        if (field === undefined && r.json.field !== undefined) {
          // Where the contract leaves the field open, it must still follow
          // the rule: error starts with "<field>: ".
          assert.ok(r.json.error.startsWith(`${r.json.field}: `), r.text);
        }
        assert.equal(smtp.tcpConnections, before, 'no SMTP connection may be made for bad input');
      });
    }

    it('nothing from the table reached SMTP and the gateway still serves', T, async () => {
      assert.equal(smtp.errors.length, 0, String(smtp.errors));
      const h = await request(gw, 'GET', '/healthz', { token: null });
      assert.equal(h.status, 200);
      assert.deepEqual(h.json, { status: 'ok' });
      // Positive control: a good request right after does connect and
      // deliver, so the zero counts above could have been non-zero.
      const before = smtp.tcpConnections;
      const n = smtp.transactions.length;
      const r = await send(gw, ok({ subject: 'after the bad input', credential: 'default' }));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'sent');
      assert.ok(smtp.tcpConnections > before, 'a good send connects');
      const msgs = await smtp.waitForMessages(n + 1);
      assert.equal(msgs[n].parsed.subject, 'after the bad input');
      // No transaction ever carried the injected recipients or headers.
      for (const m of smtp.transactions) {
        assert.ok(!m.envelope.rcptTo.some((a) => /evil|victim|spy/.test(a)), JSON.stringify(m.envelope));
        assert.doesNotMatch(m.raw.toString('latin1'), /victim@|spy@|evil@/);
      }
    });
  });

  it('keeps serving after all of it, and never logged a secret', T, async () => {
    const h = await request(gw, 'GET', '/healthz', { token: null });
    assert.equal(h.status, 200);
    const exit = await gw.stop();
    assert.equal(exit.code, 0, `exit after SIGTERM; stderr:\n${gw.stderr()}`);
    assertCleanRun(gw);
  });
});
