'use strict';
// TLS to the upstream against smtp-server: implicit TLS and STARTTLS, the
// certificate checks (CA, host name, IP address, expiry), verify_peer=false,
// client certificates, the TLS 1.2 floor, and the TLS settings' validation.
// Certificates come from lib/certs.js (openssl, once per process).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const {
  assertCleanRun,
  assertNoSecrets,
  cleanupAll,
  randomSecret,
  request,
  runGateway,
  validEnv,
} = require('./lib/gateway');
const { startSmtpServer } = require('./lib/smtpserver');
const { sendChecked: send, startSessionGateway: startGateway } = require('./lib/upstream');
const { startScripted } = require('./lib/scripted');
const { getCerts } = require('./lib/certs');
const { assertOutcome } = require('./lib/upstream');

const T = { timeout: 30000 };

after(cleanupAll);


let certs;
before(async () => {
  certs = await getCerts();
});

const MSG = { from: 'a@example.com', to: 'b@example.com', subject: 'over tls', text: 'sent over TLS' };
const WARN_VERIFY = /^.*level=warn\b.*verify_peer.*$/gm;

/*
 * Starts smtp-server with `serverOpts` (implicit TLS with the good server
 * certificate unless told otherwise) and a gateway for host `localhost`,
 * runs fn(gw, smtp), stops both and checks the gateway's logs.
 */
async function withTls(serverOpts, gwOpts, fn) {
  const smtp = await startSmtpServer({
    secure: true,
    tls: { key: certs.server.key, cert: certs.server.cert },
    ...serverOpts,
  });
  let gw;
  try {
    gw = await startGateway({
      smtpPort: smtp.port,
      ...gwOpts,
      env: {
        GATEWAY_SMTP_HOST: 'localhost',
        GATEWAY_SMTP_TLS: serverOpts.starttls ? 'starttls' : 'implicit',
        GATEWAY_SMTP_CA_FILE: certs.caFile,
        ...(gwOpts.env || {}),
      },
    });
    await fn(gw, smtp);
  } finally {
    if (gw) await gw.stop();
    await smtp.close();
  }
  assertCleanRun(gw);
  return gw;
}

/* The send was delivered over TLS (TLS 1.2 or later, SNI = the host). */
async function assertDeliveredOverTls(gw, smtp, r, servername = 'localhost') {
  assertOutcome(r, 200, 'sent');
  assertNoSecrets(gw, r.text);
  const [m] = await smtp.waitForMessages(1);
  assert.equal(m.secure, true, 'smtp-server saw the session as secure (session.secure)');
  assert.equal(m.parsed.subject, MSG.subject);
  assert.ok(smtp.tlsSessions.length >= 1, 'a TLS handshake completed');
  const s = smtp.tlsSessions[smtp.tlsSessions.length - 1];
  assert.ok(['TLSv1.2', 'TLSv1.3'].includes(s.protocol), `TLS 1.2 or later, got ${s.protocol}`);
  if (servername !== null) assert.equal(s.servername, servername, 'SNI names the configured host');
  return m;
}

/* Nothing reached the mail transaction. */
function assertNothingSent(smtp) {
  assert.deepEqual(smtp.mailFromAttempts, [], 'no MAIL FROM');
  assert.deepEqual(smtp.authAttempts, [], 'no AUTH');
  assert.equal(smtp.transactions.length, 0, 'no message');
}

describe('implicit TLS and STARTTLS against smtp-server', () => {
  it('implicit TLS with a CA-signed certificate and GATEWAY_SMTP_CA_FILE → sent over TLS', T, async () => {
    const gw = await withTls({}, {}, async (gw, smtp) => {
      const r = await send(gw, MSG);
      await assertDeliveredOverTls(gw, smtp, r);
    });
    assert.equal((gw.stderr().match(WARN_VERIFY) || []).length, 0, 'no verify_peer warning when verifying');
  });

  it('the same with the flags --smtp-tls implicit --smtp-ca-file', T, async () => {
    await withTls(
      {},
      {
        args: ['serve', '--smtp-tls', 'implicit', '--smtp-ca-file', certs.caFile],
        env: { GATEWAY_SMTP_TLS: 'none', GATEWAY_SMTP_CA_FILE: undefined },
      },
      async (gw, smtp) => {
        const r = await send(gw, MSG);
        await assertDeliveredOverTls(gw, smtp, r);
      },
    );
  });

  it('STARTTLS: upgraded before MAIL, EHLO sent again, delivered over TLS', T, async () => {
    await withTls({ secure: false, starttls: true }, {}, async (gw, smtp) => {
      const r = await send(gw, MSG);
      const m = await assertDeliveredOverTls(gw, smtp, r);
      // smtp-server forgets the EHLO on STARTTLS (RFC 3207 4.2) and refuses
      // MAIL until a new one: the transaction's opening command proves
      // the client greeted again inside TLS.
      assert.equal(m.openingCommand, 'EHLO', 'EHLO again after STARTTLS');
      assert.equal(smtp.tcpConnections, 1);
    });
  });

});

