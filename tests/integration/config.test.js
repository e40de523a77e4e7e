'use strict';
// Command line and configuration: --help, --version, invalid settings
// (one stderr line naming the setting, exit 2, never listening), flags
// overriding the environment, GATEWAY_MAX_BODY suffixes.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const {
  DATA_DIR,
  assertErrorReply,
  assertCleanRun,
  cleanupAll,
  closedPort,
  makeDataDir,
  rawRequest,
  removeDir,
  request,
  runGateway,
  send,
  startGateway,
  validEnv,
} = require('./lib/gateway');
const { startSmtpServer } = require('./lib/smtpserver');
const { startScripted } = require('./lib/scripted');

const T = { timeout: 30000 };

after(cleanupAll);

function stderrLines(text) {
  return text.split('\n').filter((l) => l.trim() !== '');
}

/* Asserts a configuration error: exit code 2, exactly one stderr line
 * naming `name`, never listening, the token not echoed. */
function assertConfigError(r, name, env) {
  assert.equal(r.timedOut, false, `the gateway should exit, not serve; stderr:\n${r.stderr}`);
  assert.equal(r.code, 2, `exit code (stderr:\n${r.stderr})`);
  const lines = stderrLines(r.stderr);
  assert.equal(lines.length, 1, `exactly one stderr line, got:\n${r.stderr}`);
  assert.ok(lines[0].includes(name), `the stderr line should name ${name}: ${lines[0]}`);
  assert.ok(!/event=listening/.test(r.stderr + r.stdout), 'it must never listen');
  if (env && env.GATEWAY_API_TOKEN) {
    assert.ok(!(r.stderr + r.stdout).includes(env.GATEWAY_API_TOKEN), 'the token must not be echoed');
  }
}

describe('command line', () => {
  it('--help prints usage mentioning serve and exits 0', T, async () => {
    const r = await runGateway(['--help'], {});
    assert.equal(r.timedOut, false);
    assert.equal(r.code, 0, `exit code; stderr:\n${r.stderr}`);
    assert.match(r.stdout, /\bserve\b/, `usage on stdout should mention serve:\n${r.stdout}`);
    assert.match(r.stdout, /--listen\b/, 'usage should list the flags, e.g. --listen');
    assert.ok(!/event=listening/.test(r.stderr), '--help must not start the server');
  });

  it('--version prints "smtp-gateway <version>" and exits 0', T, async () => {
    const r = await runGateway(['--version'], {});
    assert.equal(r.timedOut, false);
    assert.equal(r.code, 0, `exit code; stderr:\n${r.stderr}`);
    assert.match(r.stdout, /^smtp-gateway \d+\.\d+\.\d+\S*\n?$/, `got ${JSON.stringify(r.stdout)}`);
    assert.ok(!/event=listening/.test(r.stderr), '--version must not start the server');
  });

  it('serves without a sub-command, and with "serve"', T, async () => {
    for (const args of [[], ['serve']]) {
      const gw = await startGateway({ args });
      try {
        const r = await request(gw, 'GET', '/healthz', { token: null });
        assert.equal(r.status, 200, `args ${JSON.stringify(args)}`);
        assert.deepEqual(r.json, { status: 'ok' });
      } finally {
        const exit = await gw.stop();
        assert.equal(exit.code, 0, `SIGTERM exit code, stderr:\n${gw.stderr()}`);
      }
      assertCleanRun(gw);
    }
  });

  it('an unknown flag is a configuration error (exit 2, names the flag)', T, async () => {
    const env = await validEnv();
    const r = await runGateway(['serve', '--no-such-flag'], env);
    assert.equal(r.timedOut, false, `should exit; stderr:\n${r.stderr}`);
    assert.equal(r.code, 2, `stderr:\n${r.stderr}`);
    assert.match(r.stderr, /--no-such-flag/);
    assert.ok(!/event=listening/.test(r.stderr));
  });

  // Secrets come from the environment only: there is no flag for them.
  for (const flag of ['--smtp-password', '--api-token']) {
    it(`there is no ${flag} flag (exit 2, names it)`, T, async () => {
      const env = await validEnv();
      const r = await runGateway(['serve', flag, 'sekrit-on-the-command-line'], env);
      assert.equal(r.timedOut, false, `should exit; stderr:\n${r.stderr}`);
      assert.equal(r.code, 2, `stderr:\n${r.stderr}`);
      assert.ok(r.stderr.includes(flag), `stderr should name ${flag}:\n${r.stderr}`);
      assert.ok(!/event=listening/.test(r.stderr));
    });
  }
});

