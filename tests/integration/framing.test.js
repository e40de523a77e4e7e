'use strict';
// HTTP framing over raw sockets: a request whose length is ambiguous (two
// Content-Length fields, or Content-Length with Transfer-Encoding) is a
// 400 naming the header and the connection is closed, so that nothing
// behind the first body can be read as a second request; a chunked body
// past --max-body is cut off with a 413 at the limit; a long query of
// to= parameters gets a proper reply, and one past what a connection may
// hold a 414 or 431. Every test states what the SMTP server received:
// nothing, for every refusal.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');

const { assertCleanRun, cleanupAll, request, sleep, startGateway } = require('./lib/gateway');
const { checkResponse, findResponse } = require('./lib/contract');
const { startSmtpServer } = require('./lib/smtpserver');

const T = { timeout: 60000 };

after(cleanupAll);

const MSG = JSON.stringify({ from: 'a@example.com', to: 'b@example.com', subject: 'x', text: 'first' });
const SMUGGLED = JSON.stringify({ from: 'a@example.com', to: 'b@example.com', subject: 'x', text: 'smuggled' });

/*
 * Writes `bytes` on a new connection and collects everything the server
 * sends until it closes the connection. Resolves to { text, closed,
 * statusLine, status, headers, json, responses } where responses counts
 * the status lines seen (a second one means a smuggled request ran).
 */
function exchange(port, bytes, { timeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`the server did not close the connection in ${timeoutMs} ms; got ${Buffer.concat(chunks)}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      resolve(parse(Buffer.concat(chunks).toString('latin1'), true));
    };
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', finish);
    sock.on('error', (e) => (chunks.length ? finish() : reject(e)));
    sock.write(bytes);
  });
}

function parse(text, closed) {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const lines = head.split('\r\n');
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const n = headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
  const body = end < 0 ? '' : text.slice(end + 4, n === undefined ? undefined : end + 4 + n);
  let json;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0]);
  return {
    text,
    closed,
    statusLine: lines[0],
    status: m ? Number(m[1]) : undefined,
    headers,
    body,
    json,
    responses: (text.match(/(^|\r\n)HTTP\/1\.[01] \d{3} /g) || []).length,
  };
}

function head(gw, lines) {
  return (
    'POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
    `Authorization: Bearer ${gw.token}\r\nContent-Type: application/json\r\n` +
    lines.map((l) => `${l}\r\n`).join('') +
    '\r\n'
  );
}

/* A second complete request, to follow the first body on the wire. */
function second(gw) {
  return head(gw, [`Content-Length: ${SMUGGLED.length}`]) + SMUGGLED;
}

/* The reply is one JSON error naming `header`, and the connection closed. */
function assertFramingError(r, statusLine, header) {
  assert.equal(r.statusLine, statusLine, r.text);
  assert.equal(r.responses, 1, `exactly one response on the connection:\n${r.text}`);
  assert.ok(r.closed, 'the connection is closed');
  assert.match(r.headers['content-type'] || '', /^application\/json\b/);
  assert.equal(r.json && r.json.status, 'failed', r.text);
  assert.ok(r.json.error.startsWith(`${header}: `), `the error names ${header}: ${r.json.error}`);
  checkResponse('POST', '/v1/messages', { status: r.status, headers: r.headers, text: r.body, json: r.json });
}

describe('HTTP framing', () => {
  let smtp;
  let gw;

  before(async () => {
    smtp = await startSmtpServer();
    gw = await startGateway({ smtpPort: smtp.port, env: { GATEWAY_SMTP_IDLE_TIMEOUT: 0 } });
  });
  after(async () => {
    if (gw) {
      await gw.stop();
      assertCleanRun(gw);
    }
    if (smtp) await smtp.close();
  });

  it('two different Content-Length fields: 400 naming it, closed, nothing sent', T, async () => {
    const before = smtp.tcpConnections;
    const body = MSG + second(gw);
    const r = await exchange(gw.port, head(gw, [`Content-Length: ${MSG.length}`, `Content-Length: ${body.length}`]) + body);
    assertFramingError(r, 'HTTP/1.1 400 Bad Request', 'Content-Length');
    await sleep(200);
    assert.equal(smtp.tcpConnections, before, 'the SMTP server saw no connection');
  });

  it('the same Content-Length twice is refused as well', T, async () => {
    const before = smtp.tcpConnections;
    const r = await exchange(gw.port, head(gw, [`Content-Length: ${MSG.length}`, `Content-Length: ${MSG.length}`]) + MSG);
    assertFramingError(r, 'HTTP/1.1 400 Bad Request', 'Content-Length');
    assert.equal(smtp.tcpConnections, before);
  });

  it('Content-Length with Transfer-Encoding: chunked: 400 naming it, closed, nothing sent', T, async () => {
    const before = smtp.tcpConnections;
    // Read by its length the body is a message and then a second request;
    // read as chunks it is one empty body. Either reading is refused.
    const body = `0\r\n\r\n${MSG}`;
    const r = await exchange(
      gw.port,
      head(gw, [`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked']) + body + second(gw),
    );
    assertFramingError(r, 'HTTP/1.1 400 Bad Request', 'Transfer-Encoding');
    await sleep(200);
    assert.equal(smtp.tcpConnections, before, 'the SMTP server saw no connection');
  });

  it('a Transfer-Encoding other than chunked is refused', T, async () => {
    const before = smtp.tcpConnections;
    const r = await exchange(gw.port, head(gw, ['Transfer-Encoding: gzip, chunked']) + `${MSG.length.toString(16)}\r\n${MSG}\r\n0\r\n\r\n`);
    assertFramingError(r, 'HTTP/1.1 400 Bad Request', 'Transfer-Encoding');
    assert.equal(smtp.tcpConnections, before);
  });

  it('a well-framed request on the same gateway is still sent', T, async () => {
    const r = await exchange(gw.port, head(gw, [`Content-Length: ${MSG.length}`, 'Connection: close']) + MSG);
    assert.equal(r.statusLine, 'HTTP/1.1 200 OK', r.text);
    assert.equal(r.json.status, 'sent');
  });
});

