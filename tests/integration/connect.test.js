'use strict';
// The per-step timeouts (each defaulting to GATEWAY_SMTP_TIMEOUT, which is
// set to an hour here so that only the step's own timeout can fire) and
// GATEWAY_SMTP_IP_VERSION. Outcomes only: a stalled step gives 504, a
// slow step under a short timeout of another kind still succeeds.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');

const {
  assertCleanRun,
  assertNoSecrets,
  cleanupAll,
  runGateway,
  validEnv,
} = require('./lib/gateway');
const { sendChecked: send, startSessionGateway: startGateway } = require('./lib/upstream');
const { startScripted, withScripted, send: say, read, readData, happyScript } = require('./lib/scripted');
const { getCerts } = require('./lib/certs');
const { assertOutcome } = require('./lib/upstream');

const T = { timeout: 45000 };
const HOUR = 3600;
const MSG = { from: 'a@example.com', to: 'b@example.com', subject: 'timeouts', text: 'x' };

after(cleanupAll);


/* A scripted server and a gateway with `env` (listen: startScripted's). */
const withGateway = (scripts, env, fn, listen = {}) => withScripted(scripts, fn, { env }, listen);

const later = (ms, reply) => async () => {
  await new Promise((r) => setTimeout(r, ms));
  return reply;
};

describe('per-step timeouts', () => {
  const stalls = [
    ['GATEWAY_SMTP_COMMAND_TIMEOUT', 'the EHLO reply', [say('220 slow.test\r\n'), read(/^EHLO \S+$/, undefined), { stall: true }]],
    ['GATEWAY_SMTP_COMMAND_TIMEOUT', 'the RCPT reply', [
      say('220 slow.test\r\n'),
      read(/^EHLO \S+$/, '250 slow.test\r\n'),
      read(/^MAIL FROM:/, '250 ok\r\n'),
      read(/^RCPT TO:/, undefined),
      { stall: true },
    ]],
    ['GATEWAY_SMTP_COMMAND_TIMEOUT', 'the 354 to DATA', [
      say('220 slow.test\r\n'),
      read(/^EHLO \S+$/, '250 slow.test\r\n'),
      read(/^MAIL FROM:/, '250 ok\r\n'),
      read(/^RCPT TO:/, '250 ok\r\n'),
      read('DATA', undefined),
      { stall: true },
    ]],
    ['GATEWAY_SMTP_DOT_TIMEOUT', 'the reply to the final dot', [
      say('220 slow.test\r\n'),
      read(/^EHLO \S+$/, '250 slow.test\r\n'),
      read(/^MAIL FROM:/, '250 ok\r\n'),
      read(/^RCPT TO:/, '250 ok\r\n'),
      read('DATA', '354 go\r\n'),
      readData(undefined),
      { stall: true },
    ]],
  ];
  for (const [name, label, script] of stalls) {
    it(`${name}=1 (TIMEOUT ${HOUR}): a server stalling on ${label} → 504`, T, async () => {
      await withGateway([script], { GATEWAY_SMTP_TIMEOUT: HOUR, [name]: 1 }, async (gw, srv) => {
        const r = await send(gw, MSG, { timeoutMs: 30000 });
        if (name === 'GATEWAY_SMTP_DOT_TIMEOUT') {
          // The whole message went out, so it may have been delivered: the
          // status may say so ("unknown") instead of "failed".
          assert.equal(r.status, 504, r.text);
          assert.ok(['failed', 'unknown'].includes(r.json && r.json.status), r.text);
        } else {
          assertOutcome(r, 504, 'failed');
        }
        await srv.waitForClose(0, 10000);
        assert.equal(srv.connections.length, 1, 'not tried again');
      });
    });
  }

  it(`GATEWAY_SMTP_DATA_TIMEOUT=1 (TIMEOUT ${HOUR}): a server that stops reading the message → 504`, T, async () => {
    const script = [
      say('220 slow.test\r\n'),
      read(/^EHLO \S+$/, '250 slow.test\r\n'),
      read(/^MAIL FROM:/, '250 ok\r\n'),
      read(/^RCPT TO:/, '250 ok\r\n'),
      // Stop reading: the message (far more than the socket buffers hold)
      // can no longer be written.
      read('DATA', (line, conn) => {
        conn.socket.pause();
        return '354 go\r\n';
      }),
      { stall: true },
    ];
    const line = 'd'.repeat(70) + '\n';
    const text = line.repeat(Math.ceil((16 * 1024 * 1024) / line.length));
    await withGateway(
      [script],
      { GATEWAY_SMTP_TIMEOUT: HOUR, GATEWAY_SMTP_DATA_TIMEOUT: 1, GATEWAY_MAX_BODY: '64M' },
      async (gw) => {
        const r = await send(gw, { ...MSG, text }, { timeoutMs: 30000 });
        assertOutcome(r, 504, 'failed');
      },
    );
  });

  it('GATEWAY_SMTP_GREETING_TIMEOUT=1 is for the greeting only: a 2 s EHLO reply is waited for', T, async () => {
    const script = happyScript({ ehloReply: later(2000, '250-scripted.test\r\n250 HELP\r\n') });
    await withGateway([script], { GATEWAY_SMTP_TIMEOUT: 30, GATEWAY_SMTP_GREETING_TIMEOUT: 1 }, async (gw) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 200, 'sent');
    });
  });

  it('GATEWAY_SMTP_COMMAND_TIMEOUT=1 is not for the final dot: a 2 s reply to it is waited for', T, async () => {
    const script = happyScript({ dataReply: later(2000, '250 2.0.0 queued\r\n') });
    await withGateway([script], { GATEWAY_SMTP_TIMEOUT: 30, GATEWAY_SMTP_COMMAND_TIMEOUT: 1 }, async (gw) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 200, 'sent');
    });
  });

  it('GATEWAY_SMTP_DOT_TIMEOUT=1 is not for commands: a 2 s MAIL reply is waited for', T, async () => {
    const script = happyScript({ mailReply: later(2000, '250 2.1.0 ok\r\n') });
    await withGateway([script], { GATEWAY_SMTP_TIMEOUT: 30, GATEWAY_SMTP_DOT_TIMEOUT: 1 }, async (gw) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 200, 'sent');
    });
  });

  it('the flag --smtp-command-timeout 1 → 504 on a stalled EHLO', T, async () => {
    const script = [say('220 slow.test\r\n'), read(/^EHLO \S+$/, undefined), { stall: true }];
    const srv = await startScripted([script]);
    let gw;
    try {
      gw = await startGateway({
        smtpPort: srv.port,
        args: ['serve', '--smtp-command-timeout', '1'],
        env: { GATEWAY_SMTP_TIMEOUT: HOUR, GATEWAY_SMTP_COMMAND_TIMEOUT: HOUR },
      });
      const r = await send(gw, MSG, { timeoutMs: 30000 });
      assertOutcome(r, 504, 'failed');
    } finally {
      if (gw) await gw.stop();
      await srv.close();
    }
    assertCleanRun(gw);
  });

  it('a TLS handshake that never completes is bounded too (CONNECT and GREETING 1 s) → 504', T, async () => {
    const certs = await getCerts();
    await withGateway(
      [[{ stall: true }]],
      {
        GATEWAY_SMTP_HOST: 'localhost',
        GATEWAY_SMTP_TLS: 'implicit',
        GATEWAY_SMTP_CA_FILE: certs.caFile,
        GATEWAY_SMTP_TIMEOUT: HOUR,
        GATEWAY_SMTP_CONNECT_TIMEOUT: 1,
        GATEWAY_SMTP_GREETING_TIMEOUT: 1,
      },
      async (gw) => {
        const r = await send(gw, MSG, { timeoutMs: 30000 });
        assertOutcome(r, 504, 'failed');
      },
    );
  });

  for (const name of ['GATEWAY_SMTP_CONNECT_TIMEOUT', 'GATEWAY_SMTP_GREETING_TIMEOUT', 'GATEWAY_SMTP_COMMAND_TIMEOUT', 'GATEWAY_SMTP_DATA_TIMEOUT', 'GATEWAY_SMTP_DOT_TIMEOUT']) {
    it(`${name}=0 is refused at start-up (exit 2, naming it)`, T, async () => {
      const r = await runGateway(['serve'], await validEnv({ [name]: '0' }));
      assert.equal(r.timedOut, false, r.stderr);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(name), `names ${name}: ${r.stderr}`);
    });
  }
});

