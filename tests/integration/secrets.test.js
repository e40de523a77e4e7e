'use strict';
// Sealed secrets: the gateway's key pair (keygen, GET /v1/public-key,
// GATEWAY_SECRET_KEY and _FILE), sealing anywhere (seal with the data
// directory, --public-key or --url), the default credential from
// GATEWAY_SMTP_PASSWORD_SEALED, a box that does not open failing alone,
// rekey, and no core dumps. Every test searches the logs, the replies and
// the files of the data directory for the secrets in the clear.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');

const {
  assertCleanRun,
  assertErrorReply,
  cleanupAll,
  closedPort,
  makeDataDir,
  randomSecret,
  removeDir,
  request,
  runGateway,
  send,
  sleep,
  startGateway,
  validEnv,
} = require('./lib/gateway');
const { startSmtpServer } = require('./lib/smtpserver');
const { assertNoSecretsIn, keygen, makeCerts, modeOf, runCli, seal, tamper } = require('./lib/secrets');

const T = { timeout: 60000 };

after(cleanupAll);

/*
 * Where the strings `needles` lie in the memory of process `pid`: every
 * readable mapping, read through /proc/<pid>/mem (root may, though the
 * gateway is not dumpable). Returns "mapping@address" for each hit.
 */
function scanMemory(pid, needles) {
  const maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n');
  const fd = fs.openSync(`/proc/${pid}/mem`, 'r');
  const hits = [];
  const size = (line) => {
    const [a, b] = line.split(' ')[0].split('-').map((x) => parseInt(x, 16));
    return b - a;
  };
  // ASan's shadow (14 TiB under SANITIZE=1) says which bytes may be used
  // and holds none of them; no other mapping comes near 1 TiB. ASan's
  // runtime also keeps a copy of the environment as the process started,
  // before the gateway wiped its own: GATEWAY_API_TOKEN=... there is the
  // test's doing, not the gateway's.
  const asan = maps.some((line) => line && size(line) >= 2 ** 40);
  const envCopy = (b, k) => asan && b.toString('latin1', Math.max(0, k - 18), k) === 'GATEWAY_API_TOKEN=';
  try {
    for (const line of maps) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (!m || m[3][0] !== 'r' || m[4] === '[vvar]' || m[4] === '[vsyscall]') continue;
      const start = parseInt(m[1], 16);
      const end = parseInt(m[2], 16);
      if (end - start >= 2 ** 40) continue;
      // Pieces of 1 MiB, overlapping by a token's length.
      for (let at = start; at < end; at += 1 << 20) {
        const len = Math.min((1 << 20) + 256, end - at);
        const b = Buffer.alloc(len);
        let n;
        try {
          n = fs.readSync(fd, b, 0, len, at);
        } catch {
          continue;
        }
        for (const s of needles) {
          for (let k = b.indexOf(s); k >= 0 && k < Math.min(n, 1 << 20); k = b.indexOf(s, k + 1)) {
            if (!(m[4] === '' && envCopy(b, k))) hits.push(`${m[4] || 'anonymous'}@${(at + k).toString(16)}`);
          }
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return hits;
}

const MSG = { from: 'ci@example.com', to: 'rcpt@example.com', subject: 'sealed', text: 'hello' };

/* A gateway on `dataDir` whose `default` has no AUTH (stored credentials
 * carry their own), with `secrets` searched for in its output. */
function startPlain(dataDir, secrets, extra = {}) {
  return startGateway({ dataDir, password: null, secrets, ...extra });
}

/* A stored credential for `smtp` as `user` with one of its secrets. */
function credential(smtp, user, secret) {
  return { host: '127.0.0.1', port: smtp.port, username: user, allow_plaintext_auth: true, ...secret };
}

function keyText(dir) {
  return fs.readFileSync(path.join(dir, 'gateway.key'), 'utf8').trim();
}

describe('the key pair', () => {
  it('keygen writes the secret key (0600) and the public key, and GET /v1/public-key agrees', T, async () => {
    const dir = makeDataDir();
    try {
      const k = await keygen(dir);
      assert.match(k.key_id, /^[0-9a-f]{16}$/);
      assert.equal(Buffer.from(k.public_key, 'base64').length, 32, 'an X25519 public key');
      assert.equal(modeOf(path.join(dir, 'gateway.key')), 0o600, 'the secret key is for the gateway alone');
      assert.equal(Buffer.from(keyText(dir), 'base64').length, 32);
      assert.equal(fs.readFileSync(path.join(dir, 'gateway.pub'), 'utf8').trim(), k.public_key);

      const again = await runCli(['keygen'], { dataDir: dir });
      assert.equal(again.code, 1, `a second keygen must refuse: ${again.stderr}`);
      assert.match(again.stderr, /rekey/, 'it points at rekey');
      assert.equal((await runCli(['keygen', '--nope'], { dataDir: dir })).code, 2, 'an unknown option is a usage error');

      const gw = await startPlain(dir, [keyText(dir)]);
      const r = await request(gw, 'GET', '/v1/public-key', { token: null });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { key_id: k.key_id, public_key: k.public_key });
      await gw.stop();
      assertCleanRun(gw);
    } finally {
      removeDir(dir);
    }
  });

  it('the gateway makes its key pair on first start when there is none', T, async () => {
    const gw = await startGateway();
    try {
      assert.equal(modeOf(path.join(gw.dataDir, 'gateway.key')), 0o600);
      assert.match(gw.stderr(), /event=key_generated key_id=[0-9a-f]{16}/);
      const r = await request(gw, 'GET', '/v1/public-key', { token: null });
      assert.equal(r.json.public_key, fs.readFileSync(path.join(gw.dataDir, 'gateway.pub'), 'utf8').trim());
      gw.secrets.push(keyText(gw.dataDir));
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });

  it('GATEWAY_SECRET_KEY and GATEWAY_SECRET_KEY_FILE give the key, before the data directory', T, async () => {
    const keyDir = makeDataDir();
    try {
      const k = await keygen(keyDir);
      const secret = keyText(keyDir);
      const file = path.join(keyDir, 'mounted-secret');
      fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
      for (const env of [{ GATEWAY_SECRET_KEY: secret }, { GATEWAY_SECRET_KEY_FILE: file }]) {
        const gw = await startGateway({ env, secrets: [secret] });
        try {
          const r = await request(gw, 'GET', '/v1/public-key', { token: null });
          assert.equal(r.json.key_id, k.key_id, JSON.stringify(Object.keys(env)));
          assert.ok(!fs.existsSync(path.join(gw.dataDir, 'gateway.key')), 'no key is made in the data directory');
        } finally {
          await gw.stop();
        }
        assertCleanRun(gw);
      }
      const both = await runGateway(['serve'], await validEnv({ GATEWAY_SECRET_KEY: secret, GATEWAY_SECRET_KEY_FILE: file }));
      assert.equal(both.code, 2, both.stderr);
      assert.match(both.stderr, /GATEWAY_SECRET_KEY_FILE: set it or GATEWAY_SECRET_KEY, not both/);
      assert.ok(!both.stderr.includes(secret), 'the key is never echoed');
      const bad = await runGateway(['serve'], await validEnv({ GATEWAY_SECRET_KEY: 'c2hvcnQ=' }));
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /GATEWAY_SECRET_KEY: not a secret key/);
    } finally {
      removeDir(keyDir);
    }
  });
});

describe('sealing', () => {
  const PW = randomSecret('pw_seal_');
  let smtp;

  before(async () => {
    smtp = await startSmtpServer({ auth: { username: 'mailer', password: PW } });
  });
  after(async () => {
    if (smtp) await smtp.close();
  });

  it('seal with the data directory, --public-key and --url make boxes the gateway opens', T, async () => {
    const dir = makeDataDir();
    const elsewhere = makeDataDir(); // a CI runner: no key at all
    const k = await keygen(dir);
    const gw = await startPlain(dir, [PW, keyText(dir)]);
    try {
      const boxes = [
        await seal(dir, PW),
        await seal(elsewhere, PW, ['--public-key', k.public_key]),
        await seal(elsewhere, PW, ['--url', gw.url]),
      ];
      assert.equal(new Set(boxes).size, 3, 'every sealing is randomised');
      for (const [i, box] of boxes.entries()) {
        assert.ok(!Buffer.from(box, 'base64').toString('latin1').includes(PW), 'the box hides the secret');
        const put = await request(gw, 'PUT', `/v1/credentials/c${i}`, {
          body: credential(smtp, 'mailer', { password_sealed: box }),
        });
        assert.equal(put.status, 201, put.text);
        const before = smtp.authAttempts.length;
        const r = await send(gw, { ...MSG, credential: `c${i}` });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.status, 'sent');
        assert.deepEqual(smtp.authAttempts.slice(before).map((a) => a.ok), [true], 'one AUTH, accepted');
      }
      assertNoSecretsIn(dir, [PW]);
      assert.deepEqual(fs.readdirSync(elsewhere), [], 'sealing elsewhere needs and leaves nothing');
    } finally {
      await gw.stop();
      removeDir(dir);
      removeDir(elsewhere);
    }
    assertCleanRun(gw);
  });

  it('seal --url over https checks the certificate and the key id', T, async () => {
    const dir = makeDataDir();
    const certs = await makeCerts();
    const k = await keygen(dir);
    let served = k;
    const server = https.createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
      const ok = req.url === '/gw/v1/public-key';
      res.writeHead(ok ? 200 : 404, { 'Content-Type': 'application/json' });
      res.end(ok ? JSON.stringify(served) : '{}');
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${server.address().port}/gw/`;
    try {
      const untrusted = await runCli(['seal', '--url', url], { input: PW });
      assert.equal(untrusted.code, 1, untrusted.stderr);
      assert.match(untrusted.stderr, /unknown CA/);
      const box = await seal(makeDataDir(), PW, ['--url', url, '--ca-file', certs.caFile]);
      const gw = await startPlain(dir, [PW]);
      try {
        const put = await request(gw, 'PUT', '/v1/credentials/fetched', {
          body: credential(smtp, 'mailer', { password_sealed: box }),
        });
        assert.equal(put.status, 201, `the box opens with the served key: ${put.text}`);
      } finally {
        await gw.stop();
      }
      assertCleanRun(gw);
      served = { key_id: '0000000000000000', public_key: k.public_key };
      const forged = await runCli(['seal', '--url', url, '--ca-file', certs.caFile], { input: PW });
      assert.equal(forged.code, 1, forged.stderr);
      assert.match(forged.stderr, /does not match its key id/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      removeDir(dir);
      removeDir(certs.dir);
    }
  });

  it('seal refuses an empty secret, two key sources, and a --url that is no gateway', T, async () => {
    const dir = makeDataDir();
    try {
      const k = await keygen(dir);
      const empty = await runCli(['seal'], { dataDir: dir, input: '\n' });
      assert.equal(empty.code, 1);
      assert.match(empty.stderr, /nothing to seal/);
      const both = await runCli(['seal', '--public-key', k.public_key, '--url', 'http://127.0.0.1:1'], {
        dataDir: dir,
        input: 'x',
      });
      assert.equal(both.code, 2, both.stderr);
      const nobody = await runCli(['seal', '--url', `http://127.0.0.1:${await closedPort()}`], {
        dataDir: dir,
        input: 'x',
      });
      assert.equal(nobody.code, 1, nobody.stderr);
      assert.match(nobody.stderr, /seal: http:\/\/127\.0\.0\.1:\d+: cannot connect/);
      const badKey = await runCli(['seal', '--public-key', 'bm90IGEga2V5'], { input: 'x' });
      assert.equal(badKey.code, 1);
      assert.match(badKey.stderr, /not a public key/);
      const noKey = await runCli(['seal'], { dataDir: makeDataDir(), input: 'x' });
      assert.equal(noKey.code, 1, 'without a key anywhere there is nothing to seal for');
    } finally {
      removeDir(dir);
    }
  });
});