/*
 * Streams a chunked body of `total` bytes in chunks of 64 KiB, stopping as
 * soon as a reply arrives, the server closes or a write fails. Resolves to
 * the reply (parsed) and `written`, the bytes sent until then.
 */
function streamChunked(port, start, total) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    // Lines of 100 bytes: a body the raw route reads as a message.
    const chunk = Buffer.from(`${'z'.repeat(98)}\r\n`.repeat(655));
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    const got = [];
    let written = 0;
    let stopped = false;
    let closed = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no reply in 60 s after ${written} bytes`));
    }, 60000);
    const stop = () => {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      // Give the rest of the reply and the close a moment to arrive.
      setTimeout(() => {
        sock.destroy();
        resolve({ reply: parse(Buffer.concat(got).toString('latin1'), closed), written });
      }, 300);
    };
    sock.on('data', (c) => {
      got.push(c);
      if (Buffer.concat(got).includes('\r\n\r\n')) stop();
    });
    sock.on('end', () => {
      closed = true;
      stop();
    });
    sock.on('close', () => {
      closed = true;
      stop();
    });
    sock.on('error', () => {
      closed = true;
      stop();
    });
    // One chunk per turn of the event loop, as a client that reads its
    // socket while it sends: a loop of writes the kernel keeps taking
    // would never see the reply until a write failed.
    const pump = () => {
      if (stopped) return;
      if (written >= total) {
        sock.write('0\r\n\r\n');
        return;
      }
      written += frame.length;
      if (sock.write(frame)) setImmediate(pump);
      else sock.once('drain', pump);
    };
    sock.once('connect', () => {
      sock.write(start);
      pump();
    });
  });
}

describe('a chunked body past --max-body', () => {
  let smtp;
  let gw;
  const TOTAL = 256 * 1024 * 1024;

  before(async () => {
    smtp = await startSmtpServer();
    gw = await startGateway({ smtpPort: smtp.port, env: { GATEWAY_MAX_BODY: '64K', GATEWAY_SMTP_IDLE_TIMEOUT: 0 } });
  });
  after(async () => {
    if (gw) {
      await gw.stop();
      assertCleanRun(gw);
    }
    if (smtp) await smtp.close();
  });

  /* A chunk of the body, framed. */
  const chunk = (text) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;

  it('POST /v1/messages: 413 at the limit and the connection closed, not read to its end', T, async () => {
    const before = smtp.tcpConnections;
    const start =
      'POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
      `Authorization: Bearer ${gw.token}\r\nContent-Type: application/json\r\n` +
      'Transfer-Encoding: chunked\r\n\r\n';
    const { reply, written } = await streamChunked(gw.port, start, TOTAL);
    assert.equal(reply.statusLine, 'HTTP/1.1 413 Content Too Large', reply.text.slice(0, 400));
    assert.equal(reply.json && reply.json.status, 'failed', reply.text.slice(0, 400));
    assert.match(reply.json.error, /larger than the limit of 65536 bytes/);
    checkResponse('POST', '/v1/messages', { status: reply.status, headers: reply.headers, text: reply.body, json: reply.json });
    assert.ok(reply.closed, 'the connection is closed');
    // Socket buffers take a few MiB at most; the whole is 256 MiB.
    assert.ok(written < TOTAL / 8, `the gateway took ${written} of ${TOTAL} bytes`);
    assert.equal(smtp.tcpConnections, before, 'the SMTP server saw no connection');
    const h = await request(gw, 'GET', '/healthz', { token: null });
    assert.equal(h.status, 200, 'still serving');
  });

  it('POST /v1/messages/raw: 413 naming message at the limit, closed, nothing delivered', T, async () => {
    const n = smtp.transactions.length;
    const start =
      'POST /v1/messages/raw?from=a@example.com&to=b@example.com HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
      `Authorization: Bearer ${gw.token}\r\nContent-Type: message/rfc822\r\n` +
      'Transfer-Encoding: chunked\r\n\r\n' +
      chunk('From: a@example.com\r\nSubject: long\r\n\r\n');
    const { reply, written } = await streamChunked(gw.port, start, TOTAL);
    assert.equal(reply.statusLine, 'HTTP/1.1 413 Content Too Large', reply.text.slice(0, 400));
    assert.equal(reply.json && reply.json.field, 'message', reply.text.slice(0, 400));
    checkResponse('POST', '/v1/messages/raw', { status: reply.status, headers: reply.headers, text: reply.body, json: reply.json });
    assert.ok(reply.closed, 'the connection is closed');
    assert.ok(written < TOTAL / 8, `the gateway took ${written} of ${TOTAL} bytes`);
    await sleep(200);
    assert.equal(smtp.transactions.length, n, 'nothing delivered');
  });
});

/*
 * libmicrohttpd's own answer to a request it cannot hold: a short HTML
 * page without a Content-Type. The document lists the status; its body is
 * not the gateway's to shape.
 */
function assertLibraryAnswer(r) {
  const found = findResponse('POST', '/v1/messages/raw', r.status);
  assert.equal(found.error, undefined, found.error);
  assert.match(r.body, /^<html>.*too big.*<\/html>$/s);
}

describe('long queries', () => {
  let smtp;
  let gw;

  before(async () => {
    smtp = await startSmtpServer();
    gw = await startGateway({ smtpPort: smtp.port, env: { GATEWAY_SMTP_IDLE_TIMEOUT: 0 } });
  });
  after(async () => {
    if (gw) {
      await gw.stop();
      assertCleanRun(gw);
    }
    if (smtp) await smtp.close();
  });

  function rawPost(query, extraHeaders = []) {
    const body = 'From: a@example.com\r\nSubject: many\r\n\r\nhello\r\n';
    return (
      `POST /v1/messages/raw?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Authorization: Bearer ${gw.token}\r\nContent-Type: message/rfc822\r\n` +
      extraHeaders.map((h) => `${h}\r\n`).join('') +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`
    );
  }

  it('1000 to= parameters (the most recipients) are sent to every one', T, async () => {
    const to = Array.from({ length: 1000 }, (_, i) => `to=recipient-number-${String(i).padStart(4, '0')}@example.com`);
    const n = smtp.transactions.length;
    const r = await exchange(gw.port, rawPost(`from=a@example.com&${to.join('&')}`));
    assert.equal(r.statusLine, 'HTTP/1.1 200 OK', r.text.slice(0, 600));
    assert.equal(r.json.status, 'sent');
    assert.equal(r.json.recipients.length, 1000);
    checkResponse('POST', '/v1/messages/raw', { status: r.status, headers: r.headers, text: r.body, json: r.json });
    const got = await smtp.waitForMessages(n + 1);
    assert.equal(got[n].envelope.rcptTo.length, 1000);
  });

  it('a request line past what a connection holds: 414, closed, nothing sent', T, async () => {
    const before = smtp.tcpConnections;
    const r = await exchange(gw.port, rawPost(`from=a@example.com&to=${'x'.repeat(300 * 1024)}@example.com`));
    assert.equal(r.statusLine, 'HTTP/1.1 414 URI Too Long', r.text.slice(0, 400));
    assert.ok(r.closed);
    assert.equal(r.headers.connection, 'close');
    assertLibraryAnswer(r);
    assert.equal(smtp.tcpConnections, before);
  });

  it('header fields past what a connection holds: 431, closed, nothing sent', T, async () => {
    const before = smtp.tcpConnections;
    const big = Array.from({ length: 300 }, (_, i) => `X-Filler-${i}: ${'y'.repeat(1000)}`);
    const r = await exchange(gw.port, rawPost('from=a@example.com&to=b@example.com', big));
    assert.equal(r.statusLine, 'HTTP/1.1 431 Request Header Fields Too Large', r.text.slice(0, 400));
    assert.ok(r.closed);
    assert.equal(r.headers.connection, 'close');
    assertLibraryAnswer(r);
    assert.equal(smtp.tcpConnections, before);
  });
});