/*
 * An IP address as the host (RFC 9525 6.3): only an iPAddress entry of the
 * subjectAltName equal to it counts; a DNS name spelling the address and
 * the CN never do. The server offers AUTH and the gateway has a user name,
 * so a certificate taken by mistake would show as an AUTH on the server.
 */
describe('an IP address as the host', () => {
  const USER = 'gw-user@example.com';
  const IP_REASON = (host) => [
    `the certificate of ${host} is not valid for that address`,
    'no matching IP address (subjectAltName iPAddress)',
    'check_server_identity',
  ];
  const MODES = [
    ['implicit TLS', {}],
    ['STARTTLS', { secure: false, starttls: true }],
  ];
  const HOSTS = ['127.0.0.1', '::1'];

  /* withTls on `host` (smtp-server listening there) with AUTH offered. */
  function withIp(host, mode, cert, gwEnv, fn) {
    const password = randomSecret('pw_');
    return withTls(
      {
        ...mode,
        listenHost: host,
        tls: { key: cert.key, cert: cert.cert },
        auth: { username: USER, password, methods: ['PLAIN', 'LOGIN'] },
      },
      {
        password,
        env: { GATEWAY_SMTP_HOST: host, GATEWAY_SMTP_USERNAME: USER, ...gwEnv },
      },
      fn,
    );
  }

  const refused = [
    ['a wrong IP SAN', () => certs.wrongIp],
    ['a DNS-only certificate (wrong.example)', () => certs.wrongName],
    ['the address as a DNS SAN', () => certs.ipAsDns],
    ['a CN-only certificate whose CN is the address', (host) => (host === '::1' ? certs.cnOnly6 : certs.cnOnly4)],
  ];
  for (const [modeName, mode] of MODES) {
    for (const host of HOSTS) {
      it(`${modeName} to ${host}, a certificate with its IP SAN → sent over TLS, AUTH inside TLS, no SNI`, T, async () => {
        await withIp(host, mode, certs.ipOnly, {}, async (gw, smtp) => {
          const r = await send(gw, MSG);
          await assertDeliveredOverTls(gw, smtp, r, null);
          assert.equal(smtp.tlsSessions[0].servername, null, 'no SNI for an IP address (RFC 6066 3)');
          assert.deepEqual(smtp.authAttempts.map((a) => [a.ok, a.secure]), [[true, true]], 'one AUTH, inside TLS');
        });
      });

      for (const [label, cert] of refused) {
        it(`${modeName} to ${host}, ${label} → 502 saying the address is not listed; no AUTH, no MAIL`, T, async () => {
          await withIp(host, mode, cert(host), {}, async (gw, smtp) => {
            const r = await send(gw, MSG);
            assertOutcome(r, 502, 'failed', IP_REASON(host));
            assertNoSecrets(gw, r.text);
            assertNothingSent(smtp);
          });
        });
      }
    }
  }

  // The resolver takes 127.1 as 127.0.0.1; it is an address, checked as one
  // (never as a DNS name, never in SNI).
  for (const [label, cert, ok] of [
    ['its IP SAN → sent, no SNI', () => certs.ipOnly, true],
    ['only a DNS name → 502 saying the address is not listed', () => certs.wrongName, false],
  ]) {
    it(`the short form 127.1, a certificate with ${label}`, T, async () => {
      await withTls(
        { tls: { key: cert().key, cert: cert().cert } },
        { env: { GATEWAY_SMTP_HOST: '127.1' } },
        async (gw, smtp) => {
          const r = await send(gw, MSG);
          if (!ok) {
            assertOutcome(r, 502, 'failed', IP_REASON('127.1'));
            assertNothingSent(smtp);
            return;
          }
          await assertDeliveredOverTls(gw, smtp, r, null);
          assert.equal(smtp.tlsSessions[0].servername, null, 'no SNI');
        },
      );
    });
  }

  for (const host of HOSTS) {
    it(`check_server_identity false to ${host}: a wrong IP SAN is taken`, T, async () => {
      await withIp(host, {}, certs.wrongIp, { GATEWAY_SMTP_CHECK_SERVER_IDENTITY: 'false' }, async (gw, smtp) => {
        const r = await send(gw, MSG);
        await assertDeliveredOverTls(gw, smtp, r, null);
      });
    });

    it(`check_server_identity false to ${host} still checks the chain → 502 unknown CA, no AUTH`, T, async () => {
      await withIp(
        host,
        {},
        certs.wrongIp,
        { GATEWAY_SMTP_CHECK_SERVER_IDENTITY: 'false', GATEWAY_SMTP_CA_FILE: certs.otherCaFile },
        async (gw, smtp) => {
          const r = await send(gw, MSG);
          assertOutcome(r, 502, 'failed', ['unknown CA', 'ca_file']);
          assertNothingSent(smtp);
        },
      );
    });
  }

  describe('POST /v1/credentials/{name}/verify', () => {
    /* A credential for `host` over `tls`; the verify reply. */
    async function verifyIp(host, tls, cert) {
      const password = randomSecret('pw_');
      const smtp = await startSmtpServer({
        secure: tls === 'implicit',
        starttls: tls === 'starttls',
        listenHost: host,
        tls: { key: cert.key, cert: cert.cert },
        auth: { username: USER, password, methods: ['PLAIN', 'LOGIN'] },
      });
      let gw;
      let v;
      try {
        gw = await startGateway({ secrets: [password] });
        const body = { host, port: smtp.port, tls, ca_file: certs.caFile, username: USER, password };
        const put = await request(gw, 'PUT', '/v1/credentials/ip', { body });
        assert.ok(put.status === 201 || put.status === 200, put.text);
        const r = await request(gw, 'POST', '/v1/credentials/ip/verify');
        assert.equal(r.status, 200, r.text);
        assertNoSecrets(gw, r.text);
        v = { ...r.json, authAttempts: smtp.authAttempts.slice(), mailFromAttempts: smtp.mailFromAttempts.slice() };
      } finally {
        if (gw) await gw.stop();
        await smtp.close();
      }
      assertCleanRun(gw);
      return v;
    }
    const steps = (v) => v.steps.map((s) => `${s.step}:${s.ok}`);

    for (const tls of ['implicit', 'starttls']) {
      for (const host of HOSTS) {
        it(`${tls} to ${host}, a DNS-only certificate → not ok at the tls step with the reason; no AUTH`, T, async () => {
          const v = await verifyIp(host, tls, certs.wrongName);
          assert.equal(v.ok, false, JSON.stringify(v));
          const t = v.steps.find((s) => s.step === tls.replace('implicit', 'tls'));
          assert.ok(t && t.ok === false, JSON.stringify(v.steps));
          assert.ok(!v.steps.some((s) => s.step === 'auth'), `no auth step: ${JSON.stringify(v.steps)}`);
          for (const n of IP_REASON(host)) assert.ok(t.error.includes(n), `the tls step names ${JSON.stringify(n)}: ${t.error}`);
          assert.equal(v.error, t.error);
          assert.deepEqual(v.authAttempts, [], 'no AUTH');
          assert.deepEqual(v.mailFromAttempts, [], 'no MAIL');
        });

        it(`${tls} to ${host}, a certificate with its IP SAN → ok`, T, async () => {
          const v = await verifyIp(host, tls, certs.ipOnly);
          assert.equal(v.ok, true, JSON.stringify(v));
          assert.ok(steps(v).includes(`${tls.replace('implicit', 'tls')}:true`), JSON.stringify(v.steps));
          assert.ok(steps(v).includes('auth:true'), JSON.stringify(v.steps));
          assert.deepEqual(v.authAttempts.map((a) => [a.ok, a.secure]), [[true, true]]);
        });
      }
    }
  });
});

