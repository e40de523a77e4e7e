'use strict';
// API tokens: made by `smtp-gateway token create` (seen by a running
// gateway at once) or POST /v1/tokens, shown once and stored only as a
// hash; 401 for no or an unknown token, 403 naming the field for a token
// outside its scope, its credentials or its From domains; GET and DELETE
// /v1/tokens; GATEWAY_API_TOKEN as the bootstrap admin token.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const {
  assertCleanRun,
  assertErrorReply,
  cleanupAll,
  logged,
  makeDataDir,
  removeDir,
  request,
  runGateway,
  send,
  startGateway,
  validEnv,
} = require('./lib/gateway');
const { startSmtpServer } = require('./lib/smtpserver');
const { modeOf, runCli, runOk } = require('./lib/secrets');

const T = { timeout: 60000 };

after(cleanupAll);

const MSG = { from: 'app@example.com', to: 'rcpt@example.com', subject: 'token', text: 'hello' };
const TOKEN_RE = /^sgw_[A-Za-z0-9_-]{43}$/;

describe('API tokens', () => {
  let smtp;
  let gw;
  const made = []; // every token made, to search the output for

  before(async () => {
    smtp = await startSmtpServer();
    gw = await startGateway({ smtpPort: smtp.port });
    const put = await request(gw, 'PUT', '/v1/credentials/billing', { body: { host: '127.0.0.1', port: smtp.port } });
    assert.equal(put.status, 201, put.text);
  });
  after(async () => {
    if (gw) {
      gw.secrets.push(...made);
      await gw.stop();
      assertCleanRun(gw);
    }
    if (smtp) await smtp.close();
  });

  /* `token create` on the running gateway's data directory. */
  async function cliToken(name, ...args) {
    const out = await runOk(['token', 'create', name, ...args], { dataDir: gw.dataDir });
    const token = out.trim();
    assert.match(token, TOKEN_RE);
    made.push(token);
    return token;
  }

  /* Everything a token must never be found in but its creation. */
  function assertTokenHidden(token) {
    const file = fs.readFileSync(path.join(gw.dataDir, 'tokens.json'), 'utf8');
    assert.ok(!file.includes(token) && !file.includes(token.slice(4, 24)), 'tokens.json holds only hashes');
    assert.ok(!gw.stderr().includes(token.slice(4, 24)), 'no token in the logs');
  }

  it('token create prints a new token once; a running gateway takes it at once', T, async () => {
    const token = await cliToken('ci', '--scope', 'send');
    const r = await send(gw, MSG, { token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'sent');
    const file = path.join(gw.dataDir, 'tokens.json');
    assert.equal(modeOf(file), 0o600);
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')).tokens.find((t) => t.name === 'ci');
    assert.match(stored.hash, /^[0-9a-f]{64}$/);
    assert.equal(stored.scope, 'send');
    assertTokenHidden(token);
    const again = await runCli(['token', 'create', 'ci', '--scope', 'send'], { dataDir: gw.dataDir });
    assert.equal(again.code, 1, 'a name is used once');
    assert.match(again.stderr, /"ci" already/);
  });

  it('401 for no token or an unknown one; 403 for a send token on the admin routes', T, async () => {
    const token = await cliToken('sender', '--scope', 'send');
    for (const t of [null, 'sgw_unknown0000000000000000000000000000000000', `${token}x`, token.slice(0, -1)]) {
      const r = await request(gw, 'GET', '/v1/credentials', { token: t });
      assertErrorReply(r, 401, null);
    }
    for (const [method, p, body] of [
      ['GET', '/v1/credentials'],
      ['GET', '/v1/credentials/billing'],
      ['PUT', '/v1/credentials/x', { host: 'h' }],
      ['DELETE', '/v1/credentials/billing'],
      ['POST', '/v1/credentials/billing/verify'],
      ['GET', '/v1/tokens'],
      ['POST', '/v1/tokens', { name: 'evil', scope: 'admin' }],
      ['DELETE', '/v1/tokens/ci'],
    ]) {
      const r = await request(gw, method, p, { token, body });
      assertErrorReply(r, 403, null);
      assert.match(r.json.error, /"sender" has the send scope; .* needs a token of the admin scope/);
    }
    assert.equal((await request(gw, 'GET', '/v1/credentials/billing')).status, 200, 'the route works for admins');
    assert.equal((await request(gw, 'GET', '/v1/public-key', { token: null })).status, 200, 'the public key needs no token');
  });

  it('a send token with --credentials uses only those (403 naming credential)', T, async () => {
    const token = await cliToken('billing-only', '--scope', 'send', '--credentials', 'billing');
    const before = smtp.tcpConnections;
    const refused = await send(gw, MSG, { token });
    assertErrorReply(refused, 403, 'credential');
    assert.match(refused.json.error, /may not use the credential "default"/);
    const raw = await request(gw, 'POST', '/v1/messages/raw?from=app@example.com&to=rcpt@example.com', {
      token,
      body: 'Subject: raw\r\n\r\nhi\r\n',
      contentType: 'message/rfc822',
    });
    assertErrorReply(raw, 403, 'credential');
    assert.equal(smtp.tcpConnections, before, 'nothing reached the server');
    const ok = await send(gw, { ...MSG, credential: 'billing' }, { token });
    assert.equal(ok.status, 200, ok.text);
  });

  it('a send token with --from-domains sends only from those (403 naming from)', T, async () => {
    const token = await cliToken('example-only', '--scope', 'send', '--from-domains', 'example.com,example.org');
    const connections = smtp.tcpConnections;
    for (const from of ['app@evil.example', 'app@sub.example.com', 'Name <app@example.net>']) {
      const r = await send(gw, { ...MSG, from }, { token });
      assertErrorReply(r, 403, 'from');
      assert.match(r.json.error, /may send only from the domains example\.com,example\.org/);
    }
    const raw = await request(gw, 'POST', '/v1/messages/raw?from=app@evil.example&to=rcpt@example.com', {
      token,
      body: 'Subject: raw\r\n\r\nhi\r\n',
      contentType: 'message/rfc822',
    });
    assertErrorReply(raw, 403, 'from');
    assert.equal(smtp.tcpConnections, connections, 'nothing reached the server');
    for (const from of ['app@example.com', 'App <app@EXAMPLE.ORG>']) {
      const r = await send(gw, { ...MSG, from }, { token });
      assert.equal(r.status, 200, `${from}: ${r.text}`);
    }
  });

  it('POST, GET and DELETE /v1/tokens: the token once, never its hash, gone when deleted', T, async () => {
    const r = await request(gw, 'POST', '/v1/tokens', {
      body: { name: 'deploy', scope: 'admin', credentials: ['billing'], from_domains: ['example.com'] },
    });
    assert.equal(r.status, 201, r.text);
    assert.match(r.json.token, TOKEN_RE);
    made.push(r.json.token);
    assert.deepEqual(
      { ...r.json, token: undefined, created: undefined },
      { name: 'deploy', scope: 'admin', credentials: ['billing'], from_domains: ['example.com'], token: undefined, created: undefined },
    );
    assert.match(r.json.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const admin = r.json.token;
    assert.equal((await request(gw, 'GET', '/v1/credentials', { token: admin })).status, 200, 'an admin token');
    assertErrorReply(await send(gw, MSG, { token: admin }), 403, 'credential');

    const list = await request(gw, 'GET', '/v1/tokens', { token: admin });
    assert.equal(list.status, 200, list.text);
    assert.ok(list.json.tokens.some((t) => t.name === 'deploy' && t.scope === 'admin'));
    assert.ok(list.json.tokens.every((t) => t.hash === undefined && t.token === undefined));
    for (const t of made) assert.ok(!list.text.includes(t), 'no token in a listing');
    assertTokenHidden(admin);

    const del = await request(gw, 'DELETE', '/v1/tokens/deploy');
    assert.equal(del.status, 200, del.text);
    assertErrorReply(await request(gw, 'GET', '/v1/credentials', { token: admin }), 401, null);
    assertErrorReply(await request(gw, 'DELETE', '/v1/tokens/deploy'), 404, null);
  });

  const bad = [
    ['no name', { scope: 'send' }, 'name'],
    ['a name with a space', { name: 'a b', scope: 'send' }, 'name'],
    ['the bootstrap name', { name: 'bootstrap', scope: 'send' }, 'name'],
    ['an unknown scope', { name: 'x', scope: 'root' }, 'scope'],
    ['credentials that are not names', { name: 'x', scope: 'send', credentials: ['a,b'] }, 'credentials'],
    ['a domain that is not one', { name: 'x', scope: 'send', from_domains: ['exa mple.com'] }, 'from_domains'],
    ['a hash of its own', { name: 'x', scope: 'send', hash: '00' }, 'hash'],
    ['an unknown field', { name: 'x', scope: 'send', expires: 'never' }, 'expires'],
    ['a name in use', { name: 'ci', scope: 'send' }, 'name'],
  ];
  for (const [label, body, field] of bad) {
    it(`POST /v1/tokens with ${label} is 400 naming ${field}`, T, async () => {
      const r = await request(gw, 'POST', '/v1/tokens', { body });
      assertErrorReply(r, 400, field);
    });
  }

  it('token list and token delete on the command line', T, async () => {
    await cliToken('short-lived', '--scope', 'send');
    const list = await runOk(['token', 'list'], { dataDir: gw.dataDir });
    assert.match(list, /^short-lived scope=send credentials=\* from_domains=\* created=\S+$/m);
    assert.match(list, /^billing-only scope=send credentials=billing /m);
    await runOk(['token', 'delete', 'short-lived'], { dataDir: gw.dataDir });
    const gone = await runCli(['token', 'delete', 'short-lived'], { dataDir: gw.dataDir });
    assert.equal(gone.code, 1);
    for (const args of [['token'], ['token', 'create', 'x'], ['token', 'create', 'x', '--scope', 'root'],
      ['token', 'create', 'x', '--scope', 'send', '--credentials', 'a b'], ['token', 'create', 'x', '--scope', 'send', '--url', 'u']]) {
      const r = await runCli(args, { dataDir: gw.dataDir });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
  });

  it('GATEWAY_API_TOKEN stays the bootstrap admin token', T, async () => {
    assert.equal((await request(gw, 'GET', '/v1/tokens')).status, 200);
    assert.equal((await send(gw, { ...MSG, credential: 'billing', from: 'x@anywhere.example' })).status, 200);
  });
});

// A token and its hash as token files of version 1 hold it: BLAKE2b-256
// keyed with the constant "smtp-gateway api token hash v1" (computed once
// with Python's hashlib; tests/unit/test_vault.c checks the same pair).
const OLD_TOKEN = 'sgw_oldconstantkeyedtoken0123456789abcdefghij';
const OLD_HASH = 'fed1b6debf02a80844f8a62d9d1c0b0edfa89068e54dea6a68a48ee1cdb18030';

function readTokens(dir) {
  return JSON.parse(fs.readFileSync(path.join(dir, 'tokens.json'), 'utf8'));
}

function writeTokens(dir, doc) {
  fs.writeFileSync(path.join(dir, 'tokens.json'), JSON.stringify(doc), { mode: 0o600 });
}

describe('the key of the token hashes', () => {
  const oldFile = {
    version: 1,
    tokens: [{ name: 'old', scope: 'admin', credentials: [], from_domains: [], hash: OLD_HASH, created: '2026-01-01T00:00:00Z' }],
  };

  it('a token file of version 1 is carried over at start: its token still works, its hash is keyed anew', T, async () => {
    const dir = makeDataDir();
    writeTokens(dir, oldFile);
    const gw = await startGateway({ dataDir: dir, secrets: [OLD_TOKEN] });
    try {
      const r = await request(gw, 'GET', '/v1/tokens', { token: OLD_TOKEN });
      assert.equal(r.status, 200, r.text);
      const doc = readTokens(dir);
      assert.equal(doc.version, 2);
      const key = await request(gw, 'GET', '/v1/public-key', { token: null });
      assert.equal(doc.key_id, key.json.key_id);
      assert.match(doc.hash_key, /^[A-Za-z0-9+/]{96}$/);
      assert.equal(doc.tokens[0].name, 'old');
      assert.match(doc.tokens[0].hash, /^[0-9a-f]{64}$/);
      assert.notEqual(doc.tokens[0].hash, OLD_HASH, 'the hash is keyed with the secret now');
      assert.match(gw.stderr(), /event=tokens_migrated tokens=1 /);
    } finally {
      await gw.stop();
      removeDir(dir);
    }
    assertCleanRun(gw);
  });

  it('a hash made with the constant key is no token; a new token is hashed with the secret key', T, async () => {
    const dir = makeDataDir();
    const gw = await startGateway({ dataDir: dir, secrets: [OLD_TOKEN] });
    try {
      const made = await runOk(['token', 'create', 'new', '--scope', 'admin'], { dataDir: dir });
      const token = made.trim();
      gw.secrets.push(token);
      // What someone who may write the file, and knows the constant, adds.
      const doc = readTokens(dir);
      doc.tokens.push({ ...oldFile.tokens[0], name: 'planted' });
      writeTokens(dir, doc);
      const planted = await request(gw, 'GET', '/v1/tokens', { token: OLD_TOKEN });
      assert.equal(planted.status, 401, planted.text);
      const good = await request(gw, 'GET', '/v1/tokens', { token });
      assert.equal(good.status, 200, good.text);
      assert.ok(good.json.tokens.some((t) => t.name === 'planted'), 'the file was read again');
      // The same file as version 1 (no hash key) is not taken while running.
      writeTokens(dir, { version: 1, tokens: doc.tokens });
      assert.equal((await request(gw, 'GET', '/v1/tokens', { token: OLD_TOKEN })).status, 401);
      await logged(gw, /event=tokens_unreadable .*version 1/);
    } finally {
      await gw.stop();
      removeDir(dir);
    }
    assertCleanRun(gw);
  });

  /*
   * A rekey stopped by a crash leaves the new key beside the old one and
   * some of the files sealed for it. Each such state is made from the
   * files before and after a real rekey; the next start must leave every
   * file matching one key, with the stored credential and the token
   * working.
   */
  describe('a rekey stopped half-way', () => {
    const FILES = ['gateway.key', 'gateway.pub', 'credentials.json', 'tokens.json'];

    /* { before, after, token }: the files of a data directory with a
     * stored credential and a token, before and after `rekey`. */
    async function snapshots() {
      const dir = makeDataDir();
      try {
        const token = (await runOk(['token', 'create', 'ci', '--scope', 'admin'], { dataDir: dir })).trim();
        const gw = await startGateway({ dataDir: dir, secrets: [token] });
        try {
          const put = await request(gw, 'PUT', '/v1/credentials/billing', { body: { host: '127.0.0.1', port: 25, username: 'u', password: 'pw-stored' } });
          assert.equal(put.status, 201, put.text);
        } finally {
          await gw.stop();
        }
        const read = () => Object.fromEntries(FILES.map((f) => [f, fs.readFileSync(path.join(dir, f))]));
        const before = read();
        await runOk(['rekey'], { dataDir: dir });
        return { before, after: read(), token };
      } finally {
        removeDir(dir);
      }
    }

    /* A data directory holding `files` (name to content). */
    function dirOf(files) {
      const dir = makeDataDir();
      for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
      return dir;
    }

    const states = [
      ['after the store was re-sealed, before the token file', 'finished', (b, a) => ({ ...b, 'gateway.key.next': a['gateway.key'], 'credentials.json': a['credentials.json'] })],
      ['after the token file, with no stored credential yet', 'finished', (b, a) => {
        const { 'credentials.json': _, ...rest } = b;
        return { ...rest, 'gateway.key.next': a['gateway.key'], 'tokens.json': a['tokens.json'] };
      }],
      ['after the new key was written, before anything else', 'abandoned', (b, a) => ({ ...b, 'gateway.key.next': a['gateway.key'] })],
    ];
    for (const [when, outcome, make] of states) {
      it(`${when}: the next start ${outcome === 'finished' ? 'finishes' : 'drops'} it, and every file matches the key`, T, async () => {
        const { before, after, token } = await snapshots();
        const dir = dirOf(make(before, after));
        try {
          const gw = await startGateway({ dataDir: dir, secrets: [token] });
          try {
            assert.equal((await request(gw, 'GET', '/v1/tokens', { token })).status, 200, 'the token works');
            const key = (await request(gw, 'GET', '/v1/public-key', { token: null })).json.key_id;
            const expected = JSON.parse((outcome === 'finished' ? after : before)['tokens.json']).key_id;
            assert.equal(key, expected);
            assert.equal(readTokens(dir).key_id, key, 'the token file matches the key');
            if (fs.existsSync(path.join(dir, 'credentials.json'))) {
              assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'credentials.json'), 'utf8')).key_id, key);
              assert.equal((await request(gw, 'GET', '/v1/credentials/billing', { token })).status, 200);
            }
            assert.ok(!fs.existsSync(path.join(dir, 'gateway.key.next')), 'the new key is renamed or dropped');
            assert.match(gw.stderr(), new RegExp(`event=rekey_${outcome}`));
          } finally {
            await gw.stop();
          }
          assertCleanRun(gw);
        } finally {
          removeDir(dir);
        }
      });
    }
  });

  it('rekey wraps the hash key for the new key pair: tokens keep working, the old key opens it no more', T, async () => {
    const dir = makeDataDir();
    try {
      const token = (await runOk(['token', 'create', 'ci', '--scope', 'admin'], { dataDir: dir })).trim();
      const before = readTokens(dir);
      const oldKey = fs.readFileSync(path.join(dir, 'gateway.key'), 'utf8').trim();
      const rekeyed = JSON.parse(await runOk(['rekey'], { dataDir: dir }));
      const after = readTokens(dir);
      assert.equal(before.key_id === rekeyed.key_id, false);
      assert.equal(after.key_id, rekeyed.key_id);
      assert.notEqual(after.hash_key, before.hash_key);
      assert.deepEqual(after.tokens, before.tokens, 'the hashes stay');
      const gw = await startGateway({ dataDir: dir, secrets: [token] });
      try {
        assert.equal((await request(gw, 'GET', '/v1/tokens', { token })).status, 200);
      } finally {
        await gw.stop();
      }
      assertCleanRun(gw);
      // With the old key the token file does not open: exit 2, saying so.
      const r = await runGateway(['serve'], await validEnv({ GATEWAY_DATA_DIR: dir, GATEWAY_SECRET_KEY: oldKey }));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /\nsmtp-gateway: [^\n]*tokens\.json: hash_key: does not open with the gateway's key[^\n]*\n$/);
    } finally {
      removeDir(dir);
    }
  });
});
