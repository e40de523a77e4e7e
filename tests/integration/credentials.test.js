'use strict';
// The credential store through the admin API: PUT (secrets sealed on
// arrival, never stored, logged or echoed in the clear), GET without
// secrets, DELETE, a stored `default` over the environment's, a
// read-only store, a credential replaced under a running send, and
// POST .../verify reporting each step (a bad password, an untrusted
// certificate) and what the server offers.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const {
  assertCleanRun,
  assertErrorReply,
  cleanupAll,
  randomSecret,
  removeDir,
  request,
  send,
  sleep,
  startGateway,
} = require('./lib/gateway');
const { startSmtpServer } = require('./lib/smtpserver');
const { startScripted, gate, holdingScript } = require('./lib/scripted');
const { assertNoSecretsIn, makeCerts, modeOf, seal } = require('./lib/secrets');

const T = { timeout: 60000 };

after(cleanupAll);

const MSG = { from: 'app@example.com', to: 'rcpt@example.com', subject: 'stored', text: 'hello' };
const PW = randomSecret('pw_store_');
const TOKEN = randomSecret('xoauth_');

/* Every key of a JSON value, at any depth. */
function allKeys(v, out = new Set()) {
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (!Array.isArray(v)) out.add(k);
      allKeys(x, out);
    }
  }
  return out;
}

function assertNoSecretFields(json) {
  const keys = allKeys(json);
  for (const k of ['password', 'access_token', 'password_sealed', 'access_token_sealed']) {
    assert.ok(!keys.has(k), `a reply must not carry ${k}: ${JSON.stringify(json)}`);
  }
}

