'use strict';
// Stopping under load: after SIGTERM every reply closes its connection, a
// request on a kept connection gets a 503 without being run, every request
// already received is answered, the process exits as soon as the last one
// is, and never later than GATEWAY_SHUTDOWN_TIMEOUT: a send still running
// then is logged with its Message-ID and the process exits 3.
//
// The conversation expected on a kept connection:
//   client  GET /healthz                  gateway  200 (kept open)
//   -- SIGTERM, a send still running --
//   client  POST /v1/messages (same TCP)  gateway  503, Connection: close,
//                                                  {"status":"failed",
//                                                   "retryable":true}
//   and the SMTP server sees no conversation for that request.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');

const { assertCleanRun, assertNoSecrets, cleanupAll, logged, readReply, send, sleep, startGateway } = require('./lib/gateway');
const { checkResponse } = require('./lib/contract');
const { startScripted, send: say, read, readData, gate } = require('./lib/scripted');
const { startSmtpServer } = require('./lib/smtpserver');

after(cleanupAll);

/*
 * One request through `agent` (keep-alive), resolving to { status,
 * headers, json, reused } or to { error } when no answer came. Every
 * answer is checked against openapi.yaml (rejects when it does not match).
 */
function call(gw, agent, method, path, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const headers = { Authorization: `Bearer ${gw.token}` };
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const req = http.request({ host: '127.0.0.1', port: gw.port, method, path, headers, agent }, (res) =>
      readReply(res)
        .then(
          (out) => {
            checkResponse(method, path, out);
            return { ...out, reused: req.reusedSocket };
          },
          (e) => ({ error: e, reused: req.reusedSocket }),
        )
        .then(resolve, reject),
    );
    req.setTimeout(60000, () => req.destroy(new Error('no answer in 60 s')));
    req.on('error', (e) => resolve({ error: e, reused: req.reusedSocket }));
    req.end(payload || undefined);
  });
}

/* The answer to the final dot waits for `held` (a promise). */
function heldScript(held) {
  return [
    say('220 shutdown.test ESMTP\r\n'),
    read(/^EHLO \S+$/, '250 shutdown.test\r\n'),
    read(/^MAIL FROM:/, '250 ok\r\n'),
    read(/^RCPT TO:/, '250 ok\r\n'),
    read('DATA', '354 go\r\n'),
    readData(async () => {
      await held;
      return '250 2.0.0 queued as HELD1\r\n';
    }),
    read('QUIT', '221 bye\r\n'),
    { close: true },
  ];
}

// Enough clients that some request is always in progress.
const CLIENTS = 16;

const message = (subject) => ({ from: 'a@example.com', to: 'b@example.com', subject, text: 'x' });