describe('GATEWAY_SMTP_IP_VERSION', () => {
  let v6 = false;
  before(async () => {
    v6 = await new Promise((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(0, '::1', () => s.close(() => resolve(true)));
    });
  });

  const ok = () => [happyScript({ from: 'a@example.com' })];

  it('4 with host localhost → sent over IPv4', T, async () => {
    await withGateway(ok(), { GATEWAY_SMTP_HOST: 'localhost', GATEWAY_SMTP_IP_VERSION: 4 }, async (gw, srv) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 200, 'sent');
      assert.equal(srv.connections.length, 1);
    });
  });

  it('6 with a server on 127.0.0.1 only → 502, never connects over IPv4', T, async () => {
    await withGateway(ok(), { GATEWAY_SMTP_HOST: 'localhost', GATEWAY_SMTP_IP_VERSION: 6 }, async (gw, srv) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed');
      assert.equal(srv.connections.length, 0, 'no connection to the IPv4 server');
    });
  });

  it('the flag --smtp-ip-version 6 wins over GATEWAY_SMTP_IP_VERSION=4', T, async () => {
    const srv = await startScripted(ok());
    let gw;
    try {
      gw = await startGateway({
        smtpPort: srv.port,
        args: ['serve', '--smtp-ip-version', '6'],
        env: { GATEWAY_SMTP_HOST: 'localhost', GATEWAY_SMTP_IP_VERSION: 4 },
      });
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed');
      assert.equal(srv.connections.length, 0);
    } finally {
      if (gw) await gw.stop();
      await srv.close();
    }
    assertCleanRun(gw);
  });

  it('6 with host ::1 → sent over IPv6', T, async (t) => {
    if (!v6) return t.skip('no IPv6 loopback here');
    await withGateway(ok(), { GATEWAY_SMTP_HOST: '::1', GATEWAY_SMTP_IP_VERSION: 6 }, async (gw, srv) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 200, 'sent');
      assert.equal(srv.connections.length, 1);
    }, { host: '::1' });
  });

  it('4 with host ::1 → 502, never connects', T, async (t) => {
    if (!v6) return t.skip('no IPv6 loopback here');
    await withGateway(ok(), { GATEWAY_SMTP_HOST: '::1', GATEWAY_SMTP_IP_VERSION: 4 }, async (gw, srv) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed');
      assert.equal(srv.connections.length, 0);
    }, { host: '::1' });
  });
});
