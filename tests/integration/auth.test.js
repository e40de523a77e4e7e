'use strict';
// SMTP AUTH: each mechanism against smtp-server over TLS, failures (535,
// ignore_failed_auth, the XOAUTH2 error challenge), the choice of
// mechanism (GATEWAY_SMTP_MECHANISMS order, which secret exists), the
// refusal to send any AUTH in the clear, and the AUTH=
// parameter of MAIL FROM (exact bytes, scripted). No reply and no log
// line may hold the password, the access token or the API token.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const {
  assertCleanRun,
  assertNoSecrets,
  cleanupAll,
  randomSecret,
  runGateway,
  validEnv,
} = require('./lib/gateway');
const { startSmtpServer } = require('./lib/smtpserver');
const { sendChecked: send, startSessionGateway: startGateway } = require('./lib/upstream');
const { startScripted, send: say, read, readData } = require('./lib/scripted');
const { getCerts } = require('./lib/certs');
const {
  assertOutcome,
  assertThenAtMostQuit,
  authSecrets,
  ehloName,
  plainAuth,
  xoauth2Auth,
  xoauth2Response,
} = require('./lib/upstream');

const T = { timeout: 30000 };
const USER = 'gw-user@example.com';

after(cleanupAll);


let certs;
before(async () => {
  certs = await getCerts();
});

const MSG = { from: 'a@example.com', to: 'b@example.com', subject: 'authed', text: 'x' };

/*
 * smtp-server with AUTH (`methods`, the password and/or access token in
 * `auth`), over implicit TLS unless `plain`; a gateway with the user
 * name, `password` / `token` (null: not set) and `env`. Runs fn(gw, smtp,
 * secrets) and checks the logs.
 */
async function withAuth({ methods, auth = {}, plain = false, password, token = null, env = {}, args }, fn) {
  const pw = password === undefined ? randomSecret('pw_') : password;
  const smtp = await startSmtpServer({
    secure: !plain,
    tls: plain ? undefined : { key: certs.server.key, cert: certs.server.cert },
    auth: { username: USER, password: pw, accessToken: token, methods, ...auth },
  });
  let gw;
  try {
    gw = await startGateway({
      smtpPort: smtp.port,
      password: pw || '',
      args,
      secrets: authSecrets(USER, { password: pw, token }),
      env: {
        GATEWAY_SMTP_HOST: 'localhost',
        GATEWAY_SMTP_TLS: plain ? 'none' : 'implicit',
        GATEWAY_SMTP_CA_FILE: plain ? undefined : certs.caFile,
        GATEWAY_SMTP_USERNAME: USER,
        ...(token ? { GATEWAY_SMTP_ACCESS_TOKEN: token } : {}),
        ...env,
      },
    });
    await fn(gw, smtp, { password: pw, token });
  } finally {
    if (gw) await gw.stop();
    await smtp.close();
  }
  assertCleanRun(gw);
  return gw;
}

/* Sent, over an authenticated session, with `method`. */
async function assertSentAs(gw, smtp, r, method) {
  assertOutcome(r, 200, 'sent');
  assertNoSecrets(gw, r.text);
  const [m] = await smtp.waitForMessages(1);
  assert.equal(m.user, USER, 'the message came over an authenticated session');
  assert.deepEqual(
    smtp.authAttempts.map((a) => [a.method, a.username, a.ok]),
    [[method, USER, true]],
    `one AUTH, with ${method}`,
  );
  return m;
}

function assertNoMailFrom(smtp) {
  assert.deepEqual(smtp.mailFromAttempts, [], 'no MAIL FROM');
  assert.equal(smtp.transactions.length, 0, 'no message');
}

describe('each mechanism alone, over TLS', () => {
  for (const method of ['PLAIN', 'LOGIN', 'CRAM-MD5']) {
    it(`AUTH ${method}`, T, async () => {
      await withAuth({ methods: [method] }, async (gw, smtp, { password }) => {
        const r = await send(gw, MSG);
        const m = await assertSentAs(gw, smtp, r, method);
        assert.equal(m.secure, true);
        if (method !== 'CRAM-MD5') assert.equal(smtp.authAttempts[0].password, password, 'the server got the password');
      });
    });
  }

  it('AUTH XOAUTH2 with GATEWAY_SMTP_ACCESS_TOKEN', T, async () => {
    const token = randomSecret('ya29.');
    await withAuth({ methods: ['XOAUTH2'], token }, async (gw, smtp) => {
      const r = await send(gw, MSG);
      await assertSentAs(gw, smtp, r, 'XOAUTH2');
      assert.equal(smtp.authAttempts[0].accessToken, token, 'the server got the access token');
    });
  });

  it('XOAUTH2 with only an access token (no password)', T, async () => {
    const token = randomSecret('ya29.');
    await withAuth({ methods: ['PLAIN', 'XOAUTH2'], token, password: null }, async (gw, smtp) => {
      const r = await send(gw, MSG);
      await assertSentAs(gw, smtp, r, 'XOAUTH2');
    });
  });
});

