'use strict';
// The data directory holds the key pair and the token file, which the
// gateway reads again while it runs: it refuses to start (one line on
// stderr, exit 2) when the directory or anything in it could be written
// by another user, and the token commands refuse it too (exit 1).

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { cleanupAll, makeDataDir, removeDir, runGateway, validEnv } = require('./lib/gateway');
const { runCli } = require('./lib/secrets');

const T = { timeout: 30000 };
const NOBODY = 65534;

after(cleanupAll);

/* Starts the gateway on `dir`; it must exit 2 with the one line `re`. */
async function assertRefused(dir, re) {
  const r = await runGateway(['serve'], await validEnv({ GATEWAY_DATA_DIR: dir }));
  assert.equal(r.timedOut, false, `the gateway started serving; stderr:\n${r.stderr}`);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^smtp-gateway: GATEWAY_DATA_DIR: [^\n]+\n$/, 'one line on stderr');
  assert.match(r.stderr, re);
  assert.equal(r.stdout, '');
}

describe('the data directory', () => {
  it('a directory of mode 0777 is refused', T, async () => {
    const dir = makeDataDir();
    try {
      fs.chmodSync(dir, 0o777);
      await assertRefused(dir, new RegExp(`${dir} is writable by group or others \\(mode 0777\\); chmod go-w it\\n$`));
      assert.deepEqual(fs.readdirSync(dir), [], 'nothing was made in it');
    } finally {
      removeDir(dir);
    }
  });

  it('a group-writable file in it is refused', T, async () => {
    const dir = makeDataDir();
    try {
      const file = path.join(dir, 'tokens.json');
      fs.writeFileSync(file, '{"version":1,"tokens":[]}');
      fs.chmodSync(file, 0o660);
      await assertRefused(dir, new RegExp(`${file} is writable by group or others \\(mode 0660\\)`));
    } finally {
      removeDir(dir);
    }
  });

  it('a file owned by another user is refused', T, async () => {
    const dir = makeDataDir();
    try {
      const file = path.join(dir, 'gateway.key');
      fs.writeFileSync(file, 'hX1n8Q3tq0cJw1yq8mB1o5s2m0pQ7v9Zr4u6w8y0A2c=\n', { mode: 0o600 });
      fs.chownSync(file, NOBODY, NOBODY);
      await assertRefused(
        dir,
        new RegExp(`${file} is owned by uid ${NOBODY}, not by the gateway's user \\(uid ${process.getuid()}\\)`),
      );
    } finally {
      removeDir(dir);
    }
  });

  it('a symbolic link to a file others may write is refused', T, async () => {
    const dir = makeDataDir();
    const outside = makeDataDir();
    try {
      const target = path.join(outside, 'credentials.json');
      fs.writeFileSync(target, '{}');
      fs.chmodSync(target, 0o666);
      fs.symlinkSync(target, path.join(dir, 'credentials.json'));
      await assertRefused(dir, /credentials\.json is writable by group or others \(mode 0666\)/);
    } finally {
      removeDir(dir);
      removeDir(outside);
    }
  });

  it('token create refuses such a directory as well, and writes nothing', T, async () => {
    const dir = makeDataDir();
    try {
      fs.chmodSync(dir, 0o770);
      const r = await runCli(['token', 'create', 'ci', '--scope', 'admin'], { dataDir: dir });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^smtp-gateway: GATEWAY_DATA_DIR: .* is writable by group or others \(mode 0770\)/);
      assert.equal(r.stdout, '');
      assert.deepEqual(fs.readdirSync(dir), []);
    } finally {
      removeDir(dir);
    }
  });
});