describe('SIGTERM under keep-alive load', () => {
  it('every delivered message is answered, 503s close their connection, and the exit follows the last answer', { timeout: 150000 }, async (t) => {
    const smtp = await startSmtpServer();
    // The bound is far away: the exit must come from the drain ending.
    const gw = await startGateway({
      smtpPort: smtp.port,
      env: {
        GATEWAY_LOG_LEVEL: 'info',
        GATEWAY_SHUTDOWN_TIMEOUT: 120,
        GATEWAY_SMTP_TIMEOUT: 60,
        GATEWAY_SMTP_POOL: 8,
      },
    });
    const results = []; // { subject, afterSignal, ...answer }
    let signalled = false;
    let exited = false;
    gw.exited.then(() => {
      exited = true;
    });
    const client = async (c) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let n = 0; !exited; n++) {
          const subject = `load-${c}-${n}`;
          const afterSignal = signalled;
          const r = await call(gw, agent, 'POST', '/v1/messages', message(subject));
          results.push({ subject, afterSignal, ...r });
          // A refused or unanswered request ends this client: the
          // gateway has stopped listening.
          if (r.error) return;
        }
      } finally {
        agent.destroy();
      }
    };
    try {
      const clients = Array.from({ length: CLIENTS }, (_, c) => client(c));
      await smtp.waitForMessages(60, 60000);
      gw.kill('SIGTERM');
      signalled = true;
      const t0 = Date.now();
      const exit = await gw.exited;
      const took = Date.now() - t0;
      const late = results.filter((r) => r.afterSignal && r.status);
      t.diagnostic(`exit ${took} ms after SIGTERM; answers to requests sent after it: ${late.length}`);
      await Promise.all(clients);

      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, gw.stderr().slice(-3000));

      const bySubject = new Map(results.map((r) => [r.subject, r]));
      const delivered = smtp.transactions.map((t) => t.parsed.subject);
      assert.equal(new Set(delivered).size, delivered.length, 'no message was delivered twice');
      for (const s of delivered) {
        const r = bySubject.get(s);
        assert.ok(r, `${s} was delivered but never asked for`);
        assert.equal(r.status, 200, `${s} was delivered but the client got ${r.error ? r.error.message : r.status}`);
      }
      for (const r of results) {
        if (r.status === 200) assert.ok(delivered.includes(r.subject), `${r.subject} was answered 200 but not delivered`);
        if (r.status === 503) {
          assert.equal(r.headers.connection, 'close', `${r.subject}: a 503 after SIGTERM closes its connection`);
          assert.equal(r.json.status, 'failed');
          assert.equal(r.json.retryable, true);
        } else if (r.status !== undefined) {
          assert.equal(r.status, 200, `${r.subject}: ${r.text}`);
        }
      }
      // Each client ended on a refused connection (its kept one closed
      // with an answer), or on a request that the stop closed unread
      // (over an idle kept connection): never one that was delivered.
      for (const r of results.filter((x) => x.error)) {
        assert.ok(!delivered.includes(r.subject), `${r.subject}: delivered, but the client got ${r.error.code || r.error.message}`);
      }
      // The last answer ends the drain: the exit is not held to the bound.
      assert.ok(took < 60000, `the exit took ${took} ms after SIGTERM (bound: 120 s)`);
      assertCleanRun(gw);
    } finally {
      await gw.stop();
      await smtp.close();
    }
  });
});