describe('invalid configuration from the environment', () => {
  const cases = [
    ['GATEWAY_SMTP_PORT', '70000'],
    ['GATEWAY_SMTP_PORT', '0'],
    ['GATEWAY_SMTP_PORT', 'smtp'],
    ['GATEWAY_SMTP_PORT', '25x'],
    ['GATEWAY_SMTP_TLS', 'bogus'],
    ['GATEWAY_LOG_LEVEL', 'loud'],
    ['GATEWAY_MAX_BODY', 'abc'],
    ['GATEWAY_MAX_BODY', '-1'],
    ['GATEWAY_MAX_BODY', '10Q'],
    ['GATEWAY_SMTP_TIMEOUT', '0'],
    ['GATEWAY_SMTP_TIMEOUT', 'soon'],
    ['GATEWAY_SMTP_TIMEOUT', '1.5'],
    ['GATEWAY_SMTP_POOL', '0'],
    ['GATEWAY_SMTP_POOL', 'many'],
    ['GATEWAY_LISTEN', 'not an address'],
    ['GATEWAY_LISTEN', '127.0.0.1:99999'],
    ['GATEWAY_API_TOKEN', undefined], // missing
    ['GATEWAY_API_TOKEN', ''], // empty is as good as missing
    ['GATEWAY_DATA_DIR', '/etc/hostname'], // a file, not a directory
  ];
  for (const [name, value] of cases) {
    const label = value === undefined ? `${name} missing` : `${name}=${JSON.stringify(value)}`;
    it(`${label}: one line naming ${name}, exit 2`, T, async () => {
      const env = await validEnv({ [name]: value });
      const r = await runGateway(['serve'], env);
      assertConfigError(r, name, env);
    });
  }
});

describe('invalid configuration from flags', () => {
  const cases = [
    ['--smtp-pool', '0'],
    ['--smtp-port', '70000'],
    ['--smtp-timeout', '0'],
    ['--log-level', 'loud'],
    ['--max-body', 'abc'],
    ['--smtp-tls', 'bogus'],
    ['--listen', 'nowhere'],
  ];
  for (const [flag, value] of cases) {
    it(`${flag} ${value}: one line naming ${flag}, exit 2`, T, async () => {
      const env = await validEnv();
      const r = await runGateway(['serve', flag, value], env);
      assertConfigError(r, flag, env);
    });
  }

  it('a flag without its value is an error naming the flag', T, async () => {
    const env = await validEnv();
    const r = await runGateway(['serve', '--smtp-pool'], env);
    assert.equal(r.timedOut, false, `should exit; stderr:\n${r.stderr}`);
    assert.equal(r.code, 2, `stderr:\n${r.stderr}`);
    assert.ok(r.stderr.includes('--smtp-pool'), r.stderr);
  });

  it('a valid configuration really starts (the error cases are not errors for any input)', T, async () => {
    // The same valid environment the error cases start from: it must serve,
    // so that exit code 2 above is about the broken value alone.
    const env = await validEnv();
    const r = await runGateway(['serve'], env, { timeoutMs: 3000 });
    assert.equal(r.timedOut, true, `a valid configuration should keep serving; stderr:\n${r.stderr}`);
    assert.match(r.stderr, /event=listening/);
  });
});