describe('the credential store', () => {
  let smtp;
  let other;
  let gw;

  before(async () => {
    smtp = await startSmtpServer({ auth: { username: 'mailer', password: PW } });
    other = await startSmtpServer();
    gw = await startGateway({ smtpPort: other.port, secrets: [PW, TOKEN] });
  });
  after(async () => {
    if (gw) await gw.stop();
    if (smtp) await smtp.close();
    if (other) await other.close();
    if (gw) assertCleanRun(gw);
  });

  const billing = (extra = {}) => ({
    host: '127.0.0.1',
    port: smtp.port,
    username: 'mailer',
    password: PW,
    allow_plaintext_auth: true,
    ...extra,
  });

  it('PUT with a password in the clear seals it on arrival; the credential sends with AUTH', T, async () => {
    const r = await request(gw, 'PUT', '/v1/credentials/billing', { body: billing() });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.name, 'billing');
    assert.equal(r.json.source, 'store');
    assert.equal(r.json.usable, true);
    assert.equal(r.json.password_set, true);
    assert.equal(r.json.access_token_set, false);
    assert.equal(r.json.port, smtp.port);
    assertNoSecretFields(r.json);

    const file = path.join(gw.dataDir, 'credentials.json');
    assert.equal(modeOf(file), 0o600);
    const store = JSON.parse(fs.readFileSync(file, 'utf8'));
    const key = (await request(gw, 'GET', '/v1/public-key', { token: null })).json;
    assert.equal(store.key_id, key.key_id, 'the store says which key sealed it');
    assert.match(store.credentials.billing.password_sealed, /^[A-Za-z0-9+/]{60,}=*$/);
    assert.equal(store.credentials.billing.password, undefined);
    assertNoSecretsIn(gw.dataDir, [PW]);

    const before = smtp.transactions.length;
    const s = await send(gw, { ...MSG, credential: 'billing' });
    assert.equal(s.status, 200, s.text);
    const [m] = (await smtp.waitForMessages(before + 1)).slice(before);
    assert.equal(m.user, 'mailer');

    const again = await request(gw, 'PUT', '/v1/credentials/billing', { body: billing({ helo_name: 'gw.example' }) });
    assert.equal(again.status, 200, `a replacement is 200: ${again.text}`);
    assert.equal((await request(gw, 'GET', '/v1/credentials/billing')).json.helo_name, 'gw.example');
  });

  it('GET lists every credential without secrets; GET one says which secrets are set', T, async () => {
    const sealed = await seal(gw.dataDir, TOKEN);
    const put = await request(gw, 'PUT', '/v1/credentials/oauth', {
      body: { host: '127.0.0.1', port: smtp.port, username: 'mailer', access_token_sealed: sealed, tls: 'starttls' },
    });
    assert.equal(put.status, 201, put.text);
    const one = await request(gw, 'GET', '/v1/credentials/oauth');
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.password_set, false);
    assert.equal(one.json.access_token_set, true);
    assert.equal(one.json.tls, 'starttls');
    assert.ok(!one.text.includes(sealed), 'not even the box is shown');
    assertNoSecretFields(one.json);

    const all = await request(gw, 'GET', '/v1/credentials');
    assert.equal(all.status, 200, all.text);
    const names = all.json.credentials.map((c) => `${c.name}:${c.source}`).sort();
    assert.deepEqual(names, ['billing:store', 'default:environment', 'oauth:store']);
    assertNoSecretFields(all.json);
    assert.ok(!all.text.includes(PW) && !all.text.includes(sealed));
    assert.equal((await request(gw, 'GET', '/v1/credentials/nobody')).status, 404);
  });

  const bad = [
    ['no host', {}, 'host'],
    ['a port out of range', { host: 'h', port: 70000 }, 'port'],
    ['an unknown TLS mode', { host: 'h', tls: 'sometimes' }, 'tls'],
    ['a host with a space', { host: 'a b' }, 'host'],
    ['an unknown mechanism', { host: 'h', mechanisms: 'NTLM' }, 'mechanisms'],
    ['an unknown field', { host: 'h', colour: 'blue' }, 'colour'],
    ['a username without a secret', { host: 'h', username: 'u' }, 'password'],
    ['a password without a username', { host: 'h', password: PW }, 'username'],
    ['a password both in the clear and sealed', { host: 'h', username: 'u', password: PW, password_sealed: 'AAAA' }, 'password'],
    ['a sealed password that is not base64', { host: 'h', username: 'u', password_sealed: `${PW}!` }, 'password_sealed'],
    ['a sealed password that is no box', { host: 'h', username: 'u', password_sealed: 'AAAA' }, 'password_sealed'],
    ['a password with a line break', { host: 'h', username: 'u', password: `${PW}\r\nQUIT` }, 'password'],
    ['a pool of 0', { host: 'h', pool: 0 }, 'pool'],
    ['a timeout that is a string', { host: 'h', timeout: '30' }, 'timeout'],
  ];
  for (const [label, body, field] of bad) {
    it(`PUT with ${label} is 400 naming ${field}, and stores nothing`, T, async () => {
      const r = await request(gw, 'PUT', '/v1/credentials/refused', { body });
      assertErrorReply(r, 400, field);
      assert.ok(!r.text.includes(PW), 'a refused secret is not echoed');
      assert.equal((await request(gw, 'GET', '/v1/credentials/refused')).status, 404);
    });
  }

  it('PUT with a body that is not JSON is 400; a name that is not one is 404', T, async () => {
    assertErrorReply(await request(gw, 'PUT', '/v1/credentials/x', { body: '{"host":' }), 400, null);
    for (const name of ['.hidden', '-dash', 'a'.repeat(65), 'with%20space']) {
      const r = await request(gw, 'PUT', `/v1/credentials/${name}`, { body: { host: 'h' } });
      assertErrorReply(r, 404, null);
    }
    assert.equal((await request(gw, 'PUT', '/v1/credentials/', { body: { host: 'h' }, contract: false })).status, 404);
  });

  it('DELETE removes a stored credential; the default of the environment is 409', T, async () => {
    const put = await request(gw, 'PUT', '/v1/credentials/doomed', { body: { host: '127.0.0.1', port: other.port } });
    assert.equal(put.status, 201, put.text);
    const del = await request(gw, 'DELETE', '/v1/credentials/doomed');
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.json, { status: 'deleted', name: 'doomed' });
    assert.equal((await request(gw, 'GET', '/v1/credentials/doomed')).status, 404);
    assertErrorReply(await send(gw, { ...MSG, credential: 'doomed' }), 404, 'credential');
    assertErrorReply(await request(gw, 'DELETE', '/v1/credentials/doomed'), 404, null);
    const env = await request(gw, 'DELETE', '/v1/credentials/default');
    assertErrorReply(env, 409, null);
    assert.match(env.json.error, /environment/);
    const store = JSON.parse(fs.readFileSync(path.join(gw.dataDir, 'credentials.json'), 'utf8'));
    assert.equal(store.credentials.doomed, undefined, 'gone from the file too');
  });

  it('a stored default wins over the environment\'s until it is deleted', T, async () => {
    const put = await request(gw, 'PUT', '/v1/credentials/default', { body: billing() });
    assert.equal(put.status, 201, put.text);
    const list = (await request(gw, 'GET', '/v1/credentials')).json.credentials;
    assert.deepEqual(list.filter((c) => c.name === 'default').map((c) => c.source), ['store']);
    const viaStore = smtp.transactions.length;
    assert.equal((await send(gw, MSG)).status, 200);
    await smtp.waitForMessages(viaStore + 1);
    assert.equal((await request(gw, 'DELETE', '/v1/credentials/default')).status, 200);
    const viaEnv = other.transactions.length;
    assert.equal((await send(gw, MSG)).status, 200);
    await other.waitForMessages(viaEnv + 1);
    assert.equal(smtp.transactions.length, viaStore + 1, 'the environment\'s default again');
  });
});