describe('the access token is a secret', () => {
  it('there is no --smtp-access-token flag (exit 2, names it, does not echo the value)', T, async () => {
    const token = randomSecret('ya29.');
    const r = await runGateway(['serve', '--smtp-access-token', token], await validEnv());
    assert.equal(r.timedOut, false, `should exit; stderr:\n${r.stderr}`);
    assert.equal(r.code, 2, `stderr:\n${r.stderr}`);
    assert.ok(r.stderr.includes('--smtp-access-token'), r.stderr);
    assert.ok(!(r.stderr + r.stdout).includes(token), 'the value is not echoed');
  });
});

describe('AUTH after STARTTLS', () => {
  it('smtp-server offers AUTH PLAIN before and after STARTTLS: AUTH only inside TLS', T, async () => {
    const password = randomSecret('pw_');
    const smtp = await startSmtpServer({
      starttls: true,
      tls: { key: certs.server.key, cert: certs.server.cert },
      auth: { username: USER, password, methods: ['PLAIN'] },
    });
    let gw;
    try {
      gw = await startGateway({
        smtpPort: smtp.port,
        password,
        secrets: authSecrets(USER, { password }),
        env: {
          GATEWAY_SMTP_HOST: 'localhost',
          GATEWAY_SMTP_TLS: 'starttls',
          GATEWAY_SMTP_CA_FILE: certs.caFile,
          GATEWAY_SMTP_USERNAME: USER,
        },
      });
      const r = await send(gw, MSG);
      const m = await assertSentAs(gw, smtp, r, 'PLAIN');
      assert.equal(smtp.authAttempts[0].secure, true, 'AUTH came inside TLS');
      assert.equal(m.secure, true);
    } finally {
      if (gw) await gw.stop();
      await smtp.close();
    }
    assertCleanRun(gw);
  });
});

describe('failed authentication', () => {
  it('a wrong password → 502 with the 535 reply, no MAIL, no secret in the reply', T, async () => {
    await withAuth({ methods: ['PLAIN', 'LOGIN'], auth: { password: 'the-right-one' } }, async (gw, smtp, { password }) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed', ['535', 'credentials invalid']);
      assert.ok(!r.text.includes(password));
      assertNoSecrets(gw, r.text);
      assert.equal(smtp.authAttempts.length, 1);
      assert.equal(smtp.authAttempts[0].ok, false);
      assertNoMailFrom(smtp);
    });
  });

  it('GATEWAY_SMTP_IGNORE_FAILED_AUTH=true: a 535 and the send goes on unauthenticated', T, async () => {
    await withAuth(
      {
        methods: ['PLAIN'],
        auth: { password: 'the-right-one', optional: true },
        env: { GATEWAY_SMTP_IGNORE_FAILED_AUTH: 'true' },
      },
      async (gw, smtp) => {
        const r = await send(gw, MSG);
        assertOutcome(r, 200, 'sent');
        assertNoSecrets(gw, r.text);
        const [m] = await smtp.waitForMessages(1);
        assert.ok(!m.user, 'the session was not authenticated');
        assert.deepEqual(smtp.authAttempts.map((a) => a.ok), [false]);
      },
    );
  });

  it('the flag --smtp-ignore-failed-auth true does the same', T, async () => {
    await withAuth(
      {
        methods: ['LOGIN'],
        auth: { password: 'the-right-one', optional: true },
        args: ['serve', '--smtp-ignore-failed-auth', 'true'],
      },
      async (gw, smtp) => {
        const r = await send(gw, MSG);
        assertOutcome(r, 200, 'sent');
        const [m] = await smtp.waitForMessages(1);
        assert.ok(!m.user);
      },
    );
  });

  it('an XOAUTH2 error challenge → 502 with its decoded JSON in error, no MAIL', T, async () => {
    const token = randomSecret('ya29.');
    const challenge = { status: '401', schemes: 'bearer', scope: 'https://mail.example.com/' };
    await withAuth(
      { methods: ['XOAUTH2'], token, auth: { accessToken: 'another-token', xoauth2Error: challenge } },
      async (gw, smtp) => {
        const r = await send(gw, MSG);
        assertOutcome(r, 502, 'failed', [JSON.stringify(challenge)]);
        assertNoSecrets(gw, r.text);
        assert.deepEqual(smtp.authAttempts.map((a) => [a.method, a.ok]), [['XOAUTH2', false]]);
        assertNoMailFrom(smtp);
      },
    );
  });
});