describe('flags override the environment', () => {
  let smtp;
  after(async () => {
    if (smtp) await smtp.close();
  });

  it('--smtp-port and --smtp-host win over GATEWAY_SMTP_PORT/HOST', T, async () => {
    smtp = await startSmtpServer();
    const dead = await closedPort();
    const gw = await startGateway({
      env: { GATEWAY_SMTP_PORT: dead, GATEWAY_SMTP_HOST: '127.0.0.2' },
      args: ['serve', '--smtp-port', String(smtp.port), '--smtp-host', '127.0.0.1'],
    });
    try {
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', subject: 'flag', text: 'x' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'sent');
      const [m] = await smtp.waitForMessages(1);
      assert.equal(m.parsed.subject, 'flag');
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });

  it('--listen wins over GATEWAY_LISTEN', T, async () => {
    // GATEWAY_LISTEN names an address that cannot be bound on this
    // machine; the flag's address works.
    const gw = await startGateway({
      env: { GATEWAY_LISTEN: '192.0.2.1:1' },
      args: ['serve', '--listen', '127.0.0.1:0'],
    });
    try {
      const r = await request(gw, 'GET', '/healthz', { token: null });
      assert.equal(r.status, 200);
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });

  it('--max-body wins over GATEWAY_MAX_BODY', T, async () => {
    const gw = await startGateway({ env: { GATEWAY_MAX_BODY: '10M' }, args: ['serve', '--max-body', '1K'] });
    try {
      const big = { from: 'a@example.com', to: 'b@example.com', text: 'x'.repeat(3000) };
      const r = await send(gw, big);
      assertErrorReply(r, 413, null);
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });

  it('--smtp-timeout wins over GATEWAY_SMTP_TIMEOUT', T, async () => {
    // The upstream never greets. With the flag's 1 s the send ends in 504;
    // with the environment's 120 s it would not end within the test.
    const sc = await startScripted([[{ stall: true }]]);
    let gw;
    try {
      gw = await startGateway({
        smtpPort: sc.port,
        env: { GATEWAY_SMTP_TIMEOUT: 120 },
        args: ['serve', '--smtp-timeout', '1'],
      });
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'x' }, { timeoutMs: 25000 });
      assert.equal(r.status, 504, r.text);
      assert.equal(r.json.status, 'failed');
    } finally {
      if (gw) await gw.stop();
      await sc.close();
    }
    assertCleanRun(gw);
  });

  it('--log-level wins over GATEWAY_LOG_LEVEL', T, async () => {
    // Environment says debug, the flag says error: a send and a health
    // check must then write no debug or info line.
    const smtp2 = await startSmtpServer();
    const port = await closedPort();
    let gw;
    try {
      gw = await startGateway({
        smtpPort: smtp2.port,
        waitPort: port,
        env: { GATEWAY_LOG_LEVEL: 'debug', GATEWAY_LISTEN: `127.0.0.1:${port}` },
        args: ['serve', '--log-level', 'error'],
      });
      assert.equal((await request(gw, 'GET', '/healthz', { token: null })).status, 200);
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'x' });
      assert.equal(r.status, 200, r.text);
    } finally {
      if (gw) await gw.stop();
      await smtp2.close();
    }
    assert.ok(!/level=(debug|info)\b/.test(gw.stderr()), `no debug/info lines expected:\n${gw.stderr()}`);
    assertCleanRun(gw);
  });

  it('--data-dir wins over GATEWAY_DATA_DIR', T, async () => {
    // The environment names a path below a regular file, which cannot be
    // created; the flag names a fresh directory.
    const dir = makeDataDir();
    const file = path.join(dir, 'not-a-directory');
    fs.writeFileSync(file, 'x');
    const impossible = path.join(file, 'data');
    const good = makeDataDir();
    let gw;
    try {
      // Without the flag the same environment is refused.
      const bad = await runGateway(['serve'], await validEnv({ GATEWAY_DATA_DIR: impossible }));
      assertConfigError(bad, 'GATEWAY_DATA_DIR');
      gw = await startGateway({ env: { GATEWAY_DATA_DIR: impossible }, args: ['serve', '--data-dir', good] });
      assert.equal((await request(gw, 'GET', '/healthz', { token: null })).status, 200);
    } finally {
      if (gw) await gw.stop();
      removeDir(dir);
      removeDir(good);
    }
    assertCleanRun(gw);
  });
});

