'use strict';
// A hostile or broken upstream, scripted byte for byte: STARTTLS stripped
// from EHLO or refused (nothing may then go out in the clear), plaintext
// injected after the 220 to STARTTLS (discarded; only the capabilities
// announced inside TLS count), a handshake that fails after STARTTLS, a
// 421 at every step (the client hangs up at once: no QUIT), a server that
// never greets, and CRLF smuggled into MAIL FROM parameters.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const {
  assertCleanRun,
  assertNoSecrets,
  cleanupAll,
  randomSecret,
} = require('./lib/gateway');
const { sendChecked: send, startSessionGateway: startGateway } = require('./lib/upstream');
const { startScripted, send: say, read, readData } = require('./lib/scripted');
const { getCerts } = require('./lib/certs');
const { assertOutcome, assertThenAtMostQuit, authSecrets, ehloName, loginAuth, plainAuth } = require('./lib/upstream');

const T = { timeout: 30000 };
const USER = 'gw-user@example.com';
const MSG = { from: 'a@example.com', to: 'b@example.com', subject: 'attack', text: 'secret body' };

after(cleanupAll);


let certs;
before(async () => {
  certs = await getCerts();
});

/*
 * A scripted server and a gateway in STARTTLS mode for host localhost
 * trusting the test CA, with a user name and password (all in `secrets`).
 * fn(gw, srv, password); the logs are checked afterwards.
 */
async function withScripted(scripts, fn, { env = {}, user = true } = {}) {
  const srv = await startScripted(scripts);
  const password = randomSecret('pw_');
  let gw;
  try {
    gw = await startGateway({
      smtpPort: srv.port,
      password,
      secrets: authSecrets(USER, { password }),
      env: {
        GATEWAY_SMTP_HOST: 'localhost',
        GATEWAY_SMTP_TLS: 'starttls',
        GATEWAY_SMTP_CA_FILE: certs.caFile,
        GATEWAY_SMTP_TIMEOUT: 5,
        ...(user ? { GATEWAY_SMTP_USERNAME: USER } : {}),
        ...env,
      },
    });
    await fn(gw, srv, password);
  } finally {
    if (gw) await gw.stop();
    await srv.close();
  }
  assertCleanRun(gw);
}

function noMismatch(conn) {
  assert.deepEqual(conn.mismatches, [], `the client said something unexpected:\n${conn.text}`);
}

const GREETING = say('220 scripted.test ESMTP\r\n');