describe('the store file', () => {
  it('a store the gateway cannot write is refused with 409; everything else works', T, async () => {
    const other = await startSmtpServer();
    // /sys takes no new files, for root too.
    const gw = await startGateway({ smtpPort: other.port, env: { GATEWAY_CREDENTIALS_FILE: '/sys/smtp-gateway-credentials.json' } });
    try {
      const r = await request(gw, 'PUT', '/v1/credentials/x', { body: { host: '127.0.0.1', port: other.port } });
      assertErrorReply(r, 409, null);
      assert.match(r.json.error, /smtp-gateway-credentials\.json/);
      assert.equal((await request(gw, 'GET', '/v1/credentials/x')).status, 404);
      assert.equal((await send(gw, MSG)).status, 200, 'sending goes on');
    } finally {
      await gw.stop();
      await other.close();
    }
    assertCleanRun(gw);
  });

  it('a store that is not a credential file stops the start, naming it', T, async () => {
    const gw = await startGateway();
    const dir = gw.dataDir;
    await gw.stop();
    const file = path.join(dir, '..', `${path.basename(dir)}-creds.json`);
    fs.writeFileSync(file, JSON.stringify({ version: 1, credentials: { x: { host: 'h', password: 'plain' } } }));
    try {
      await assert.rejects(
        startGateway({ env: { GATEWAY_CREDENTIALS_FILE: file } }),
        /credential x: password: unknown field/,
        'a secret in the clear in the file is refused',
      );
    } finally {
      fs.rmSync(file, { force: true });
      removeDir(dir);
    }
  });
});

describe('a credential replaced under a running send', () => {
  it('the send finishes on the old pool; the next one sees the change', T, async () => {
    const release = gate();
    const script = () => holdingScript('held@', release.promise);
    const srv = await startScripted(script);
    const gw = await startGateway();
    try {
      const put = await request(gw, 'PUT', '/v1/credentials/live', { body: { host: '127.0.0.1', port: srv.port } });
      assert.equal(put.status, 201, put.text);
      const held = send(gw, { ...MSG, from: 'held@example.com', credential: 'live' }, { timeoutMs: 40000 });
      for (let i = 0; i < 200 && !srv.connections.some((c) => c.text.includes('MAIL FROM:<held@')); i++) await sleep(25);
      const del = await request(gw, 'DELETE', '/v1/credentials/live');
      assert.equal(del.status, 200, del.text);
      assertErrorReply(await send(gw, { ...MSG, credential: 'live' }), 404, 'credential');
      const again = await request(gw, 'PUT', '/v1/credentials/live', { body: { host: '127.0.0.1', port: srv.port, helo_name: 'new.example' } });
      assert.equal(again.status, 201, again.text);
      release.open();
      const r = await held;
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'sent');
      const next = await send(gw, { ...MSG, credential: 'live' });
      assert.equal(next.status, 200, next.text);
      assert.match(srv.connections[srv.connections.length - 1].text, /^EHLO new\.example\r$/m);
    } finally {
      release.open();
      await gw.stop();
      await srv.close();
    }
    assertCleanRun(gw);
  });
});

