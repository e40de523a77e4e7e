'use strict';
// Many connections: past select()'s FD_SETSIZE (1024) the gateway still
// serves, it raises its own limit of open files, and past
// GATEWAY_MAX_CONNECTIONS a connection gets a 503 with Connection: close
// (or, past those, is closed) while the log stays at a line a second.
//
// The gateway is started with a soft limit of 1024 open files (and the
// hard limit above 4096) through a shell wrapper, since node cannot set
// a child's limits: it must raise the soft limit itself.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

/* The hard limit of open files for a child of this process. */
function hardLimit() {
  const v = execFileSync('/bin/bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  return v === 'unlimited' ? Infinity : Number(v);
}

// Every gateway of this file runs through a script that lowers its soft
// limit to 1024 open files; lib/gateway.js reads GATEWAY_BIN when loaded.
const REAL_BIN = process.env.GATEWAY_BIN || path.resolve(__dirname, '..', '..', 'build', 'smtp-gateway');
const wrapDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-gateway-nofile-'));
process.env.GATEWAY_BIN = path.join(wrapDir, 'smtp-gateway');
// NOFILE in the environment sets both limits instead.
fs.writeFileSync(
  process.env.GATEWAY_BIN,
  '#!/bin/bash\n' +
    'if [ -n "$NOFILE" ]; then ulimit -n "$NOFILE" || exit 99; else ulimit -Sn 1024 || exit 99; fi\n' +
    `exec ${JSON.stringify(REAL_BIN)} "$@"\n`,
  { mode: 0o755 },
);

const { assertCleanRun, cleanupAll, request, runGateway, send, sleep, startGateway, validEnv } = require('./lib/gateway');
const { startSmtpServer } = require('./lib/smtpserver');

after(() => {
  fs.rmSync(wrapDir, { recursive: true, force: true });
  return cleanupAll();
});

const IDLE = 1500;

const tooLow =
  hardLimit() < 4096 && `the hard limit of open files is ${hardLimit()}, below the 4096 this test needs (ulimit -Hn)`;

/* Opens `n` TCP connections to `port` and waits until they are connected. */
async function openIdle(port, n) {
  const socks = [];
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((resolve) => {
          const s = net.connect(port, '127.0.0.1');
          s.on('error', () => {});
          s.once('connect', resolve);
          s.once('close', resolve);
          socks.push(s);
        }),
    ),
  );
  return socks;
}

/* One keep-alive GET /healthz on its own socket, which then stays open. */
function keptHealth(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('error', reject);
    s.on('data', (c) => {
      got += c.toString('latin1');
      if (got.includes('{"status":"ok"}')) resolve(s);
    });
    s.write('GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n');
  });
}

const refusals = (gw) => gw.stderr().split('\n').filter((l) => /event=http_error/.test(l));

describe('more connections than FD_SETSIZE', { skip: tooLow }, () => {
  it(`${IDLE} idle connections: /healthz answers 200 and a send works`, { timeout: 90000 }, async () => {
    const smtp = await startSmtpServer();
    const gw = await startGateway({
      smtpPort: smtp.port,
      // Every connection comes from this one client, 127.0.0.1, and they
      // stay open without a request for as long as the test takes.
      env: {
        GATEWAY_LOG_LEVEL: 'info',
        GATEWAY_MAX_CONNECTIONS: 2000,
        GATEWAY_MAX_CONNECTIONS_PER_IP: 2000,
        GATEWAY_HEADER_TIMEOUT: 120,
      },
    });
    let socks = [];
    try {
      socks = await openIdle(gw.port, IDLE);
      // Every one is accepted and kept: none is closed by the gateway.
      await sleep(1000);
      assert.equal(socks.filter((s) => s.destroyed || s.readyState !== 'open').length, 0, 'every idle connection stays open');
      const h = await request(gw, 'GET', '/healthz', { token: null });
      assert.equal(h.status, 200);
      const r = await send(gw, { from: 'a@example.com', to: 'b@example.com', subject: 'many', text: 'x' });
      assert.equal(r.status, 200, r.text);
      assert.equal((await smtp.waitForMessages(1))[0].parsed.subject, 'many');
      assert.deepEqual(refusals(gw), [], 'no connection was refused');
    } finally {
      for (const s of socks) s.destroy();
      await gw.stop();
      await smtp.close();
    }
    assertCleanRun(gw);
  });
});

describe('GATEWAY_MAX_CONNECTIONS', { skip: tooLow }, () => {
  it('past the limit: a 503 with Connection: close, then closed connections, and a line a second in the log', { timeout: 90000 }, async () => {
    const gw = await startGateway({
      env: { GATEWAY_LOG_LEVEL: 'info', GATEWAY_MAX_CONNECTIONS: 20, GATEWAY_MAX_CONNECTIONS_PER_IP: 1000 },
    });
    const kept = [];
    let flood = [];
    try {
      for (let i = 0; i < 20; i++) kept.push(await keptHealth(gw.port));
      const over = await request(gw, 'GET', '/healthz', { token: null });
      assert.equal(over.status, 503, over.text);
      assert.equal(over.headers.connection, 'close');
      assert.equal(over.headers['retry-after'], '1');
      assert.equal(over.json.retryable, true);
      assert.match(over.json.error, /GATEWAY_MAX_CONNECTIONS/);

      // Far past the limit: most are closed unread, and the log says so
      // in a line or two rather than a line each.
      const t0 = Date.now();
      flood = await openIdle(gw.port, 400);
      await sleep(1500);
      const seconds = Math.ceil((Date.now() - t0) / 1000);
      const closed = flood.filter((s) => s.destroyed || s.readyState !== 'open').length;
      assert.ok(closed >= 400 - 64 - 1, `${closed} of 400 connections past the limit were closed`);
      const lines = refusals(gw);
      assert.ok(lines.length >= 1 && lines.length <= seconds + 1, `${lines.length} log lines in ${seconds} s:\n${lines.join('\n')}`);
      for (const l of lines) assert.match(l, /suppressed=\d+/);

      // Once connections close, the gateway serves again.
      for (const s of [...kept, ...flood]) s.destroy();
      let h = null;
      for (let i = 0; i < 50 && !(h && h.status === 200); i++) {
        await sleep(100);
        h = await request(gw, 'GET', '/healthz', { token: null }).catch(() => null);
      }
      assert.equal(h && h.status, 200);
    } finally {
      for (const s of [...kept, ...flood]) s.destroy();
      await gw.stop();
    }
    assertCleanRun(gw);
  });

  it('is lowered to fit a hard limit of open files that is too low, and says so', { timeout: 30000 }, async () => {
    const gw = await startGateway({ env: { GATEWAY_LOG_LEVEL: 'info', NOFILE: 600 } });
    try {
      assert.equal((await request(gw, 'GET', '/healthz', { token: null })).status, 200);
    } finally {
      await gw.stop();
    }
    assert.match(gw.stderr(), /level=warn event=max_connections_lowered from=1000 to=344 open_files=600\n/);
    assertCleanRun(gw);
  });

  it('is checked: 0 is a configuration error naming it', async () => {
    const r = await runGateway(['serve'], await validEnv({ GATEWAY_MAX_CONNECTIONS: '0' }));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^smtp-gateway: GATEWAY_MAX_CONNECTIONS: must be a number from 1 to 100000\n$/);
  });
});