describe('STARTTLS downgrades', () => {
  const variants = [
    ['with a user name and allow_plaintext_auth', { user: true, env: { GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH: 'true' } }],
    ['without a user name', { user: false }],
  ];
  for (const [label, opts] of variants) {
    it(`STARTTLS missing from EHLO (${label}) → 502, only EHLO (and QUIT) in the clear`, T, async () => {
      const script = [
        GREETING,
        read(/^EHLO \S+$/, '250-scripted.test\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 10000000\r\n'),
        read(/^QUIT$/, '221 bye\r\n'),
        { close: true },
      ];
      await withScripted([script], async (gw, srv) => {
        const r = await send(gw, MSG);
        assertOutcome(r, 502, 'failed', ['STARTTLS', 'not offer']);
        assertNoSecrets(gw, r.text);
        const conn = await srv.waitForClose(0);
        assertThenAtMostQuit(conn.text, `EHLO ${ehloName(conn.text)}\r\n`, 'in the clear');
      }, opts);
    });
  }

  for (const reply of ['454 4.7.0 TLS not available due to temporary reason', '502 5.5.1 STARTTLS not implemented']) {
    it(`STARTTLS answered "${reply.slice(0, 3)}" → 502 with the reply, nothing more in the clear`, T, async () => {
      const script = [
        GREETING,
        read(/^EHLO \S+$/, '250-scripted.test\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n'),
        read('STARTTLS', `${reply}\r\n`),
        read(/^QUIT$/, '221 bye\r\n'),
        { close: true },
      ];
      await withScripted([script], async (gw, srv) => {
        const r = await send(gw, MSG);
        assertOutcome(r, 502, 'failed', [reply.slice(0, 3), 'STARTTLS']);
        const conn = await srv.waitForClose(0);
        assertThenAtMostQuit(conn.text, `EHLO ${ehloName(conn.text)}\r\nSTARTTLS\r\n`, 'in the clear');
      }, { env: { GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH: 'true' } });
    });
  }

  it('plaintext injected after the 220 to STARTTLS is discarded; only the capabilities inside TLS count', T, async () => {
    let password;
    const script = () => [
      GREETING,
      // Before TLS: a SIZE limit far too small, PIPELINING, AUTH PLAIN.
      read(/^EHLO \S+$/, '250-scripted.test\r\n250-PIPELINING\r\n250-SIZE 100\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n'),
      // The 220 and a forged EHLO reply in one write, before the handshake.
      read('STARTTLS', '220 2.0.0 go ahead\r\n250-INJECTED\r\n250 AUTH PLAIN\r\n'),
      { tls: { key: certs.server.key, cert: certs.server.cert } },
      // Inside TLS: a large SIZE, no PIPELINING, AUTH LOGIN only.
      read(/^EHLO \S+$/, '250-scripted.test\r\n250-SIZE 10000000\r\n250 AUTH LOGIN\r\n'),
      read(/^AUTH LOGIN/, (line, conn) => loginAuth(USER, password)(line, conn)),
      read(/^MAIL FROM:<a@example\.com> SIZE=\d+$/, '250 2.1.0 ok\r\n'),
      read('RCPT TO:<b@example.com>', '250 2.1.5 ok\r\n'),
      read('DATA', '354 go ahead\r\n'),
      readData('250 2.0.0 queued\r\n'),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    ];
    await withScripted(script, async (gw, srv, pw) => {
      password = pw;
      const r = await send(gw, { ...MSG, text: 'x'.repeat(1000) });
      assertOutcome(r, 200, 'sent');
      const conn = await srv.waitForClose(0);
      noMismatch(conn);
      const name = ehloName(conn.clearText);
      assert.equal(conn.clearText, `EHLO ${name}\r\nSTARTTLS\r\n`, 'nothing else in the clear');
      assert.equal(conn.leftover.length, 0, 'nothing sent between STARTTLS and the handshake');
      assert.equal(conn.rawAfterUpgrade[0], 0x16, 'the first byte after the 220 is a TLS handshake record');
      assert.equal(conn.secure, true);
      assert.ok(conn.tlsText.startsWith(`EHLO ${name}\r\nAUTH LOGIN`), `EHLO again, then AUTH LOGIN:\n${conn.tlsText}`);
      assert.doesNotMatch(conn.text, /AUTH PLAIN/, 'the injected / pre-TLS AUTH PLAIN was not believed');
      assert.deepEqual(conn.auth, { method: 'LOGIN', ok: true });
    });
  });

  it('a failed handshake after STARTTLS (untrusted certificate) → 502, nothing more in the clear', T, async () => {
    const script = [
      GREETING,
      read(/^EHLO \S+$/, '250-scripted.test\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n'),
      read('STARTTLS', '220 2.0.0 go ahead\r\n'),
      { tls: { key: certs.selfSigned.key, cert: certs.selfSigned.cert } },
      { stall: true },
    ];
    await withScripted([script], async (gw, srv) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed', ['unknown CA']);
      const conn = await srv.waitForClose(0);
      assert.equal(conn.clearText, `EHLO ${ehloName(conn.clearText)}\r\nSTARTTLS\r\n`);
      assert.equal(conn.rawAfterUpgrade[0], 0x16, 'a TLS handshake, nothing in the clear');
      assert.equal(conn.tlsText, '', 'no command inside a TLS session the client did not trust');
    }, { env: { GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH: 'true' } });
  });
});

describe('421: the server is closing the channel', () => {
  const R421 = '421 4.3.2 shutting down, try again later';
  const steps = [
    ['EHLO', 0],
    ['MAIL FROM', 1],
    ['RCPT TO', 2],
    ['DATA', 3],
    ['the final dot', 4],
  ];
  for (const [label, at] of steps) {
    it(`421 to ${label} → 502 with the 421 line; the client hangs up, sending nothing more (no QUIT)`, T, async () => {
      const replies = ['250-scripted.test\r\n250 HELP\r\n', '250 2.1.0 ok\r\n', '250 2.1.5 ok\r\n', '354 go ahead\r\n'];
      const script = [GREETING];
      const cmds = [/^EHLO \S+$/, 'MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.com>', 'DATA'];
      for (let i = 0; i < at && i < cmds.length; i++) script.push(read(cmds[i], replies[i]));
      if (at < cmds.length) script.push(read(cmds[at], `${R421}\r\n`));
      else script.push(readData(`${R421}\r\n`));
      script.push({ stall: true }); // the server keeps the connection open
      const srv = await startScripted([script]);
      let gw;
      try {
        gw = await startGateway({ smtpPort: srv.port, env: { GATEWAY_SMTP_TIMEOUT: 10 } });
        const r = await send(gw, MSG);
        assertOutcome(r, 502, 'failed', ['421', 'shutting down']);
        const conn = await srv.waitForClose(0, 10000); // the client closed it
        noMismatch(conn);
        const name = ehloName(conn.text);
        const sent = [`EHLO ${name}\r\n`, 'MAIL FROM:<a@example.com>\r\n', 'RCPT TO:<b@example.com>\r\n', 'DATA\r\n'];
        let expected = sent.slice(0, Math.min(at + 1, 4)).join('');
        if (at === 4) expected += conn.data + '.\r\n';
        assert.equal(conn.text, expected, 'nothing after the command answered 421');
      } finally {
        if (gw) await gw.stop();
        await srv.close();
      }
      assertCleanRun(gw);
    });
  }

  it('421 to STARTTLS → 502 with the 421 line, nothing more (no QUIT)', T, async () => {
    const script = [
      GREETING,
      read(/^EHLO \S+$/, '250-scripted.test\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n'),
      read('STARTTLS', `${R421}\r\n`),
      { stall: true },
    ];
    await withScripted([script], async (gw, srv) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed', ['421', 'shutting down']);
      const conn = await srv.waitForClose(0, 10000);
      noMismatch(conn);
      assert.equal(conn.text, `EHLO ${ehloName(conn.text)}\r\nSTARTTLS\r\n`);
    });
  });

  it('421 to AUTH → 502 with the 421 line, nothing more (no QUIT)', T, async () => {
    const script = [
      GREETING,
      read(/^EHLO \S+$/, '250-scripted.test\r\n250 AUTH PLAIN\r\n'),
      read(/^AUTH PLAIN/, `${R421}\r\n`),
      { stall: true },
    ];
    await withScripted([script], async (gw, srv) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed', ['421', 'shutting down']);
      const conn = await srv.waitForClose(0, 10000);
      noMismatch(conn);
      assert.match(conn.text, /^EHLO \S+\r\nAUTH PLAIN(?: \S+)?\r\n$/, 'nothing after the AUTH answered 421');
    }, { env: { GATEWAY_SMTP_TLS: 'none', GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH: 'true' } });
  });

  it('421 as the first reply to a pipelined batch → 502, nothing more sent', T, async () => {
    const script = [
      GREETING,
      read(/^EHLO \S+$/, '250-scripted.test\r\n250-PIPELINING\r\n250 HELP\r\n'),
      read('MAIL FROM:<a@example.com>', undefined),
      read('RCPT TO:<b@example.com>', undefined),
      read('DATA', `${R421}\r\n`),
      { stall: true },
    ];
    const srv = await startScripted([script]);
    let gw;
    try {
      gw = await startGateway({ smtpPort: srv.port, env: { GATEWAY_SMTP_TIMEOUT: 10 } });
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed', ['421', 'shutting down']);
      const conn = await srv.waitForClose(0, 10000);
      noMismatch(conn);
      assert.equal(
        conn.text,
        `EHLO ${ehloName(conn.text)}\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n`,
        'no RSET, no body, no QUIT after the 421',
      );
    } finally {
      if (gw) await gw.stop();
      await srv.close();
    }
    assertCleanRun(gw);
  });
});