describe('certificate checks', () => {
  for (const [label, caFile] of [
    ['no CA file (the system bundle)', () => undefined],
    ['a CA file of another CA', () => certs.otherCaFile],
  ]) {
    it(`an untrusted CA with ${label} → 502 naming unknown CA and ca_file, nothing sent`, T, async () => {
      await withTls({}, { env: { GATEWAY_SMTP_CA_FILE: caFile() } }, async (gw, smtp) => {
        const r = await send(gw, MSG);
        assertOutcome(r, 502, 'failed', ['unknown CA', 'ca_file']);
        assertNoSecrets(gw, r.text);
        assertNothingSent(smtp);
      });
    });
  }

  it('STARTTLS with an untrusted CA → 502, nothing sent', T, async () => {
    await withTls({ secure: false, starttls: true }, { env: { GATEWAY_SMTP_CA_FILE: undefined } }, async (gw, smtp) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed', ['unknown CA', 'ca_file']);
      assertNothingSent(smtp);
    });
  });

  it('a certificate for another name → 502 naming check_server_identity and the host', T, async () => {
    const tls = { key: certs.wrongName.key, cert: certs.wrongName.cert };
    await withTls({ tls }, {}, async (gw, smtp) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed', ['check_server_identity', 'localhost']);
      assertNothingSent(smtp);
    });
  });

  it('the same with GATEWAY_SMTP_CHECK_SERVER_IDENTITY=false → sent', T, async () => {
    const tls = { key: certs.wrongName.key, cert: certs.wrongName.cert };
    await withTls({ tls }, { env: { GATEWAY_SMTP_CHECK_SERVER_IDENTITY: 'false' } }, async (gw, smtp) => {
      const r = await send(gw, MSG);
      await assertDeliveredOverTls(gw, smtp, r);
    });
  });

  it('an expired certificate → 502 saying expired, nothing sent', T, async () => {
    const tls = { key: certs.expired.key, cert: certs.expired.cert };
    await withTls({ tls }, {}, async (gw, smtp) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed', ['expired']);
      assertNothingSent(smtp);
    });
  });

  it('GATEWAY_SMTP_VERIFY_PEER=false: an untrusted certificate is taken; one warn line at start-up', T, async () => {
    const tls = { key: certs.selfSigned.key, cert: certs.selfSigned.cert };
    const gw = await withTls(
      { tls },
      { env: { GATEWAY_SMTP_VERIFY_PEER: 'false', GATEWAY_SMTP_CA_FILE: undefined } },
      async (gw, smtp) => {
        const before = (gw.stderr().match(WARN_VERIFY) || []).length;
        assert.equal(before, 1, `one level=warn line mentioning verify_peer at start-up:\n${gw.stderr()}`);
        const r = await send(gw, MSG);
        await assertDeliveredOverTls(gw, smtp, r);
        const r2 = await send(gw, { ...MSG, subject: 'again' });
        assertOutcome(r2, 200, 'sent');
        await smtp.waitForMessages(2);
      },
    );
    assert.equal((gw.stderr().match(WARN_VERIFY) || []).length, 1, `the warning is logged once:\n${gw.stderr()}`);
  });

  it('the flags --smtp-verify-peer false / --smtp-check-server-identity false', T, async () => {
    const tls = { key: certs.wrongName.key, cert: certs.wrongName.cert };
    await withTls(
      { tls },
      {
        args: ['serve', '--smtp-verify-peer', 'false', '--smtp-check-server-identity', 'false'],
        env: { GATEWAY_SMTP_CA_FILE: undefined },
      },
      async (gw, smtp) => {
        assert.equal((gw.stderr().match(WARN_VERIFY) || []).length, 1, `the verify_peer warning:\n${gw.stderr()}`);
        const r = await send(gw, MSG);
        await assertDeliveredOverTls(gw, smtp, r);
      },
    );
  });

  it('a TLS 1.1-only server → 502 (TLS 1.2 is the minimum), nothing sent', T, async () => {
    const tls = {
      key: certs.server.key,
      cert: certs.server.cert,
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT@SECLEVEL=0',
    };
    await withTls({ tls }, {}, async (gw, smtp) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed');
      assertNothingSent(smtp);
    });
  });
});