describe('POST /v1/credentials/{name}/verify', () => {
  let smtp;
  let gw;
  let certs;

  before(async () => {
    smtp = await startSmtpServer({ auth: { username: 'mailer', password: PW }, serverOptions: { size: 10485760 } });
    gw = await startGateway({ secrets: [PW] });
    certs = await makeCerts();
  });
  after(async () => {
    if (gw) await gw.stop();
    if (smtp) await smtp.close();
    if (certs) removeDir(certs.dir);
    if (gw) assertCleanRun(gw);
  });

  async function verify(name, body) {
    if (body) {
      const put = await request(gw, 'PUT', `/v1/credentials/${name}`, { body });
      assert.ok(put.status === 201 || put.status === 200, put.text);
    }
    const r = await request(gw, 'POST', `/v1/credentials/${name}/verify`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.credential, name);
    assertNoSecretFields(r.json);
    assert.ok(!r.text.includes(PW));
    return r.json;
  }

  const steps = (v) => v.steps.map((s) => `${s.step}:${s.ok}`);

  it('connects, greets, authenticates and quits, reporting what the server offers, and sends nothing', T, async () => {
    const mails = smtp.mailFromAttempts.length;
    const v = await verify('good', { host: '127.0.0.1', port: smtp.port, username: 'mailer', password: PW, allow_plaintext_auth: true });
    assert.equal(v.ok, true, JSON.stringify(v));
    assert.equal(v.error, null);
    assert.deepEqual(steps(v), ['connect:true', 'greeting:true', 'ehlo:true', 'auth:true', 'quit:true']);
    assert.match(v.server.greeting, /^220 .*test smtp-server ready/);
    assert.equal(v.server.authenticated, true);
    assert.ok(['PLAIN', 'LOGIN'].includes(v.server.mechanism), v.server.mechanism);
    assert.deepEqual([...v.server.auth].sort(), ['LOGIN', 'PLAIN']);
    assert.equal(v.server.size, 10485760);
    assert.equal(v.server.pipelining, true);
    assert.equal(v.server['8bitmime'], true);
    assert.equal(v.server.smtputf8, true);
    assert.equal(v.server.tls, false);
    assert.equal(smtp.mailFromAttempts.length, mails, 'no transaction');
  });

  it('reports a bad password as such', T, async () => {
    const v = await verify('wrong', {
      host: '127.0.0.1',
      port: smtp.port,
      username: 'mailer',
      password: randomSecret('wrong_'),
      allow_plaintext_auth: true,
      ignore_failed_auth: true, // a send would go on; verify must not
    });
    assert.equal(v.ok, false);
    assert.deepEqual(steps(v), ['connect:true', 'greeting:true', 'ehlo:true', 'auth:false', 'quit:true']);
    const auth = v.steps.find((s) => s.step === 'auth');
    assert.match(auth.error, /^AUTH (LOGIN|PLAIN) was refused: 535 /);
    assert.equal(v.error, auth.error);
    assert.equal(v.server.authenticated, false);
  });

  it('reports an untrusted certificate as such, and passes once its CA is given', T, async () => {
    const tlsSmtp = await startSmtpServer({
      auth: { username: 'mailer', password: PW },
      serverOptions: { secure: true, key: certs.key, cert: certs.cert },
    });
    try {
      const body = { host: '127.0.0.1', port: tlsSmtp.port, tls: 'implicit', username: 'mailer', password: PW };
      const v = await verify('tls', body);
      assert.equal(v.ok, false);
      assert.deepEqual(steps(v), ['connect:true', 'tls:false']);
      assert.match(v.steps[1].error, /certificate of 127\.0\.0\.1 is signed by an unknown CA/);
      const ok = await verify('tls', { ...body, ca_file: certs.caFile });
      assert.equal(ok.ok, true, JSON.stringify(ok));
      assert.deepEqual(steps(ok), ['connect:true', 'tls:true', 'greeting:true', 'ehlo:true', 'auth:true', 'quit:true']);
      assert.equal(ok.server.tls, true);
    } finally {
      await tlsSmtp.close();
    }
  });

  it('reports a server that is not there, and 404 for no such credential', T, async () => {
    const v = await verify('nowhere', { host: '127.0.0.1', port: 1 });
    assert.equal(v.ok, false);
    assert.deepEqual(steps(v), ['connect:false']);
    assert.match(v.error, /127\.0\.0\.1/);
    assertErrorReply(await request(gw, 'POST', '/v1/credentials/nobody/verify'), 404, null);
  });
});
