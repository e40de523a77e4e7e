'use strict';
// A real SMTP server (Nodemailer's smtp-server) on 127.0.0.1, recording
// what the gateway sends it.
//
//   const smtp = await startSmtpServer({
//     rejectRcpt: { 'bad@example.com': { code: 550, message: 'No such user' } },
//   });
//   ... smtp.port, smtp.tcpConnections, smtp.rcptAttempts, smtp.transactions
//   const [msg] = await smtp.waitForMessages(1);
//   msg.envelope.mailFrom, msg.envelope.rcptTo, msg.raw, msg.parsed
//   await smtp.close();

const { SMTPServer } = require('smtp-server');
const { simpleParser } = require('mailparser');
const { track } = require('./cleanup');

function smtpError(code, message) {
  const e = new Error(message);
  e.responseCode = code;
  return e;
}

/*
 * opts:
 *   rejectRcpt   { address(lower-case): { code, message } } refused RCPT TO
 *   rejectMail   { code, message } refuse every MAIL FROM
 *   rejectData   { code, message } refuse every message after DATA
 *   auth         { username, password } offer AUTH PLAIN/LOGIN (insecure
 *                auth allowed) and require it
 *   serverOptions  merged into the SMTPServer options last
 */
async function startSmtpServer(opts = {}) {
  const rejectRcpt = {};
  for (const [k, v] of Object.entries(opts.rejectRcpt || {})) rejectRcpt[k.toLowerCase()] = v;

  const state = {
    tcpConnections: 0, // every TCP connection accepted
    connections: 0, // onConnect calls
    sessions: [], // the session objects, in connection order
    authAttempts: [], // { method, username, ok }
    mailFromAttempts: [], // every MAIL FROM address, in order
    rcptAttempts: [], // every RCPT TO address, accepted or not, in order
    transactions: [], // one per message taken
    errors: [],
  };
  const waiters = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };

  const options = {
    logger: false,
    secure: false,
    authOptional: !opts.auth,
    disabledCommands: opts.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    closeTimeout: 500,
    socketTimeout: 60 * 1000,
    banner: 'test smtp-server ready',
    onConnect(session, cb) {
      state.connections++;
      state.sessions.push(session);
      cb();
    },
    onAuth(auth, session, cb) {
      const ok =
        !!opts.auth && auth.username === opts.auth.username && auth.password === opts.auth.password;
      state.authAttempts.push({ method: auth.method, username: auth.username, ok });
      if (!ok) return cb(smtpError(535, 'Authentication credentials invalid'));
      cb(null, { user: auth.username });
    },
    onMailFrom(address, session, cb) {
      state.mailFromAttempts.push(address.address);
      if (opts.rejectMail) return cb(smtpError(opts.rejectMail.code, opts.rejectMail.message));
      cb();
    },
    onRcptTo(address, session, cb) {
      state.rcptAttempts.push(address.address);
      const r = rejectRcpt[String(address.address).toLowerCase()];
      if (r) return cb(smtpError(r.code || 550, r.message));
      cb();
    },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('error', (e) => state.errors.push(e));
      stream.on('end', async () => {
        const raw = Buffer.concat(chunks);
        if (opts.rejectData) {
          cb(smtpError(opts.rejectData.code, opts.rejectData.message));
          return;
        }
        let parsed = null;
        try {
          parsed = await simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true });
        } catch (e) {
          state.errors.push(e);
        }
        state.transactions.push({
          envelope: {
            mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
            mailFromArgs: session.envelope.mailFrom ? session.envelope.mailFrom.args : null,
            rcptTo: session.envelope.rcptTo.map((r) => r.address),
            smtpUtf8: !!session.envelope.smtpUtf8,
            bodyType: session.envelope.bodyType,
          },
          user: session.user,
          helo: session.hostNameAppearsAs,
          openingCommand: session.openingCommand,
          raw,
          parsed,
        });
        wake();
        cb(null, 'Message queued as TESTQ' + state.transactions.length);
      });
    },
    ...(opts.serverOptions || {}),
  };

  const server = new SMTPServer(options);
  server.on('error', (e) => state.errors.push(e));
  await new Promise((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  server.server.on('connection', () => {
    state.tcpConnections++;
  });

  let closing = null;
  const close = () => {
    untrack();
    if (!closing) closing = new Promise((resolve) => server.close(() => resolve()));
    return closing;
  };
  const untrack = track(close);

  return {
    host: '127.0.0.1',
    port: server.server.address().port,
    server,
    get tcpConnections() {
      return state.tcpConnections;
    },
    get connections() {
      return state.connections;
    },
    get sessions() {
      return state.sessions;
    },
    get authAttempts() {
      return state.authAttempts;
    },
    get mailFromAttempts() {
      return state.mailFromAttempts;
    },
    get rcptAttempts() {
      return state.rcptAttempts;
    },
    get transactions() {
      return state.transactions;
    },
    get errors() {
      return state.errors;
    },
    /* Resolves with the transactions once at least n messages arrived. */
    waitForMessages(n, timeoutMs = 15000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (state.transactions.length >= n) {
            clearTimeout(timer);
            resolve(state.transactions.slice());
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          reject(new Error(`waited for ${n} message(s), got ${state.transactions.length}`));
        }, timeoutMs);
        if (check()) return;
        const loop = () => {
          if (!check()) waiters.push(loop);
        };
        waiters.push(loop);
      });
    },
    /* Forgets everything recorded so far (not the counters' meaning). */
    reset() {
      state.tcpConnections = 0;
      state.connections = 0;
      state.sessions.length = 0;
      state.authAttempts.length = 0;
      state.mailFromAttempts.length = 0;
      state.rcptAttempts.length = 0;
      state.transactions.length = 0;
      state.errors.length = 0;
    },
    close,
  };
}

module.exports = { startSmtpServer };
