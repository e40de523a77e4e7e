'use strict';
// A real SMTP server (Nodemailer's smtp-server) on 127.0.0.1 (or ::1 with
// `listenHost`), recording
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
 *   auth         { username, password, accessToken, methods, optional,
 *                xoauth2Error } offer AUTH (methods: default ['PLAIN',
 *                'LOGIN']; insecure auth allowed) and require it unless
 *                `optional`. PLAIN/LOGIN/CRAM-MD5 check the password,
 *                XOAUTH2 the accessToken; a wrong one is a 535, or with
 *                `xoauth2Error` (an object) an XOAUTH2 error challenge
 *                (334 + base64 JSON of it, then 535).
 *   tls          { key, cert, ca, requestCert, rejectUnauthorized, ... }
 *                TLS options (the certificate STARTTLS and implicit TLS use)
 *   secure       true: implicit TLS from the first byte
 *   starttls     true: offer STARTTLS (it is disabled otherwise)
 *   listenHost   the address to listen on (default 127.0.0.1; '::1' for IPv6)
 *   serverOptions  merged into the SMTPServer options last
 * Recorded besides: tlsSessions (one per TLS handshake that completed:
 * { servername, protocol, authorized, peerSubject }), every auth attempt
 * with the secret the client gave, per transaction `secure`, and on a
 * server without TLS (neither `secure` nor `starttls`) `wire`: every byte
 * the clients sent, as text, connections in order (a command the server
 * refused or never finished shows there too).
 */
async function startSmtpServer(opts = {}) {
  const rejectRcpt = {};
  for (const [k, v] of Object.entries(opts.rejectRcpt || {})) rejectRcpt[k.toLowerCase()] = v;

  const state = {
    tcpConnections: 0, // every TCP connection accepted
    connections: 0, // onConnect calls
    sessions: [], // the session objects, in connection order
    authAttempts: [], // { method, username, password, accessToken, ok, secure }
    tlsSessions: [], // { servername, protocol, authorized, peerSubject } per handshake
    mailFromAttempts: [], // every MAIL FROM address, in order
    rcptAttempts: [], // every RCPT TO address, accepted or not, in order
    transactions: [], // one per message taken
    wire: [], // the bytes received, without TLS only
    errors: [],
  };
  const waiters = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };

  const disabledCommands = [];
  if (!opts.starttls) disabledCommands.push('STARTTLS');
  if (!opts.auth) disabledCommands.push('AUTH');
  const a = opts.auth || {};
  const options = {
    logger: false,
    secure: !!opts.secure,
    authOptional: !opts.auth || !!a.optional,
    disabledCommands,
    allowInsecureAuth: true,
    authMethods: a.methods || ['PLAIN', 'LOGIN'],
    closeTimeout: 500,
    socketTimeout: 60 * 1000,
    banner: 'test smtp-server ready',
    ...(opts.tls || {}),
    onConnect(session, cb) {
      state.connections++;
      state.sessions.push(session);
      cb();
    },
    onSecure(socket, session, cb) {
      let peer = null;
      try {
        peer = socket.getPeerCertificate();
      } catch {
        peer = null;
      }
      state.tlsSessions.push({
        servername: socket.servername || session.servername || null,
        protocol: socket.getProtocol ? socket.getProtocol() : null,
        authorized: !!socket.authorized,
        peerSubject: peer && peer.subject ? peer.subject : null,
      });
      cb();
    },
    onAuth(auth, session, cb) {
      let ok = false;
      if (opts.auth && auth.username === a.username) {
        if (auth.method === 'XOAUTH2') ok = !!a.accessToken && auth.accessToken === a.accessToken;
        else if (auth.method === 'CRAM-MD5') ok = a.password !== undefined && auth.validatePassword(a.password);
        else ok = auth.password === a.password;
      }
      state.authAttempts.push({
        method: auth.method,
        username: auth.username,
        password: auth.password,
        accessToken: auth.accessToken,
        ok,
        secure: !!session.secure,
      });
      if (!ok) {
        if (auth.method === 'XOAUTH2' && a.xoauth2Error) return cb(null, { data: a.xoauth2Error });
        return cb(smtpError(535, 'Authentication credentials invalid'));
      }
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
          secure: !!session.secure,
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

  const listenHost = opts.listenHost || '127.0.0.1';
  const server = new SMTPServer(options);
  server.on('error', (e) => state.errors.push(e));
  await new Promise((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, listenHost, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const recordWire = !opts.secure && !opts.starttls;
  server.server.on('connection', (socket) => {
    state.tcpConnections++;
    if (recordWire) socket.on('data', (b) => state.wire.push(Buffer.from(b)));
  });

  let closing = null;
  const close = () => {
    untrack();
    if (!closing) closing = new Promise((resolve) => server.close(() => resolve()));
    return closing;
  };
  const untrack = track(close);

  return {
    host: listenHost,
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
    get tlsSessions() {
      return state.tlsSessions;
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
    get wire() {
      return Buffer.concat(state.wire).toString('latin1');
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
      state.tlsSessions.length = 0;
      state.mailFromAttempts.length = 0;
      state.rcptAttempts.length = 0;
      state.transactions.length = 0;
      state.wire.length = 0;
      state.errors.length = 0;
    },
    close,
  };
}

module.exports = { startSmtpServer };
