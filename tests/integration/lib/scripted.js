'use strict';
// A hand-scripted SMTP server on 127.0.0.1 for what real servers will not
// do: stall, answer out of the ordinary, send overlong or malformed lines,
// drop the connection. Every byte each client sends is recorded.
//
//   const srv = await startScripted((conn) => [
//     send('220 ready\r\n'),
//     read(/^EHLO /, '250 hi\r\n'),
//     read('MAIL FROM:<a@example.com>', '250 ok\r\n'),
//     ...
//   ]);
//   srv.connections[0].received   // Buffer of everything the client sent
//
// A script is an array of steps, run in order for one connection:
//   { send: string|Buffer, chunked?: n }   write (in n-byte pieces, each
//                                          flushed separately, if chunked)
//   { read: true, expect?, reply? }        read one line (up to LF); reply is
//                                          a string, Buffer, or a function
//                                          (line, conn) => string|Promise
//   { readData: true, reply? }             read a DATA body up to the line
//                                          "." and reply
//   { delay: ms }                          wait
//   { wait: promise }                      wait for the test to release it
//   { stall: true }                        do nothing more (keep reading)
//   { tls: options }                       switch the connection to TLS as
//                                          its server (node tls options: key,
//                                          cert, ca, requestCert, ...); waits
//                                          for the handshake to end or fail.
//                                          First step: implicit TLS; after a
//                                          "220" to STARTTLS: STARTTLS
//   { close: true }                        end the connection
//   { destroy: true }                      reset the connection
// When the script runs out the server keeps reading until the client
// closes. A step with `expect` (string: the line without CRLF must equal
// it; RegExp: must match the line without CRLF) records a mismatch in
// conn.mismatches but carries on, so a test sees the whole transcript.
//
// Once a connection switched to TLS, `received`/`text`/`lines` go on with
// the decrypted bytes, and the connection also tells the two apart:
//   conn.clearText        every byte the client sent before the switch
//   conn.tlsText          every byte it sent inside TLS (decrypted)
//   conn.rawAfterUpgrade  Buffer: the bytes on the wire from the switch on
//                         (the TLS records, starting with the client's hello)
//   conn.leftover         Buffer: bytes already received but not read by the
//                         script when the switch happened
//   conn.secure, conn.tlsSocket, conn.tlsError, conn.peerCertificate
// and conn.wire logs ['recv', Buffer] / ['send', string] in the order
// they happened (what arrived before which reply went out).

const net = require('node:net');
const { Duplex } = require('node:stream');
const tls = require('node:tls');
const { track } = require('./cleanup');
const { assertCleanRun, startGateway } = require('./gateway');

function send(data, opts = {}) {
  return { send: data, ...opts };
}
function read(expect, reply) {
  return { read: true, expect, reply };
}
function readData(reply) {
  return { readData: true, reply };
}

