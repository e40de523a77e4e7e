'use strict';
// `smtp-gateway healthcheck`: exit 0 only when the gateway at
// GATEWAY_LISTEN (or --listen) answers GET /healthz with 200
// {"status":"ok"}; 1 for a closed port, another status, another body or
// no answer within its timeout; 2 for a bad address.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');

const { assertCleanRun, cleanupAll, closedPort, runGateway, startGateway } = require('./lib/gateway');

const T = { timeout: 30000 };

after(cleanupAll);

/* A stand-in HTTP server on 127.0.0.1 answering every request with
 * `handler(req, res)`; records the requests it saw. */
async function fakeServer(handler) {
  const seen = [];
  const srv = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url });
    handler(req, res);
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { port: srv.address().port, seen, close: () => new Promise((r) => srv.close(r)) };
}

describe('healthcheck sub-command', () => {
  it('exits 0 against a running gateway, by GATEWAY_LISTEN and by --listen', T, async () => {
    const gw = await startGateway({ env: { GATEWAY_LISTEN: '0.0.0.0:0' } });
    try {
      // 0.0.0.0 is reached through 127.0.0.1.
      const byEnv = await runGateway(['healthcheck'], { GATEWAY_LISTEN: `0.0.0.0:${gw.port}` });
      assert.equal(byEnv.code, 0, `stderr: ${byEnv.stderr}`);
      assert.equal(byEnv.stderr, '');
      const byFlag = await runGateway(['healthcheck', '--listen', `127.0.0.1:${gw.port}`], {
        GATEWAY_LISTEN: `127.0.0.1:${await closedPort()}`,
      });
      assert.equal(byFlag.code, 0, `the flag wins over the variable; stderr: ${byFlag.stderr}`);
    } finally {
      await gw.stop();
    }
    assertCleanRun(gw);
  });

  it('exits 1 when nothing listens', T, async () => {
    const r = await runGateway(['healthcheck'], { GATEWAY_LISTEN: `127.0.0.1:${await closedPort()}` });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /healthcheck .*refused/i);
  });

  it('asks GET /healthz and exits 1 for another status or another body', T, async () => {
    for (const [status, body] of [
      [503, '{"status":"ok"}'],
      [200, '{"status":"down"}'],
      [200, '{"status":"ok","extra":1}'],
      [200, ''],
    ]) {
      const srv = await fakeServer((req, res) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(body);
      });
      try {
        const r = await runGateway(['healthcheck', `--listen=127.0.0.1:${srv.port}`], {});
        assert.equal(r.code, 1, `${status} ${body} must be unhealthy; stderr: ${r.stderr}`);
        assert.deepEqual(srv.seen, [{ method: 'GET', url: '/healthz' }]);
      } finally {
        await srv.close();
      }
    }
    // The same stand-in with the right answer passes: the check is not
    // failing for some other reason.
    const ok = await fakeServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? 200 : 404, { 'Content-Type': 'application/json' });
      res.end('{"status":"ok"}');
    });
    try {
      const r = await runGateway(['healthcheck', '--listen', `127.0.0.1:${ok.port}`], {});
      assert.equal(r.code, 0, `stderr: ${r.stderr}`);
    } finally {
      await ok.close();
    }
  });

  it('gives up after its timeout when the server accepts but never answers', T, async () => {
    const socks = [];
    const srv = net.createServer((s) => socks.push(s));
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    try {
      const t0 = Date.now();
      const r = await runGateway(['healthcheck'], { GATEWAY_LISTEN: `127.0.0.1:${srv.address().port}` });
      const took = Date.now() - t0;
      assert.equal(r.timedOut, false);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /timed out/);
      assert.ok(took >= 2500 && took < 8000, `took ${took} ms; the timeout is 3 s`);
    } finally {
      for (const s of socks) s.destroy();
      await new Promise((r) => srv.close(r));
    }
  });

  it('reads a chunked reply: healthy when its chunks join to {"status":"ok"}', T, async () => {
    for (const [chunks, code] of [
      [['{"status"', ':"ok"}'], 0],
      [['{"status"', ':"down"}'], 1],
    ]) {
      const srv = await fakeServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
        for (const c of chunks) res.write(c);
        res.end();
      });
      try {
        const r = await runGateway(['healthcheck', '--listen', `127.0.0.1:${srv.port}`], {});
        assert.equal(r.code, code, `${chunks.join('')}; stderr: ${r.stderr}`);
      } finally {
        await srv.close();
      }
    }
  });

  it('exits 2 for a bad address or an unknown argument', T, async () => {
    const bad = await runGateway(['healthcheck'], { GATEWAY_LISTEN: 'localhost:http' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /GATEWAY_LISTEN/);
    const extra = await runGateway(['healthcheck', '--smtp-host', 'x'], {});
    assert.equal(extra.code, 2);
  });

  it('is listed in --help', T, async () => {
    const r = await runGateway(['--help'], {});
    assert.equal(r.code, 0);
    assert.match(r.stdout, /smtp-gateway healthcheck/);
  });
});