describe('choosing the mechanism', () => {
  const cases = [
    // [server offers, GATEWAY_SMTP_MECHANISMS, token?, expected]
    [['PLAIN', 'LOGIN'], 'LOGIN,PLAIN', false, 'LOGIN'],
    [['PLAIN', 'LOGIN'], 'PLAIN,LOGIN', false, 'PLAIN'],
    [['PLAIN', 'LOGIN', 'CRAM-MD5'], undefined, false, 'CRAM-MD5'], // the default order
    [['PLAIN', 'LOGIN'], undefined, false, 'LOGIN'],
    [['PLAIN', 'XOAUTH2', 'LOGIN'], undefined, true, 'XOAUTH2'],
    [['XOAUTH2', 'PLAIN'], 'XOAUTH2,PLAIN', false, 'PLAIN'], // XOAUTH2 needs a token
    [['CRAM-MD5', 'PLAIN'], 'PLAIN,CRAM-MD5', false, 'PLAIN'],
  ];
  for (const [offered, mechs, withToken, expected] of cases) {
    it(`server offers ${offered.join(' ')}, mechanisms ${mechs || '(default)'}${withToken ? ', with a token' : ''} → ${expected}`, T, async () => {
      const token = withToken ? randomSecret('ya29.') : null;
      await withAuth(
        { methods: offered, token, env: mechs ? { GATEWAY_SMTP_MECHANISMS: mechs } : {} },
        async (gw, smtp) => {
          const r = await send(gw, MSG);
          await assertSentAs(gw, smtp, r, expected);
        },
      );
    });
  }

  it('the flag --smtp-mechanisms wins over GATEWAY_SMTP_MECHANISMS', T, async () => {
    await withAuth(
      { methods: ['PLAIN', 'LOGIN'], env: { GATEWAY_SMTP_MECHANISMS: 'PLAIN' }, args: ['serve', '--smtp-mechanisms', 'LOGIN,PLAIN'] },
      async (gw, smtp) => {
        const r = await send(gw, MSG);
        await assertSentAs(gw, smtp, r, 'LOGIN');
      },
    );
  });

  it('no common mechanism → 502 naming the offered ones and mechanisms, no AUTH, no MAIL', T, async () => {
    await withAuth(
      { methods: ['LOGIN', 'PLAIN'], env: { GATEWAY_SMTP_MECHANISMS: 'CRAM-MD5,XOAUTH2' } },
      async (gw, smtp) => {
        const r = await send(gw, MSG);
        assertOutcome(r, 502, 'failed', ['LOGIN PLAIN', 'mechanisms']);
        assertNoSecrets(gw, r.text);
        assert.deepEqual(smtp.authAttempts, []);
        assertNoMailFrom(smtp);
      },
    );
  });

  it('only an access token, the server offers PLAIN LOGIN → 502 naming them and mechanisms, no AUTH', T, async () => {
    const token = randomSecret('ya29.');
    await withAuth({ methods: ['PLAIN', 'LOGIN'], token, password: null }, async (gw, smtp) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed', ['PLAIN LOGIN', 'mechanism']);
      assert.deepEqual(smtp.authAttempts, []);
      assertNoMailFrom(smtp);
    });
  });

  it('only XOAUTH2 offered and no access token → 502 naming XOAUTH2 and mechanisms', T, async () => {
    await withAuth({ methods: ['XOAUTH2'] }, async (gw, smtp) => {
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed', ['XOAUTH2', 'mechanism']);
      assert.deepEqual(smtp.authAttempts, []);
      assertNoMailFrom(smtp);
    });
  });
});