class Conn {
  constructor(index, socket) {
    this.index = index;
    this.socket = socket;
    this.chunks = [];
    this.pending = Buffer.alloc(0);
    this.lines = []; // every line read by the script, with its line end
    this.mismatches = [];
    this.events = []; // ['recv', line] / ['send', text] in order
    this.closed = false;
    this.lineWaiters = [];
    this.out = socket; // where writes go: the socket, or the TLS socket
    this.wire = []; // ['recv', Buffer] / ['send', string] as they happened
    this.clearChunks = [];
    this.tlsChunks = [];
    this.rawTlsChunks = [];
    this.leftover = Buffer.alloc(0);
    this.upgraded = false;
    this.secure = false;
    this.tlsSocket = null;
    this.tlsError = null;
    this.peerCertificate = null;
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }
  /* Everything the client sent on this connection. */
  get received() {
    return Buffer.concat(this.chunks);
  }
  get text() {
    return this.received.toString('latin1');
  }
  get clearText() {
    return Buffer.concat(this.clearChunks).toString('latin1');
  }
  get tlsText() {
    return Buffer.concat(this.tlsChunks).toString('latin1');
  }
  get rawAfterUpgrade() {
    return Buffer.concat(this.rawTlsChunks);
  }
  /* Bytes arrived from the client (plain, or decrypted inside TLS). */
  _received(c) {
    this.chunks.push(c);
    (this.upgraded ? this.tlsChunks : this.clearChunks).push(c);
    this.wire.push(['recv', c]);
    this.pending = Buffer.concat([this.pending, c]);
    this._wake();
  }
  /* Raw bytes off the socket. */
  _raw(c) {
    if (this.upgraded) {
      this.rawTlsChunks.push(c);
      if (this._feedTls) this._feedTls(c);
    } else {
      this._received(c);
    }
  }
  /*
   * Puts a TLS server on the connection: the raw socket feeds a stream
   * the TLS socket reads (so the raw bytes can be recorded), and the
   * script reads and writes plaintext from then on. Resolves once the
   * handshake has finished (conn.secure) or failed (conn.tlsError).
   */
  upgrade(options) {
    const raw = this.socket;
    this.upgraded = true;
    this.leftover = this.pending;
    this.pending = Buffer.alloc(0);
    const duplex = new Duplex({
      read() {},
      write(chunk, enc, cb) {
        if (raw.destroyed) return cb();
        raw.write(chunk, () => cb());
      },
      final(cb) {
        if (!raw.destroyed) raw.end();
        cb();
      },
      destroy(err, cb) {
        raw.destroy();
        cb(err);
      },
    });
    this._feedTls = (c) => duplex.push(c);
    raw.once('end', () => duplex.push(null));
    if (this.leftover.length) {
      this.rawTlsChunks.push(this.leftover);
      duplex.push(this.leftover);
    }
    const t = new tls.TLSSocket(duplex, { isServer: true, ...options });
    this.tlsSocket = t;
    this.out = t;
    t.on('data', (c) => this._received(c));
    return new Promise((resolve) => {
      t.once('secure', () => {
        this.secure = true;
        try {
          this.peerCertificate = t.getPeerCertificate();
        } catch {
          this.peerCertificate = null;
        }
        resolve();
      });
      const fail = (e) => {
        if (!this.tlsError) this.tlsError = e || new Error('TLS connection closed during the handshake');
        if (!raw.destroyed) raw.destroy();
        resolve();
      };
      t.on('error', fail);
      t.once('close', () => {
        if (!this.secure) fail();
      });
    });
  }
  _wake() {
    for (const w of this.lineWaiters.splice(0)) w();
  }
  /* Resolves with the next line (up to and including LF), or null when
   * the connection closes first. */
  async readLine() {
    for (;;) {
      const i = this.pending.indexOf(0x0a);
      if (i >= 0) {
        const line = this.pending.subarray(0, i + 1);
        this.pending = this.pending.subarray(i + 1);
        const s = line.toString('latin1');
        this.lines.push(s);
        this.events.push(['recv', s]);
        return s;
      }
      if (this.closed) return null;
      await new Promise((resolve) => this.lineWaiters.push(resolve));
    }
  }
  write(data) {
    if (this.closed || this.socket.destroyed || this.out.destroyed) return;
    const text = Buffer.isBuffer(data) ? data.toString('latin1') : data;
    this.events.push(['send', text]);
    this.wire.push(['send', text]);
    this.out.write(data);
  }
}

function checkExpect(conn, step, line) {
  if (step.expect === undefined) return;
  const bare = line === null ? null : line.replace(/\r?\n$/, '');
  const ok =
    bare !== null &&
    (step.expect instanceof RegExp ? step.expect.test(bare) : bare === step.expect);
  if (!ok) conn.mismatches.push({ expected: String(step.expect), got: line });
}

