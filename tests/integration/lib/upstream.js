'use strict';
// Helpers shared by the TLS, AUTH and ESMTP suites: the secrets an AUTH
// exchange derives from a password or token (none may be logged), reply
// assertions, and scripted AUTH dialogues that check the exact bytes.

const assert = require('node:assert/strict');

const { assertNoSecrets, send: sendRaw, startGateway: startGatewayRaw } = require('./gateway');

/* A gateway with one upstream connection per send (no reuse:
 * GATEWAY_SMTP_IDLE_TIMEOUT=0), so that every script is one whole
 * session, greeting to QUIT. */
function startSessionGateway(opts = {}) {
  return startGatewayRaw({ ...opts, env: { GATEWAY_SMTP_IDLE_TIMEOUT: 0, ...(opts.env || {}) } });
}

/* POST /v1/messages; no reply may hold a secret (password, token, API token). */
async function sendChecked(gw, body, opts) {
  const r = await sendRaw(gw, body, opts);
  assertNoSecrets(gw, r.text);
  return r;
}

const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');

/* The initial response of AUTH PLAIN / XOAUTH2, base64. */
function plainResponse(user, password) {
  return b64(`\0${user}\0${password}`);
}
function xoauth2Response(user, token) {
  return b64(`user=${user}\x01auth=Bearer ${token}\x01\x01`);
}

/*
 * Every form of the secrets an AUTH exchange puts on the wire, for
 * startGateway({ secrets }): the gateway must never write any of them.
 */
function authSecrets(user, { password, token } = {}) {
  const out = [];
  if (password) out.push(password, plainResponse(user, password), b64(password));
  if (token) out.push(token, xoauth2Response(user, token), b64(token));
  return out;
}

/*
 * Asserts a send reply with `status` (sent/partial/failed) and the HTTP
 * code, that every recipient has `enhanced_code` where `enhanced` is
 * true, and that `error` holds each of `needles` (strings, compared
 * without regard to case, or RegExps). Returns the JSON.
 */
function assertOutcome(r, httpStatus, status, needles = []) {
  assert.equal(r.status, httpStatus, `HTTP status; body: ${r.text}`);
  const j = r.json;
  assert.ok(j && typeof j === 'object', `a JSON reply, got ${r.text}`);
  assert.equal(j.status, status, r.text);
  if (status === 'sent') assert.equal(j.error, null, `error is null when sent: ${r.text}`);
  if (needles.length) {
    assert.equal(typeof j.error, 'string', `an error text: ${r.text}`);
    for (const n of needles) {
      if (n instanceof RegExp) assert.match(j.error, n, `error: ${j.error}`);
      else assert.ok(j.error.toLowerCase().includes(n.toLowerCase()), `error should mention ${JSON.stringify(n)}: ${j.error}`);
    }
  }
  return j;
}

/* Reads the rest of a scripted AUTH dialogue inside a reply function. */
async function nextLine(conn) {
  const l = await conn.readLine();
  return l === null ? null : l.replace(/\r?\n$/, '');
}

/*
 * A reply function for a scripted { read: /^AUTH PLAIN/ } step: takes the
 * credentials with the initial response or after a "334 " challenge,
 * records what came in conn.auth, and answers 235 when they match
 * (`result` overrides: e.g. a 535 line).
 */
function plainAuth(user, password, result) {
  return async (line, conn) => {
    let resp = line.replace(/\r?\n$/, '').slice('AUTH PLAIN'.length).trim();
    if (resp === '') {
      conn.write('334 \r\n');
      resp = await nextLine(conn);
    }
    const ok = resp === plainResponse(user, password);
    conn.auth = { method: 'PLAIN', ok };
    if (result) return result;
    return ok ? '235 2.7.0 Authentication successful\r\n' : '535 5.7.8 Authentication credentials invalid\r\n';
  };
}

/* The same for AUTH LOGIN (user name with the command or after 334). */
function loginAuth(user, password, result) {
  return async (line, conn) => {
    let u = line.replace(/\r?\n$/, '').slice('AUTH LOGIN'.length).trim();
    if (u === '') {
      conn.write('334 VXNlcm5hbWU6\r\n');
      u = await nextLine(conn);
    }
    conn.write('334 UGFzc3dvcmQ6\r\n');
    const p = await nextLine(conn);
    const ok = u === b64(user) && p === b64(password);
    conn.auth = { method: 'LOGIN', ok };
    if (result) return result;
    return ok ? '235 2.7.0 Authentication successful\r\n' : '535 5.7.8 Authentication credentials invalid\r\n';
  };
}

/*
 * AUTH XOAUTH2 (initial response with the command or after "334 "). With
 * `errorJson` the token is refused with an XOAUTH2 error challenge: 334
 * and the base64 JSON, then the client's (empty) answer is recorded in
 * conn.xoauth2Answer and a 535 follows.
 */
function xoauth2Auth(user, token, errorJson) {
  return async (line, conn) => {
    let resp = line.replace(/\r?\n$/, '').slice('AUTH XOAUTH2'.length).trim();
    if (resp === '') {
      conn.write('334 \r\n');
      resp = await nextLine(conn);
    }
    const ok = resp === xoauth2Response(user, token);
    conn.auth = { method: 'XOAUTH2', ok };
    if (errorJson) {
      conn.write(`334 ${b64(JSON.stringify(errorJson))}\r\n`);
      conn.xoauth2Answer = await conn.readLine();
      return '535 5.7.8 Username and Password not accepted\r\n';
    }
    return ok ? '235 2.7.0 Accepted\r\n' : '535 5.7.8 Username and Password not accepted\r\n';
  };
}

/* "EHLO <name>\r\n" at the start of `text`: the name. */
function ehloName(text) {
  const m = /^EHLO (\S+)\r\n/.exec(text);
  assert.ok(m, `starts with EHLO <name>: ${JSON.stringify(text.slice(0, 80))}`);
  return m[1];
}

/* `text` is `expected`, optionally followed by QUIT (nothing else). */
function assertThenAtMostQuit(text, expected, what) {
  assert.ok(
    text === expected || text === expected + 'QUIT\r\n',
    `${what}: expected ${JSON.stringify(expected)} (and at most QUIT), got ${JSON.stringify(text)}`,
  );
}

module.exports = {
  sendChecked,
  startSessionGateway,
  assertOutcome,
  assertThenAtMostQuit,
  authSecrets,
  b64,
  ehloName,
  loginAuth,
  plainAuth,
  plainResponse,
  xoauth2Auth,
  xoauth2Response,
};