describe('a server that never greets', () => {
  it('GATEWAY_SMTP_GREETING_TIMEOUT=1 (TIMEOUT 3600) → 504, connection closed by the client', T, async () => {
    const srv = await startScripted([[{ stall: true }]]);
    let gw;
    try {
      gw = await startGateway({
        smtpPort: srv.port,
        env: { GATEWAY_SMTP_TIMEOUT: 3600, GATEWAY_SMTP_GREETING_TIMEOUT: 1 },
      });
      const r = await send(gw, MSG, { timeoutMs: 25000 });
      assertOutcome(r, 504, 'failed');
      const conn = await srv.waitForClose(0, 10000);
      assert.equal(conn.text, '', 'nothing sent before a greeting');
    } finally {
      if (gw) await gw.stop();
      await srv.close();
    }
    assertCleanRun(gw);
  });
});

describe('CRLF smuggled into MAIL FROM parameters', () => {
  it('options.auth_from with CR LF never adds a command line (400, or xtext +0D+0A)', T, async () => {
    const password = randomSecret('pw_');
    const script = [
      GREETING,
      read(/^EHLO \S+$/, '250-scripted.test\r\n250 AUTH PLAIN\r\n'),
      read(/^AUTH PLAIN/, plainAuth(USER, password)),
      read(/^MAIL FROM:/, '250 2.1.0 ok\r\n'),
      read(/^RCPT TO:/, '250 2.1.5 ok\r\n'),
      read(/^(RCPT TO:|DATA)/, (line) => (line.startsWith('DATA') ? '354 go ahead\r\n' : '250 2.1.5 ok\r\n')),
      readData('250 2.0.0 queued\r\n'),
      read(/^QUIT$/, '221 bye\r\n'),
      { close: true },
    ];
    const srv = await startScripted([script]);
    let gw;
    try {
      gw = await startGateway({
        smtpPort: srv.port,
        password,
        secrets: authSecrets(USER, { password }),
        env: { GATEWAY_SMTP_USERNAME: USER, GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH: 'true', GATEWAY_SMTP_TIMEOUT: 5 },
      });
      const r = await send(gw, { ...MSG, options: { auth_from: 'x@example.com\r\nRCPT TO:<evil@example.com>' } });
      if (r.status === 400) {
        assert.equal(r.json.field, 'options.auth_from', r.text);
        assert.equal(srv.connections.length, 0, 'refused before any connection');
      } else {
        assertOutcome(r, 200, 'sent');
        const conn = await srv.waitForClose(0);
        const mail = conn.lines.find((l) => l.startsWith('MAIL FROM:'));
        assert.equal(mail, 'MAIL FROM:<a@example.com> AUTH=x@example.com+0D+0ARCPT+20TO:<evil@example.com>\r\n');
        assert.ok(!conn.lines.some((l) => l.includes('evil@example.com') && l.startsWith('RCPT')), 'no smuggled RCPT');
      }
    } finally {
      if (gw) await gw.stop();
      await srv.close();
    }
    assertCleanRun(gw);
  });
});