describe('the default credential with a sealed password', () => {
  const PW = randomSecret('pw_default_');
  let smtp;
  let dir;
  let box;

  before(async () => {
    smtp = await startSmtpServer({ auth: { username: 'mailer', password: PW } });
    dir = makeDataDir();
    await keygen(dir);
    box = await seal(dir, PW);
  });
  after(async () => {
    if (smtp) await smtp.close();
    removeDir(dir);
  });

  const authEnv = (extra) => ({
    GATEWAY_SMTP_USERNAME: 'mailer',
    GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH: 'true',
    ...extra,
  });

  it('GATEWAY_SMTP_PASSWORD_SEALED sends with AUTH; no plaintext in the logs or the files', T, async () => {
    const gw = await startPlain(dir, [PW], { smtpPort: smtp.port, env: authEnv({ GATEWAY_SMTP_PASSWORD_SEALED: box }) });
    try {
      const before = smtp.transactions.length;
      const r = await send(gw, MSG);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'sent');
      const [m] = (await smtp.waitForMessages(before + 1)).slice(before);
      assert.equal(m.user, 'mailer', 'the session was authenticated as the credential\'s user');
      const info = await request(gw, 'GET', '/v1/credentials/default');
      assert.equal(info.json.password_set, true);
      assert.equal(info.json.source, 'environment');
      assert.ok(!info.text.includes(box), 'not even the box is shown');
      assertNoSecretsIn(dir, [PW]);
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });

  it('GATEWAY_SMTP_PASSWORD in the clear still works and is written nowhere', T, async () => {
    const gw = await startGateway({ smtpPort: smtp.port, password: PW, env: authEnv({}) });
    try {
      const r = await send(gw, MSG);
      assert.equal(r.status, 200, r.text);
      assertNoSecretsIn(gw.dataDir, [PW]);
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });

  it('GATEWAY_SMTP_PASSWORD with GATEWAY_SMTP_PASSWORD_SEALED is a configuration error', T, async () => {
    const env = await validEnv({ GATEWAY_SMTP_PASSWORD: PW, GATEWAY_SMTP_PASSWORD_SEALED: box });
    const r = await runGateway(['serve'], env);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /GATEWAY_SMTP_PASSWORD_SEALED: set it or GATEWAY_SMTP_PASSWORD, not both/);
    assert.ok(!r.stderr.includes(PW));
    const notBase64 = await runGateway(['serve'], await validEnv({ GATEWAY_SMTP_PASSWORD_SEALED: 'not base64!' }));
    assert.equal(notBase64.code, 2);
    assert.match(notBase64.stderr, /GATEWAY_SMTP_PASSWORD_SEALED: must be base64/);
  });

  it('a tampered default is reported at start-up by name and refused at use; a stored credential still sends', T, async () => {
    const own = makeDataDir();
    fs.cpSync(dir, own, { recursive: true });
    let gw = await startPlain(own, [PW]);
    const put = await request(gw, 'PUT', '/v1/credentials/billing', {
      body: credential(smtp, 'mailer', { password_sealed: box }),
    });
    assert.equal(put.status, 201, put.text);
    await gw.stop();
    assertCleanRun(gw);

    gw = await startPlain(own, [PW], { smtpPort: smtp.port, env: authEnv({ GATEWAY_SMTP_PASSWORD_SEALED: tamper(box) }) });
    try {
      assert.match(
        gw.stderr(),
        /level=error event=credential_unusable name=default source=environment detail="password_sealed: the sealed box does not open with the gateway's key/,
      );
      const connections = smtp.tcpConnections;
      const r = await send(gw, MSG);
      assertErrorReply(r, 500, 'credential');
      assert.match(r.json.error, /the credential "default" cannot be used: .*does not open/);
      assert.equal(smtp.tcpConnections, connections, 'nothing reaches the server');
      const v = await request(gw, 'POST', '/v1/credentials/default/verify');
      assert.equal(v.status, 200, v.text);
      assert.equal(v.json.ok, false);
      assert.match(v.json.error, /does not open/);
      const ok = await send(gw, { ...MSG, credential: 'billing' });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json.status, 'sent');
    } finally {
      await gw.stop();
      removeDir(own);
    }
    assertCleanRun(gw);
  });

  it('a tampered box in the store fails alone, with a clear error', T, async () => {
    const own = makeDataDir();
    fs.cpSync(dir, own, { recursive: true });
    let gw = await startPlain(own, [PW]);
    for (const name of ['good', 'bad']) {
      const put = await request(gw, 'PUT', `/v1/credentials/${name}`, {
        body: credential(smtp, 'mailer', { password: PW }),
      });
      assert.equal(put.status, 201, put.text);
    }
    await gw.stop();
    assertCleanRun(gw);
    const file = path.join(own, 'credentials.json');
    const store = JSON.parse(fs.readFileSync(file, 'utf8'));
    store.credentials.bad.password_sealed = tamper(store.credentials.bad.password_sealed);
    fs.writeFileSync(file, JSON.stringify(store));

    gw = await startPlain(own, [PW]);
    try {
      assert.match(gw.stderr(), /level=error event=credential_unusable name=bad source=store detail="password_sealed: the sealed box does not open/);
      assert.doesNotMatch(gw.stderr(), /event=credential_unusable name=good/);
      const bad = await send(gw, { ...MSG, credential: 'bad' });
      assertErrorReply(bad, 500, 'credential');
      assert.match(bad.json.error, /^credential: the credential "bad" cannot be used: password_sealed: the sealed box does not open with the gateway's key \(key id [0-9a-f]{16}\)/);
      const info = await request(gw, 'GET', '/v1/credentials/bad');
      assert.equal(info.json.usable, false);
      assert.match(info.json.error, /does not open/);
      const good = await send(gw, { ...MSG, credential: 'good' });
      assert.equal(good.status, 200, good.text);
      assert.equal(good.json.status, 'sent');
    } finally {
      await gw.stop();
      removeDir(own);
    }
    assertCleanRun(gw);
  });

  it('a box sealed for another gateway is refused when it is stored', T, async () => {
    const other = makeDataDir();
    try {
      await keygen(other);
      const foreign = await seal(other, PW);
      const gw = await startPlain(dir, [PW]);
      try {
        const r = await request(gw, 'PUT', '/v1/credentials/foreign', {
          body: credential(smtp, 'mailer', { password_sealed: foreign }),
        });
        assertErrorReply(r, 400, 'password_sealed');
        assert.match(r.json.error, /sealed for another key, or altered/);
        assert.equal((await request(gw, 'GET', '/v1/credentials/foreign')).status, 404, 'nothing was stored');
      } finally {
        await gw.stop();
      }
      assertCleanRun(gw);
    } finally {
      removeDir(other);
    }
  });
});

describe('rekey', () => {
  const PWA = randomSecret('pw_a_');
  const PWB = randomSecret('pw_b_');
  let smtpA;
  let smtpB;

  before(async () => {
    smtpA = await startSmtpServer({ auth: { username: 'a', password: PWA } });
    smtpB = await startSmtpServer({ auth: { username: 'b', password: PWB } });
  });
  after(async () => {
    if (smtpA) await smtpA.close();
    if (smtpB) await smtpB.close();
  });

  /* A data directory with credentials a (sealed on arrival) and b (sealed
   * by the CLI); resolves to { dir, k, boxB }. */
  async function populated() {
    const dir = makeDataDir();
    const k = await keygen(dir);
    const boxB = await seal(dir, PWB);
    const gw = await startPlain(dir, [PWA, PWB]);
    for (const [name, body] of [
      ['a', credential(smtpA, 'a', { password: PWA })],
      ['b', credential(smtpB, 'b', { password_sealed: boxB })],
    ]) {
      const r = await request(gw, 'PUT', `/v1/credentials/${name}`, { body });
      assert.equal(r.status, 201, r.text);
    }
    await gw.stop();
    assertCleanRun(gw);
    return { dir, k, boxB };
  }

  it('re-seals every stored secret for a new key pair, and every credential keeps working', T, async () => {
    const { dir, k, boxB } = await populated();
    const file = path.join(dir, 'credentials.json');
    const before = JSON.parse(fs.readFileSync(file, 'utf8'));
    try {
      const r = await runCli(['rekey'], { dataDir: dir });
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.notEqual(out.key_id, k.key_id);
      assert.equal(out.resealed, 2);
      assert.equal(fs.readFileSync(path.join(dir, 'gateway.pub'), 'utf8').trim(), out.public_key);
      assert.ok(!fs.existsSync(path.join(dir, 'gateway.key.next')));
      const after = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.equal(after.key_id, out.key_id);
      for (const name of ['a', 'b']) {
        assert.notEqual(after.credentials[name].password_sealed, before.credentials[name].password_sealed);
        assert.equal(after.credentials[name].host, before.credentials[name].host, 'the settings stay');
      }
      assert.equal(modeOf(file), 0o600);
      assertNoSecretsIn(dir, [PWA, PWB]);

      const gw = await startPlain(dir, [PWA, PWB]);
      try {
        assert.equal((await request(gw, 'GET', '/v1/public-key', { token: null })).json.key_id, out.key_id);
        for (const name of ['a', 'b']) {
          const s = await send(gw, { ...MSG, credential: name });
          assert.equal(s.status, 200, `${name}: ${s.text}`);
          assert.equal(s.json.status, 'sent');
        }
        const old = await request(gw, 'PUT', '/v1/credentials/c', {
          body: credential(smtpB, 'b', { password_sealed: boxB }),
        });
        assertErrorReply(old, 400, 'password_sealed');
      } finally {
        await gw.stop();
      }
      assertCleanRun(gw);
    } finally {
      removeDir(dir);
    }
  });

  it('stops, changing nothing, when a stored box does not open', T, async () => {
    const { dir } = await populated();
    try {
      const file = path.join(dir, 'credentials.json');
      const store = JSON.parse(fs.readFileSync(file, 'utf8'));
      store.credentials.b.password_sealed = tamper(store.credentials.b.password_sealed);
      fs.writeFileSync(file, JSON.stringify(store));
      const key = keyText(dir);
      const text = fs.readFileSync(file, 'utf8');
      const r = await runCli(['rekey'], { dataDir: dir });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /credential b: password_sealed: .*does not open.*fix or delete it first/);
      assert.equal(keyText(dir), key, 'the key stays');
      assert.equal(fs.readFileSync(file, 'utf8'), text, 'the store stays');
      assert.ok(!fs.existsSync(path.join(dir, 'gateway.key.next')));
    } finally {
      removeDir(dir);
    }
  });

  it('a key from the environment is replaced through --new-key-file', T, async () => {
    const { dir } = await populated();
    const keyFile = path.join(dir, 'mounted.key');
    fs.renameSync(path.join(dir, 'gateway.key'), keyFile);
    const env = { GATEWAY_SECRET_KEY_FILE: keyFile };
    try {
      const refused = await runCli(['rekey'], { dataDir: dir, env });
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /--new-key-file/);
      const next = path.join(dir, 'next.key');
      const r = await runCli(['rekey', '--new-key-file', next], { dataDir: dir, env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(modeOf(next), 0o600);
      const gw = await startPlain(dir, [PWA, PWB], { env: { GATEWAY_SECRET_KEY_FILE: next } });
      try {
        assert.equal((await request(gw, 'GET', '/v1/public-key', { token: null })).json.key_id, JSON.parse(r.stdout).key_id);
        for (const name of ['a', 'b']) assert.equal((await send(gw, { ...MSG, credential: name })).status, 200);
      } finally {
        await gw.stop();
      }
      assertCleanRun(gw);
    } finally {
      removeDir(dir);
    }
  });

  it('a running gateway does not overwrite a store re-sealed under it (409)', T, async () => {
    const { dir } = await populated();
    const gw = await startPlain(dir, [PWA, PWB]);
    try {
      assert.equal((await runCli(['rekey'], { dataDir: dir })).code, 0);
      const r = await request(gw, 'PUT', '/v1/credentials/c', { body: credential(smtpA, 'a', { password: PWA }) });
      assertErrorReply(r, 409, null);
      assert.match(r.json.error, /changed on disk.*restart the gateway/);
      const del = await request(gw, 'DELETE', '/v1/credentials/a');
      assert.equal(del.status, 409, del.text);
    } finally {
      await gw.stop();
      removeDir(dir);
    }
    assertCleanRun(gw);
  });
});

describe('process hygiene', () => {
  it('the secrets of the environment are wiped from the process once read', T, async () => {
    const key = 'hX1n8Q3tq0cJw1yq8mB1o5s2m0pQ7v9Zr4u6w8y0A2c='; // 32 bytes
    const gw = await startGateway({ env: { GATEWAY_SECRET_KEY: key, GATEWAY_SMTP_USERNAME: 'u' }, secrets: [key] });
    try {
      let environ = null;
      try {
        environ = fs.readFileSync(`/proc/${gw.pid}/environ`, 'latin1');
      } catch (e) {
        // Not dumpable: only root may read it.
        assert.equal(e.code, 'EACCES', e.message);
      }
      if (environ !== null) {
        assert.ok(environ.includes('GATEWAY_SMTP_HOST=127.0.0.1'), 'the environment block is there');
        for (const secret of [gw.token, gw.password, key]) {
          assert.ok(!environ.includes(secret), `a secret (${secret.slice(0, 4)}...) is still in the environment`);
        }
      }
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });

  it('no bearer token stays in the memory of the process after its requests', T, async () => {
    const gw = await startGateway();
    try {
      const made = await request(gw, 'POST', '/v1/tokens', { body: { name: 'scan', scope: 'admin' } });
      assert.equal(made.status, 201, made.text);
      const tokens = [gw.token, made.json.token];
      gw.secrets.push(made.json.token);
      // Each request on its own connection, some at once, one refused.
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => request(gw, 'GET', '/v1/credentials', { token: tokens[i % 2] })),
      );
      for (const token of tokens) {
        const r = await send(gw, MSG, { token });
        assert.equal(r.status, 502, r.text); // no upstream listens
      }
      const bad = await request(gw, 'GET', '/v1/credentials', { token: `${gw.token}x` });
      assert.equal(bad.status, 401);
      await sleep(300); // the connections' threads end
      const found = scanMemory(gw.pid, tokens);
      assert.deepEqual(found, [], `token bytes found in the gateway's memory at ${found.join(', ')}`);
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });

  it('the gateway never dumps core (RLIMIT_CORE 0)', T, async () => {
    const gw = await startGateway();
    try {
      const limits = fs.readFileSync(`/proc/${gw.pid}/limits`, 'utf8');
      assert.match(limits, /^Max core file size\s+0\s+0\s/m);
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });
});