describe('the drain', () => {
  it('a request on a kept connection during the drain gets 503 with Connection: close and is not run', { timeout: 90000 }, async () => {
    const release = gate();
    const srv = await startScripted([heldScript(release.promise)]);
    const gw = await startGateway({
      smtpPort: srv.port,
      env: { GATEWAY_SHUTDOWN_TIMEOUT: 120, GATEWAY_SMTP_TIMEOUT: 60, GATEWAY_SMTP_IDLE_TIMEOUT: 0 },
    });
    const kept = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const keptHealth = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // Two kept connections, idle when the signal comes.
      const h1 = await call(gw, kept, 'GET', '/healthz');
      const h2 = await call(gw, keptHealth, 'GET', '/healthz');
      assert.equal(h1.status, 200);
      assert.notEqual(h1.headers.connection, 'close');
      assert.equal(h2.status, 200);

      const held = send(gw, message('held'), { timeoutMs: 80000 });
      await srv.waitForLine(/^\u0000end-of-data$/);
      gw.kill('SIGTERM');
      // Logged once the stop is in force.
      await logged(gw, /event=draining requests=1\b/, 20000);

      const late = await call(gw, kept, 'POST', '/v1/messages', message('late'));
      assert.equal(late.reused, true, 'the request went over the kept connection');
      assert.equal(late.status, 503, late.text || (late.error && late.error.message));
      assert.equal(late.headers.connection, 'close');
      assert.equal(late.headers['retry-after'], '1');
      assert.equal(late.json.status, 'failed');
      assert.equal(late.json.retryable, true);
      assert.match(late.json.error, /shutting down/);
      const lateHealth = await call(gw, keptHealth, 'GET', '/healthz');
      assert.equal(lateHealth.reused, true);
      assert.equal(lateHealth.status, 503);
      assert.equal(lateHealth.headers.connection, 'close');
      assert.equal(gw.exitInfo, null, 'the gateway waits for the send it received');

      release.open();
      const r = await held;
      const t0 = Date.now();
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.connection, 'close', 'a reply after SIGTERM closes its connection');
      const exit = await gw.exited;
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, gw.stderr());
      assert.ok(Date.now() - t0 < 30000, 'the exit follows the last answer, not the bound of 120 s');
      // Only the held send reached the SMTP server.
      assert.equal(srv.connections.length, 1);
      assert.equal((srv.connections[0].text.match(/^MAIL FROM:/gm) || []).length, 1);
      assertCleanRun(gw);
    } finally {
      release.open();
      kept.destroy();
      keptHealth.destroy();
      await gw.stop();
      await srv.close();
    }
  });

  it('a send still running at GATEWAY_SHUTDOWN_TIMEOUT is logged with its Message-ID and the exit is 3', { timeout: 90000 }, async () => {
    const never = new Promise(() => {});
    const srv = await startScripted([heldScript(never)]);
    const gw = await startGateway({
      smtpPort: srv.port,
      env: { GATEWAY_SHUTDOWN_TIMEOUT: 2, GATEWAY_SMTP_TIMEOUT: 60 },
    });
    try {
      const held = send(gw, message('cut off'), { timeoutMs: 80000 }).then(
        (r) => ({ r }),
        (e) => ({ e }),
      );
      const raw = new Promise((resolve) => {
        const body = 'Message-ID: <raw-held@example.com>\r\nFrom: a@example.com\r\nTo: c@example.com\r\nSubject: raw\r\n\r\nbody\r\n';
        const req = http.request(
          {
            host: '127.0.0.1',
            port: gw.port,
            method: 'POST',
            path: '/v1/messages/raw?from=a@example.com&to=c@example.com',
            agent: false,
            headers: {
              Authorization: `Bearer ${gw.token}`,
              'Content-Type': 'message/rfc822',
              'Content-Length': String(Buffer.byteLength(body)),
            },
          },
          (res) => resolve({ status: res.statusCode }),
        );
        req.on('error', (e) => resolve({ e }));
        req.end(body);
      });
      // Both messages are on the server, each waiting for its reply.
      const deadline = Date.now() + 20000;
      while (srv.connections.filter((c) => c.text.includes('\r\n.\r\n')).length < 2) {
        assert.ok(Date.now() < deadline, `both sends reached the end of their data: ${JSON.stringify(await Promise.race([raw, sleep(10)]))}\n${gw.stderr().slice(-2500)}`);
        await sleep(50);
      }
      const ids = srv.connections.map((c) => (/^Message-ID: (.*)$/im.exec(c.text) || [])[1]);
      const jsonId = ids.find((id) => id && id !== '<raw-held@example.com>');
      assert.ok(jsonId, `the composed message's Message-ID among ${JSON.stringify(ids)}`);

      gw.kill('SIGTERM');
      const t0 = Date.now();
      const exit = await gw.exited;
      assert.ok(Date.now() - t0 < 30000, 'the exit comes at the bound of 2 s, not after the sends');
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 3, signal: null }, gw.stderr());
      const cut = gw.stderr().split('\n').filter((l) => /event=send_cut_off/.test(l));
      assert.equal(cut.length, 2, gw.stderr());
      const quoted = (id) => new RegExp(`message_id=("?)${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\1(\\s|$)`);
      assert.ok(cut.some((l) => /credential=default/.test(l) && quoted(jsonId).test(l)), cut.join('\n'));
      assert.ok(cut.some((l) => /credential=default/.test(l) && quoted('<raw-held@example.com>').test(l)), cut.join('\n'));
      assert.match(gw.stderr(), /event=stopped_with_requests_running requests=2 sends=2 timeout_s=2/);
      // The clients never got an answer: the connections died with the process.
      assert.ok((await held).e, 'no answer for the cut-off send');
      assert.ok((await raw).e, 'no answer for the cut-off raw send');
      assertNoSecrets(gw);
    } finally {
      await gw.stop();
      await srv.close();
    }
  });
});
