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
//   { close: true }                        end the connection
//   { destroy: true }                      reset the connection
// When the script runs out the server keeps reading until the client
// closes. A step with `expect` (string: the line without CRLF must equal
// it; RegExp: must match the line without CRLF) records a mismatch in
// conn.mismatches but carries on, so a test sees the whole transcript.

const net = require('node:net');
const { track } = require('./cleanup');

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
    if (this.closed || this.socket.destroyed) return;
    this.events.push(['send', Buffer.isBuffer(data) ? data.toString('latin1') : data]);
    this.socket.write(data);
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
    } else if (step.close) {
      conn.socket.end();
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
 */
async function startScripted(scripts) {
  const connections = [];
  const connWaiters = [];
  const lineWatchers = [];
  const sockets = new Set();
  const srv = net.createServer((socket) => {
    sockets.add(socket);
    const conn = new Conn(connections.length, socket);
    connections.push(conn);
    for (const w of connWaiters.splice(0)) w();
    socket.on('data', (c) => {
      conn.chunks.push(c);
      conn.pending = Buffer.concat([conn.pending, c]);
      conn._wake();
    });
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
    host: '127.0.0.1',
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
    srv.listen(0, '127.0.0.1', resolve);
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

module.exports = { startScripted, send, read, readData, gate, happyScript, unstuff };