async function runScript(conn, script, server) {
  for (const step of script) {
    if (conn.closed) return;
    if (step.send !== undefined) {
      const data = Buffer.isBuffer(step.send) ? step.send : Buffer.from(step.send, 'latin1');
      if (step.chunked) {
        conn.socket.setNoDelay(true);
        for (let i = 0; i < data.length; i += step.chunked) {
          conn.write(data.subarray(i, i + step.chunked));
          await new Promise((r) => setTimeout(r, 5));
        }
      } else {
        conn.write(data);
      }
    } else if (step.read) {
      const line = await conn.readLine();
      checkExpect(conn, step, line);
      if (line === null) return;
      server._emitLine(conn, line);
      let reply = step.reply;
      if (typeof reply === 'function') reply = await reply(line, conn);
      if (reply !== undefined && reply !== null) conn.write(reply);
    } else if (step.readData) {
      const body = [];
      for (;;) {
        const line = await conn.readLine();
        if (line === null) return;
        server._emitLine(conn, line);
        if (line === '.\r\n' || line === '.\n') break;
        body.push(line);
      }
      conn.data = body.join('');
      server._emitLine(conn, '\u0000end-of-data');
      let reply = step.reply;
      if (typeof reply === 'function') reply = await reply(conn.data, conn);
      if (reply !== undefined && reply !== null) conn.write(reply);
    } else if (step.delay !== undefined) {
      await new Promise((r) => setTimeout(r, step.delay));
    } else if (step.wait !== undefined) {
      await step.wait;
    } else if (step.stall) {
      await conn.closedPromise;
      return;
    } else if (step.tls) {
      await conn.upgrade(step.tls);
      if (!conn.secure) return;
    } else if (step.close) {
      conn.out.end();
      return;
    } else if (step.destroy) {
      conn.socket.resetAndDestroy ? conn.socket.resetAndDestroy() : conn.socket.destroy();
      return;
    } else {
      throw new Error(`unknown script step ${JSON.stringify(step)}`);
    }
  }
}

/*
 * scripts: a function (conn) => steps, or an array of step arrays (the
 * n-th connection runs scripts[n], later ones the last).
 * opts.host: the address to listen on (default 127.0.0.1; '::1' for IPv6).
 */