describe('AUTH over plain TCP', () => {
  const plainEhlo = (mechs) => `250-scripted.test\r\n250-AUTH ${mechs}\r\n250 HELP\r\n`;

  for (const [mechs, token] of [
    ['PLAIN', false],
    ['LOGIN', false],
    ['PLAIN LOGIN', false],
    ['XOAUTH2', true],
  ]) {
    it(`only ${mechs} offered without TLS → 502 "in the clear", allow_plaintext_auth; AUTH never sent`, T, async () => {
      const srv = await startScripted([[say('220 scripted.test ESMTP\r\n'), read(/^EHLO \S+$/, plainEhlo(mechs)), read(/^QUIT$/, '221 bye\r\n'), { close: true }]]);
      const accessToken = token ? randomSecret('ya29.') : null;
      const password = randomSecret('pw_');
      let gw;
      try {
        gw = await startGateway({
          smtpPort: srv.port,
          password,
          secrets: authSecrets(USER, { password, token: accessToken }),
          env: {
            GATEWAY_SMTP_USERNAME: USER,
            ...(accessToken ? { GATEWAY_SMTP_ACCESS_TOKEN: accessToken } : {}),
          },
        });
        const r = await send(gw, MSG);
        assertOutcome(r, 502, 'failed', ['in the clear', 'allow_plaintext_auth']);
        assertNoSecrets(gw, r.text);
        const conn = await srv.waitForClose(0);
        assertThenAtMostQuit(conn.text, `EHLO ${ehloName(conn.text)}\r\n`, 'nothing but EHLO (and QUIT)');
      } finally {
        if (gw) await gw.stop();
        await srv.close();
      }
      assertCleanRun(gw);
    });
  }

  // The same against smtp-server, for every mechanism: CRAM-MD5 sends no
  // password, but its response lets anyone who reads it guess the password
  // offline, so it is held back like the others.
  for (const [methods, token] of [
    [['CRAM-MD5'], false],
    [['PLAIN', 'LOGIN', 'CRAM-MD5'], false], // CRAM-MD5 is first by default
    [['PLAIN'], false],
    [['LOGIN'], false],
    [['XOAUTH2'], true],
  ]) {
    it(`smtp-server offers ${methods.join(' ')} without TLS, allow_plaintext_auth false → 502, no AUTH on the wire`, T, async () => {
      const accessToken = token ? randomSecret('ya29.') : null;
      await withAuth({ methods, plain: true, token: accessToken }, async (gw, smtp) => {
        const r = await send(gw, MSG);
        assertOutcome(r, 502, 'failed', ['in the clear', 'allow_plaintext_auth']);
        assertNoSecrets(gw, r.text);
        assert.deepEqual(smtp.authAttempts, [], 'no AUTH completed');
        assert.match(smtp.wire, /^EHLO /m, 'the wire was recorded');
        assert.doesNotMatch(smtp.wire, /^AUTH/im, `no AUTH command: ${JSON.stringify(smtp.wire)}`);
        assertNoMailFrom(smtp);
      });
    });
  }

  for (const [method, token] of [
    ['CRAM-MD5', false],
    ['XOAUTH2', true],
  ]) {
    it(`GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH=true: AUTH ${method} over plain TCP`, T, async () => {
      const accessToken = token ? randomSecret('ya29.') : null;
      await withAuth(
        { methods: [method], plain: true, token: accessToken, env: { GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH: 'true' } },
        async (gw, smtp) => {
          const r = await send(gw, MSG);
          const m = await assertSentAs(gw, smtp, r, method);
          assert.equal(m.secure, false);
          assert.match(smtp.wire, new RegExp(`^AUTH ${method}`, 'm'), `AUTH ${method} on the wire`);
        },
      );
    });
  }

  it('GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH=true: PLAIN over plain TCP', T, async () => {
    await withAuth(
      { methods: ['PLAIN'], plain: true, env: { GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH: 'true' } },
      async (gw, smtp, { password }) => {
        const r = await send(gw, MSG);
        await assertSentAs(gw, smtp, r, 'PLAIN');
        assert.equal(smtp.authAttempts[0].password, password);
        assert.equal(smtp.authAttempts[0].secure, false);
      },
    );
  });

  it('the flag --smtp-allow-plaintext-auth true: LOGIN over plain TCP', T, async () => {
    await withAuth(
      { methods: ['LOGIN'], plain: true, args: ['serve', '--smtp-allow-plaintext-auth', 'true'] },
      async (gw, smtp) => {
        const r = await send(gw, MSG);
        await assertSentAs(gw, smtp, r, 'LOGIN');
      },
    );
  });
});