describe('GATEWAY_MAX_BODY', () => {
  let smtp;
  after(async () => {
    if (smtp) await smtp.close();
  });

  for (const value of ['1K', '1KiB', '1024']) {
    it(`${value}: a 2000-byte body is 413, a 900-byte one is sent`, T, async () => {
      smtp = smtp || (await startSmtpServer());
      const gw = await startGateway({ smtpPort: smtp.port, env: { GATEWAY_MAX_BODY: value } });
      try {
        const base = { from: 'a@example.com', to: 'b@example.com', subject: 'size', text: '' };
        const pad = (n) => {
          const b = { ...base };
          b.text = 'y'.repeat(n - Buffer.byteLength(JSON.stringify(base)));
          assert.equal(Buffer.byteLength(JSON.stringify(b)), n);
          return b;
        };
        const before = smtp.tcpConnections;
        const big = await send(gw, pad(2000));
        assertErrorReply(big, 413, null);
        assert.equal(smtp.tcpConnections, before, 'a refused body never reaches SMTP');
        const small = await send(gw, pad(900));
        assert.equal(small.status, 200, small.text);
        assert.equal(small.json.status, 'sent');
      } finally {
        await gw.stop();
      }
      assertCleanRun(gw);
    });
  }

  it('1K: a chunked body (no Content-Length) over the limit is 413 too, nothing sent', T, async () => {
    smtp = smtp || (await startSmtpServer());
    const gw = await startGateway({ smtpPort: smtp.port, env: { GATEWAY_MAX_BODY: '1K' } });
    try {
      const before = smtp.tcpConnections;
      const json = JSON.stringify({ from: 'a@example.com', to: 'b@example.com', text: 'c'.repeat(3000) });
      let chunks = '';
      for (let i = 0; i < json.length; i += 500) {
        const piece = json.slice(i, i + 500);
        chunks += `${Buffer.byteLength(piece).toString(16)}\r\n${piece}\r\n`;
      }
      const r = await rawRequest(
        gw,
        'POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
          `Authorization: Bearer ${gw.token}\r\nContent-Type: application/json\r\n` +
          `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunks}0\r\n\r\n`,
      );
      assertErrorReply(r, 413, null);
      assert.equal(smtp.tcpConnections, before);
      // A small chunked body is fine.
      const small = JSON.stringify({ from: 'a@example.com', to: 'b@example.com', subject: 'chunked', text: 'ok' });
      const r2 = await rawRequest(
        gw,
        'POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
          `Authorization: Bearer ${gw.token}\r\nContent-Type: application/json\r\n` +
          `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
          `${Buffer.byteLength(small).toString(16)}\r\n${small}\r\n0\r\n\r\n`,
      );
      assert.equal(r2.status, 200, r2.text);
      assert.equal(r2.json.status, 'sent');
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });

  it('1M: a 2 MB Content-Length is refused before the body is sent; 500 KB goes through', T, async () => {
    smtp = smtp || (await startSmtpServer());
    const gw = await startGateway({ smtpPort: smtp.port, env: { GATEWAY_MAX_BODY: '1M' } });
    try {
      const head =
        'POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
        `Authorization: Bearer ${gw.token}\r\nContent-Type: application/json\r\n` +
        'Content-Length: 2000000\r\nConnection: close\r\n\r\n{"from":';
      const r = await rawRequest(gw, head);
      assertErrorReply(r, 413, null);
      const ok = await send(gw, { from: 'a@example.com', to: 'b@example.com', text: 'z'.repeat(500 * 1000) });
      assert.equal(ok.status, 200, ok.text.slice(0, 500));
      const msgs = await smtp.waitForMessages(1);
      const m = msgs[msgs.length - 1];
      assert.equal(m.parsed.text.replace(/\n$/, ''), 'z'.repeat(500 * 1000));
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });
});

// DATA_DIR is used by validEnv; referenced here to keep the import honest.
void DATA_DIR;
