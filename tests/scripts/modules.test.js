'use strict';
// scripts/modules.sh, the check of the module order in `make lint`, on
// small trees made here: each rule must refuse what breaks it, and a tree
// that keeps every rule must pass.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');

const SCRIPT = path.resolve(__dirname, '..', '..', 'scripts', 'modules.sh');

// A tree of `files` (path -> text) in a new git repository; returns what
// the script printed and its exit status.
function check(files) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-modules-'));
  try {
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.join(root, path.dirname(name)), { recursive: true });
      fs.writeFileSync(path.join(root, name), text);
    }
    spawnSync('git', ['init', '-q'], { cwd: root });
    const r = spawnSync('bash', [SCRIPT], {
      env: { ...process.env, MODULES_ROOT: root },
      encoding: 'utf8',
    });
    return { out: r.stdout + r.stderr, status: r.status };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

// A tree that keeps every rule, which each test below breaks once.
const GOOD = {
  'base/base.h': '#include <stddef.h>\n',
  'base/buf.c': '#include "base.h"\n',
  'net/net.h': '#include "base/base.h"\n',
  'net/tls.c': '#include "net.h"\n#include <mbedtls/ssl.h>\n',
  'smtp/smtp.h': '#include "net/net.h"\n',
  'smtp/session.h': '#include "smtp.h"\n',
  'smtp/client.c': '#include "session.h"\n',
  'smtp/session.c': '#include "session.h"\n',
  'api/api.h': '#include "smtp/smtp.h"\n#include "base/base.h"\n',
  'api/json.c': '#include "api.h"\n#include <jansson.h>\n',
};

test('a tree that keeps the rules passes', () => {
  const r = check(GOOD);
  assert.equal(r.status, 0, r.out);
  assert.equal(r.out, '');
});

test('a module including one above it is refused', () => {
  const r = check({ ...GOOD, 'net/io.c': '#include "smtp/smtp.h"\n' });
  assert.equal(r.status, 1);
  assert.match(r.out, /^net\/io\.c:1: net\/ may not include smtp\/ \(may: base\)$/m);
});

test('mime and smtp may not use each other', () => {
  const r = check({
    ...GOOD,
    'mime/mime.h': '#include "base/base.h"\n',
    'mime/raw.c': '#include "smtp/smtp.h"\n',
    'smtp/data.c': '#include "mime/mime.h"\n',
  });
  assert.equal(r.status, 1);
  assert.match(r.out, /^mime\/raw\.c:1: mime\/ may not include smtp\//m);
  assert.match(r.out, /^smtp\/data\.c:1: smtp\/ may not include mime\//m);
});

test('only the public header of another module may be included', () => {
  const r = check({ ...GOOD, 'api/send.c': '#include "smtp/session.h"\n' });
  assert.equal(r.status, 1);
  assert.match(r.out, /api\/send\.c:1: "smtp\/session\.h": from outside smtp\/, only smtp\/smtp\.h/);
});

test('a library outside its room is refused', () => {
  const r = check({
    ...GOOD,
    'api/vault.c': '#include <sodium.h>\n',
    'smtp/tls2.c': '#include <mbedtls/ssl.h>\n',
  });
  assert.equal(r.status, 1);
  assert.match(r.out, /^api\/vault\.c:1: <sodium\.h> may be included only by core\/vault\.c$/m);
  assert.match(r.out, /^smtp\/tls2\.c:1: <mbedtls\/ssl\.h> may be included only by net\/tls\.c$/m);
});

test('a circle of files within a module is refused, through headers', () => {
  const r = check({
    ...GOOD,
    'smtp/auth.h': '#include "net/net.h"\n',
    'smtp/auth.c': '#include "auth.h"\n#include "session.h"\n',
    'smtp/session.h': '#include "smtp.h"\n#include "auth.h"\n',
  });
  assert.equal(r.status, 1);
  assert.match(r.out, /include circle:.*smtp\/(auth|session) -> smtp\/(auth|session)/);
});

test('a file outside every module folder is refused', () => {
  const r = check({ ...GOOD, 'lib/x.c': '#include <stdio.h>\n' });
  assert.equal(r.status, 1);
  assert.match(r.out, /^lib\/x\.c: not in a module folder$/m);
});

test('a problem on the known list is tolerated, and a stale entry is not', () => {
  const broken = { ...GOOD, 'net/io.c': '#include "smtp/smtp.h"\n' };
  const entry = 'net/io.c: net/ may not include smtp/ (may: base)\n';
  let r = check({ ...broken, 'scripts/modules.known': '# why\n' + entry });
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /^known: net\/io\.c:1: net\/ may not include smtp\//m);

  r = check({ ...GOOD, 'scripts/modules.known': entry });
  assert.equal(r.status, 1);
  assert.match(r.out, /no longer occurs, remove it: net\/io\.c: net\/ may not/);
});