describe('the exact AUTH bytes (scripted, plain TCP with allow_plaintext_auth)', () => {
  /*
   * A scripted server offering `mechs`, with the AUTH step `authStep`,
   * expecting MAIL FROM exactly `mailLine`, then the usual. Runs the send
   * `body` through a gateway with `env` and returns [reply, conn].
   */
  async function scriptedSend({ mechs = 'PLAIN', extra = '', authStep, mailLine, body = MSG, env = {}, args, password, token }) {
    const steps = [
      say('220 scripted.test ESMTP\r\n'),
      read(/^EHLO \S+$/, `250-scripted.test\r\n${extra}250 AUTH ${mechs}\r\n`),
    ];
    if (authStep) steps.push(authStep);
    steps.push(
      read(mailLine, '250 2.1.0 ok\r\n'),
      read('RCPT TO:<b@example.com>', '250 2.1.5 ok\r\n'),
      read('DATA', '354 go\r\n'),
      readData('250 2.0.0 queued\r\n'),
      read('QUIT', '221 bye\r\n'),
      { close: true },
    );
    const srv = await startScripted([steps]);
    let gw;
    let result;
    try {
      gw = await startGateway({
        smtpPort: srv.port,
        password,
        args,
        secrets: authSecrets(USER, { password, token }),
        env: {
          GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH: 'true',
          ...(token ? { GATEWAY_SMTP_ACCESS_TOKEN: token } : {}),
          ...env,
        },
      });
      const r = await send(gw, body);
      assertNoSecrets(gw, r.text);
      const conn = await srv.waitForClose(0);
      result = [r, conn];
    } finally {
      if (gw) await gw.stop();
      await srv.close();
    }
    assertCleanRun(gw);
    return result;
  }

  function noMismatch(conn) {
    assert.deepEqual(conn.mismatches, [], `the client said something unexpected:\n${conn.text}`);
  }

  it('GATEWAY_SMTP_AUTH_FROM → MAIL FROM:<...> AUTH=<xtext> (+ as +2B)', T, async () => {
    const password = randomSecret('pw_');
    const [r, conn] = await scriptedSend({
      password,
      authStep: read(/^AUTH PLAIN/, plainAuth(USER, password)),
      mailLine: 'MAIL FROM:<a@example.com> AUTH=a+2Bb@example.com',
      env: { GATEWAY_SMTP_USERNAME: USER, GATEWAY_SMTP_AUTH_FROM: 'a+b@example.com' },
    });
    assertOutcome(r, 200, 'sent');
    noMismatch(conn);
    assert.deepEqual(conn.auth, { method: 'PLAIN', ok: true });
  });

  it('options.auth_from wins over the credential\'s (= as +3D)', T, async () => {
    const password = randomSecret('pw_');
    const [r, conn] = await scriptedSend({
      password,
      authStep: read(/^AUTH PLAIN/, plainAuth(USER, password)),
      mailLine: 'MAIL FROM:<a@example.com> AUTH=o+3Dk@example.com',
      body: { ...MSG, options: { auth_from: 'o=k@example.com' } },
      env: { GATEWAY_SMTP_USERNAME: USER, GATEWAY_SMTP_AUTH_FROM: 'a+b@example.com' },
    });
    assertOutcome(r, 200, 'sent');
    noMismatch(conn);
  });

  it('options.auth_from "<>" → AUTH=<>', T, async () => {
    const password = randomSecret('pw_');
    const [r, conn] = await scriptedSend({
      password,
      authStep: read(/^AUTH PLAIN/, plainAuth(USER, password)),
      mailLine: 'MAIL FROM:<a@example.com> AUTH=<>',
      body: { ...MSG, options: { auth_from: '<>' } },
      env: { GATEWAY_SMTP_USERNAME: USER },
    });
    assertOutcome(r, 200, 'sent');
    noMismatch(conn);
  });

  it('non-ASCII bytes in auth_from are xtext-encoded one by one (ë as +C3+AB)', T, async () => {
    const password = randomSecret('pw_');
    const [r, conn] = await scriptedSend({
      password,
      extra: '250-SMTPUTF8\r\n',
      authStep: read(/^AUTH PLAIN/, plainAuth(USER, password)),
      // Whether the gateway also asks for SMTPUTF8 here is left open.
      mailLine: /^MAIL FROM:<a@example\.com>(?: SMTPUTF8)? AUTH=zo\+C3\+AB@example\.com(?: SMTPUTF8)?$/,
      body: { ...MSG, options: { auth_from: 'zoë@example.com' } },
      env: { GATEWAY_SMTP_USERNAME: USER },
    });
    assertOutcome(r, 200, 'sent');
    noMismatch(conn);
  });

  it('the flag --smtp-auth-from', T, async () => {
    const password = randomSecret('pw_');
    const [r, conn] = await scriptedSend({
      password,
      authStep: read(/^AUTH PLAIN/, plainAuth(USER, password)),
      mailLine: 'MAIL FROM:<a@example.com> AUTH=robot+2Bmail@example.com',
      args: ['serve', '--smtp-auth-from', 'robot+mail@example.com'],
      env: { GATEWAY_SMTP_USERNAME: USER },
    });
    assertOutcome(r, 200, 'sent');
    noMismatch(conn);
  });

  it('no user name: no AUTH command and no AUTH= parameter, even with auth_from', T, async () => {
    const [r, conn] = await scriptedSend({
      mailLine: 'MAIL FROM:<a@example.com>',
      body: { ...MSG, options: { auth_from: 'o=k@example.com' } },
      env: { GATEWAY_SMTP_AUTH_FROM: 'a+b@example.com' },
    });
    assertOutcome(r, 200, 'sent');
    noMismatch(conn);
    assert.doesNotMatch(conn.text, /^AUTH/m);
  });

  it('failed AUTH ignored (ignore_failed_auth): no AUTH= parameter', T, async () => {
    const password = randomSecret('pw_');
    const [r, conn] = await scriptedSend({
      password,
      authStep: read(/^AUTH PLAIN/, plainAuth(USER, password, '535 5.7.8 Authentication credentials invalid\r\n')),
      mailLine: 'MAIL FROM:<a@example.com>',
      body: { ...MSG, options: { auth_from: 'o=k@example.com' } },
      env: { GATEWAY_SMTP_USERNAME: USER, GATEWAY_SMTP_IGNORE_FAILED_AUTH: 'true', GATEWAY_SMTP_AUTH_FROM: 'a+b@example.com' },
    });
    assertOutcome(r, 200, 'sent');
    noMismatch(conn);
  });

  it('AUTH XOAUTH2 bytes; an error challenge is answered with an empty line; its JSON in error', T, async () => {
    const token = randomSecret('ya29.');
    const challenge = { status: '400', schemes: 'Bearer', scope: 'https://mail.example.com/' };
    const srv = await startScripted([
      [
        say('220 scripted.test ESMTP\r\n'),
        read(/^EHLO \S+$/, '250-scripted.test\r\n250 AUTH XOAUTH2\r\n'),
        read(/^AUTH XOAUTH2/, xoauth2Auth(USER, token, challenge)),
        read(/^QUIT$/, '221 bye\r\n'),
        { close: true },
      ],
    ]);
    let gw;
    try {
      gw = await startGateway({
        smtpPort: srv.port,
        password: '',
        secrets: authSecrets(USER, { token }),
        env: { GATEWAY_SMTP_USERNAME: USER, GATEWAY_SMTP_ACCESS_TOKEN: token, GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH: 'true' },
      });
      const r = await send(gw, MSG);
      assertOutcome(r, 502, 'failed', [JSON.stringify(challenge)]);
      assertNoSecrets(gw, r.text);
      const conn = await srv.waitForClose(0);
      assert.deepEqual(conn.auth, { method: 'XOAUTH2', ok: true }, 'the initial response was user=..^Aauth=Bearer ..^A^A');
      assert.equal(conn.xoauth2Answer, '\r\n', 'the challenge is answered with an empty line');
      const name = ehloName(conn.text);
      const resp = xoauth2Response(USER, token);
      const expected = [
        `EHLO ${name}\r\nAUTH XOAUTH2 ${resp}\r\n\r\n`,
        `EHLO ${name}\r\nAUTH XOAUTH2\r\n${resp}\r\n\r\n`,
      ];
      assert.ok(
        expected.some((e) => conn.text === e || conn.text === e + 'QUIT\r\n'),
        `exactly EHLO, AUTH XOAUTH2 <response>, an empty line (and QUIT): ${JSON.stringify(conn.text)}`,
      );
    } finally {
      if (gw) await gw.stop();
      await srv.close();
    }
    assertCleanRun(gw);
  });
});