async function startScripted(scripts, opts = {}) {
  const host = opts.host || '127.0.0.1';
  const connections = [];
  const connWaiters = [];
  const lineWatchers = [];
  const sockets = new Set();
  const srv = net.createServer((socket) => {
    sockets.add(socket);
    const conn = new Conn(connections.length, socket);
    connections.push(conn);
    for (const w of connWaiters.splice(0)) w();
    socket.on('data', (c) => conn._raw(c));
    const onGone = () => {
      if (conn.closed) return;
      conn.closed = true;
      sockets.delete(socket);
      conn._wake();
      conn.resolveClosed();
    };
    socket.on('end', () => {
      // The client half-closed; it will send nothing more.
      onGone();
      if (!socket.destroyed) socket.end();
    });
    socket.on('close', onGone);
    socket.on('error', () => {});
    const script =
      typeof scripts === 'function'
        ? scripts(conn)
        : scripts[Math.min(conn.index, scripts.length - 1)];
    runScript(conn, script, api).catch((e) => {
      conn.mismatches.push({ expected: 'no script error', got: String(e && e.stack) });
    });
  });
  const api = {
    host,
    port: 0,
    connections,
    server: srv,
    _emitLine(conn, line) {
      for (const w of lineWatchers.slice()) w(conn, line);
    },
    /* Resolves with connection n once it exists. */
    async waitForConnection(n = 0, timeoutMs = 15000) {
      const deadline = Date.now() + timeoutMs;
      while (connections.length <= n) {
        if (Date.now() > deadline) throw new Error(`no connection #${n} in ${timeoutMs} ms`);
        await new Promise((resolve) => {
          const t = setTimeout(resolve, 200);
          connWaiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      return connections[n];
    },
    /* Resolves with { conn, line } for the first line (seen from now on,
     * or already read) that matches `re`. "\0end-of-data" marks the end
     * of a DATA body. */
    waitForLine(re, timeoutMs = 15000) {
      for (const conn of connections) {
        for (const line of conn.lines) if (re.test(line)) return Promise.resolve({ conn, line });
      }
      return new Promise((resolve, reject) => {
        const watcher = (conn, line) => {
          if (!re.test(line)) return;
          clearTimeout(t);
          lineWatchers.splice(lineWatchers.indexOf(watcher), 1);
          resolve({ conn, line });
        };
        const t = setTimeout(() => {
          lineWatchers.splice(lineWatchers.indexOf(watcher), 1);
          reject(new Error(`no line matching ${re} in ${timeoutMs} ms`));
        }, timeoutMs);
        lineWatchers.push(watcher);
      });
    },
    /* Resolves once connection n has closed. */
    async waitForClose(n = 0, timeoutMs = 15000) {
      const conn = await api.waitForConnection(n, timeoutMs);
      let t;
      await Promise.race([
        conn.closedPromise,
        new Promise((_, reject) => {
          t = setTimeout(() => reject(new Error(`connection #${n} still open after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      clearTimeout(t);
      return conn;
    },
    close() {
      untrack();
      for (const s of sockets) s.destroy();
      if (!api._closing) api._closing = new Promise((resolve) => srv.close(() => resolve()));
      return api._closing;
    },
  };
  const untrack = track(() => api.close());
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, resolve);
  });
  api.port = srv.address().port;
  return api;
}

/* A promise with its resolve function, for { wait } steps. */
function gate() {
  let open;
  const p = new Promise((resolve) => {
    open = resolve;
  });
  return { promise: p, open };
}

/*
 * The usual conversation for one message to `rcpts`, answered at once:
 * greeting, EHLO, MAIL, RCPT..., DATA, the body, QUIT. Pieces can be
 * replaced through `o`.
 */
/*
 * A whole session that holds its answer to a MAIL FROM whose line holds
 * `marker` until `held` (a promise) settles, and answers everything else
 * at once: for tests of a send that is still running.
 */
function holdingScript(marker, held) {
  return [
    send('220 hold.test ESMTP\r\n'),
    read(/^EHLO \S+$/, '250 hold.test\r\n'),
    read(/^MAIL FROM:/, async (line) => {
      if (line.includes(marker)) await held;
      return '250 ok\r\n';
    }),
    read(/^RCPT TO:/, '250 ok\r\n'),
    read('DATA', '354 go\r\n'),
    readData('250 queued\r\n'),
    read('QUIT', '221 bye\r\n'),
    { close: true },
  ];
}

function happyScript(o = {}) {
  const rcpts = o.rcpts || ['b@example.com'];
  return [
    send(o.greeting || '220 scripted.test ESMTP ready\r\n'),
    read(/^EHLO \S+$/, o.ehloReply || '250-scripted.test greets you\r\n250 HELP\r\n'),
    read(o.from === undefined ? undefined : `MAIL FROM:<${o.from}>`, o.mailReply || '250 2.1.0 sender ok\r\n'),
    ...rcpts.map((r) => read(`RCPT TO:<${r}>`, o.rcptReply || '250 2.1.5 recipient ok\r\n')),
    read('DATA', '354 end data with <CR><LF>.<CR><LF>\r\n'),
    readData(o.dataReply || '250 2.0.0 queued as SCRIPTED1\r\n'),
    read('QUIT', '221 2.0.0 bye\r\n'),
    { close: true },
  ];
}

/* Undoes dot-stuffing of a DATA body as read by { readData }. */
function unstuff(data) {
  return data.replace(/(^|\r\n)\.\./g, '$1.');
}

/*
 * Runs fn(gw, srv) with a scripted server (startScripted(scripts, listen))
 * and a gateway pointed at it (startGateway with `gwOpts`), stops both,
 * then checks the gateway's run with assertCleanRun. Each send has a
 * connection of its own (GATEWAY_SMTP_IDLE_TIMEOUT=0 unless gwOpts.env
 * says otherwise), so each script is one whole session, greeting to QUIT.
 * Resolves to the gateway, for what its logs say.
 */
async function withScripted(scripts, fn, gwOpts = {}, listen = {}) {
  const srv = await startScripted(scripts, listen);
  let gw;
  try {
    gw = await startGateway({
      smtpPort: srv.port,
      ...gwOpts,
      env: { GATEWAY_SMTP_IDLE_TIMEOUT: 0, ...(gwOpts.env || {}) },
    });
    await fn(gw, srv);
  } finally {
    if (gw) await gw.stop();
    await srv.close();
  }
  assertCleanRun(gw);
  return gw;
}

module.exports = { startScripted, withScripted, send, read, readData, gate, happyScript, holdingScript, unstuff };