describe('client certificates', () => {
  const requireCert = () => ({
    key: certs.server.key,
    cert: certs.server.cert,
    ca: certs.ca,
    requestCert: true,
    rejectUnauthorized: true,
  });

  it('GATEWAY_SMTP_CLIENT_CERT/KEY: the certificate is presented and accepted', T, async () => {
    await withTls(
      { tls: requireCert() },
      { env: { GATEWAY_SMTP_CLIENT_CERT: certs.client.certFile, GATEWAY_SMTP_CLIENT_KEY: certs.client.keyFile } },
      async (gw, smtp) => {
        const r = await send(gw, MSG);
        await assertDeliveredOverTls(gw, smtp, r);
        const s = smtp.tlsSessions[0];
        assert.equal(s.authorized, true, 'the client certificate verified against the CA');
        assert.ok(s.peerSubject, 'a client certificate was presented');
        assert.equal(s.peerSubject.CN, certs.clientCn);
      },
    );
  });

  it('the flags --smtp-client-cert/--smtp-client-key over STARTTLS', T, async () => {
    await withTls(
      { secure: false, starttls: true, tls: requireCert() },
      { args: ['serve', '--smtp-client-cert', certs.client.certFile, '--smtp-client-key', certs.client.keyFile] },
      async (gw, smtp) => {
        const r = await send(gw, MSG);
        await assertDeliveredOverTls(gw, smtp, r);
        assert.equal(smtp.tlsSessions[0].peerSubject && smtp.tlsSessions[0].peerSubject.CN, certs.clientCn);
      },
    );
  });

  it('no client certificate configured, one required → 502, nothing sent', T, async () => {
    await withTls({ tls: requireCert() }, {}, async (gw, smtp) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed');
      assertNothingSent(smtp);
    });
  });

  it('a client certificate from an unknown CA → 502, nothing sent', T, async () => {
    await withTls(
      { tls: requireCert() },
      { env: { GATEWAY_SMTP_CLIENT_CERT: certs.otherClient.certFile, GATEWAY_SMTP_CLIENT_KEY: certs.otherClient.keyFile } },
      async (gw, smtp) => {
        const r = await send(gw, MSG);
        assertOutcome(r, 502, 'failed');
        assertNothingSent(smtp);
      },
    );
  });
});

