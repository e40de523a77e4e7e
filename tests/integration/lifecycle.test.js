'use strict';
// Signals: SIGTERM and SIGINT stop accepting, let in-flight sends finish
// and exit 0.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');

const { assertCleanRun, cleanupAll, connectRefused, request, send, sleep, startGateway } = require('./lib/gateway');
const { startScripted, send: say, read, readData, gate } = require('./lib/scripted');

const T = { timeout: 45000 };

after(cleanupAll);

/* Polls until a connection to `port` is refused; false after `ms`. */
async function becomesRefused(port, ms = 10000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await connectRefused(port)) return true;
    await sleep(100);
  }
  return false;
}

describe('shutdown', () => {
  for (const sig of ['SIGTERM', 'SIGINT']) {
    it(`${sig} while idle: exits 0 and stops listening`, T, async () => {
      const gw = await startGateway();
      try {
        const h = await request(gw, 'GET', '/healthz', { token: null });
        assert.equal(h.status, 200);
        gw.kill(sig);
        const exit = await gw.exited;
        assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, gw.stderr());
        assert.equal(await connectRefused(gw.port), true, 'nothing listens after exit');
      } finally {
        await gw.stop();
      }
      assertCleanRun(gw);
    });
  }

  for (const sig of ['SIGTERM', 'SIGINT']) {
    it(`${sig} during a send: refuses new connections, finishes the send, then exits 0`, T, async () => {
      const release = gate();
      const script = [
        say('220 lifecycle.test ESMTP\r\n'),
        read(/^EHLO \S+$/, '250 lifecycle.test\r\n'),
        read('MAIL FROM:<a@example.com>', '250 ok\r\n'),
        read('RCPT TO:<b@example.com>', '250 ok\r\n'),
        read('DATA', '354 go\r\n'),
        // Hold the reply to the final dot until the test says so, then
        // answer about a second later.
        readData(async () => {
          await release.promise;
          await sleep(1000);
          return '250 2.0.0 queued as LATE1\r\n';
        }),
        read('QUIT', '221 bye\r\n'),
        { close: true },
      ];
      const srv = await startScripted([script]);
      const gw = await startGateway({
        smtpPort: srv.port,
        env: { GATEWAY_SMTP_TIMEOUT: 30, GATEWAY_SMTP_IDLE_TIMEOUT: 0 },
      });
      const events = [];
      try {
        const inflight = send(gw, { from: 'a@example.com', to: 'b@example.com', subject: 'in flight', text: 'x' }, { timeoutMs: 40000 }).then(
          (r) => {
            events.push(`response ${r.status}`);
            return r;
          },
          (e) => {
            events.push(`request error ${e.message}`);
            throw e;
          },
        );
        gw.exited.then((x) => events.push(`exit ${x.code}`));

        // The whole message is on the server, waiting for its reply.
        await srv.waitForLine(/^\u0000end-of-data$/);
        gw.kill(sig);
        events.push('signal');

        try {
          // New connections are refused while the send is still in flight.
          assert.equal(await becomesRefused(gw.port), true, 'the listening socket should close on the signal');
          events.push('refused');
          assert.equal(gw.exitInfo, null, 'the gateway must not exit before the in-flight send ends');
        } finally {
          release.open();
        }

        const r = await inflight;
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.status, 'sent');
        const exit = await gw.exited;
        assert.equal(exit.code, 0, `exit code; stderr:\n${gw.stderr()}`);
        assert.equal(exit.signal, null);
        // The response and the exit may be seen in either order here (they
        // come over different channels), but both after the refusal.
        assert.deepEqual(events.slice(0, 2), ['signal', 'refused']);
        assert.deepEqual(events.slice(2).sort(), ['exit 0', 'response 200']);
        const conn = await srv.waitForClose(0);
        assert.match(conn.text, /\r\n\.\r\nQUIT\r\n$/, 'the SMTP conversation ended properly with QUIT');
      } finally {
        release.open();
        await gw.stop();
        await srv.close();
      }
      assertCleanRun(gw);
    });
  }
});

describe('the weak token warning', () => {
  const warnings = (gw) => gw.stderr().split('\n').filter((l) => /event=weak_token/.test(l));

  it('a GATEWAY_API_TOKEN shorter than 16 characters is warned about once', T, async () => {
    const gw = await startGateway({ token: 'short-token-15c' });
    try {
      assert.equal((await request(gw, 'GET', '/healthz', { token: null })).status, 200);
    } finally {
      await gw.stop();
    }
    assert.equal(warnings(gw).length, 1, gw.stderr());
  });

  it('a long GATEWAY_API_TOKEN gets no warning', T, async () => {
    const gw = await startGateway({ token: 'sgw_0123456789abcdef0123456789abcdef' });
    try {
      assert.equal((await request(gw, 'GET', '/healthz', { token: null })).status, 200);
    } finally {
      await gw.stop();
    }
    assert.deepEqual(warnings(gw), [], gw.stderr());
  });
});