describe('TLS against servers that do not speak it', () => {
  it('implicit TLS to a plain-text server → 502, not a hang', T, async () => {
    const smtp = await startSmtpServer();
    let gw;
    try {
      gw = await startGateway({
        smtpPort: smtp.port,
        env: { GATEWAY_SMTP_HOST: 'localhost', GATEWAY_SMTP_TLS: 'implicit', GATEWAY_SMTP_CA_FILE: certs.caFile },
      });
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed');
      assertNothingSent(smtp);
    } finally {
      if (gw) await gw.stop();
      await smtp.close();
    }
    assertCleanRun(gw);
  });

  it('a server that never answers the TLS handshake → 504 (GATEWAY_SMTP_TIMEOUT=2)', T, async () => {
    const srv = await startScripted([[{ stall: true }]]);
    let gw;
    try {
      gw = await startGateway({
        smtpPort: srv.port,
        env: { GATEWAY_SMTP_HOST: 'localhost', GATEWAY_SMTP_TLS: 'implicit', GATEWAY_SMTP_CA_FILE: certs.caFile, GATEWAY_SMTP_TIMEOUT: 2 },
      });
      const r = await send(gw, MSG, { timeoutMs: 25000 });
      assertOutcome(r, 504, 'failed');
      const conn = await srv.waitForClose(0, 10000);
      assert.equal(conn.received[0], 0x16, 'the client began with a TLS handshake record');
    } finally {
      if (gw) await gw.stop();
      await srv.close();
    }
    assertCleanRun(gw);
  });
});

describe('TLS settings are validated at start-up', () => {
  /* Exit 2 with one stderr line naming `name`, never listening. */
  function assertConfigError(r, name) {
    assert.equal(r.timedOut, false, `the gateway should exit, not serve; stderr:\n${r.stderr}`);
    assert.equal(r.code, 2, `exit code (stderr:\n${r.stderr})`);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    assert.equal(lines.length, 1, `exactly one stderr line, got:\n${r.stderr}`);
    assert.ok(lines[0].includes(name), `the stderr line should name ${name}: ${lines[0]}`);
    assert.ok(!/event=listening/.test(r.stderr + r.stdout), 'it must never listen');
  }

  const bad = [
    ['GATEWAY_SMTP_TLS', 'ssl'],
    ['GATEWAY_SMTP_VERIFY_PEER', 'maybe'],
    ['GATEWAY_SMTP_CHECK_SERVER_IDENTITY', 'sometimes'],
    ['GATEWAY_SMTP_IP_VERSION', '5'],
  ];
  for (const [name, value] of bad) {
    it(`${name}=${value} → exit 2 naming it`, T, async () => {
      const r = await runGateway(['serve'], await validEnv({ [name]: value }));
      assertConfigError(r, name);
    });
  }

  it('a GATEWAY_SMTP_CA_FILE that does not exist → exit 2 naming the setting and the file', T, async () => {
    const missing = '/nonexistent/smtp-gateway-test-ca.pem';
    const r = await runGateway(
      ['serve'],
      await validEnv({ GATEWAY_SMTP_TLS: 'implicit', GATEWAY_SMTP_CA_FILE: missing }),
    );
    assertConfigError(r, 'GATEWAY_SMTP_CA_FILE');
    assert.ok(r.stderr.includes(missing), `the file is named: ${r.stderr}`);
  });

  it('a GATEWAY_SMTP_CA_FILE that is not PEM → exit 2 naming the file', T, async () => {
    // Any file that is not a certificate: the extensions file the server
    // certificate was made with.
    const notPem = certs.server.certFile.replace(/\.crt$/, '.ext');
    const r = await runGateway(['serve'], await validEnv({ GATEWAY_SMTP_TLS: 'implicit', GATEWAY_SMTP_CA_FILE: notPem }));
    assertConfigError(r, notPem);
  });
});
