'use strict';
// Starting, stopping and talking to the smtp-gateway binary under test.
//
//   const gw = await startGateway({ env: { GATEWAY_SMTP_PORT: '2525' } });
//   const r = await request(gw, 'POST', '/v1/messages', { body: {...} });
//   await gw.stop();                 // SIGTERM, wait, SIGKILL if it hangs
//   assertNoSecrets(gw);             // token / password never logged
//
// Every process started here is killed when the test process exits, so a
// failing or crashing test never leaves a gateway behind.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const { track, cleanupAll } = require('./cleanup');
const { checkResponse } = require('./contract');

const REPO = path.resolve(__dirname, '..', '..', '..');
const GATEWAY_BIN =
  process.env.GATEWAY_BIN || path.join(REPO, 'build', 'smtp-gateway');

const live = new Set(); // child processes still running
process.on('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

const DATA_DIR = '\u0000data-dir'; // placeholder replaced by runGateway
const LISTEN_RE = /event=listening\b.*?\baddress=("?)(127\.0\.0\.1|\[?::1\]?|[\w.-]+):(\d+)\1/;

function randomSecret(prefix) {
  return prefix + crypto.randomBytes(18).toString('hex');
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function checkBinary() {
  if (!fs.existsSync(GATEWAY_BIN)) {
    throw new Error(
      `gateway binary not found at ${GATEWAY_BIN}; build it (make) or set GATEWAY_BIN`,
    );
  }
}

/* A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/*
 * The environment the gateway sees: PATH and the GATEWAY_* settings given,
 * nothing inherited from the developer's shell (no stray GATEWAY_* value
 * may change a test). A value of undefined removes a setting.
 */
function buildEnv(base, extra) {
  const env = { PATH: process.env.PATH || '/usr/bin:/bin' };
  for (const src of [base, extra]) {
    for (const [k, v] of Object.entries(src || {})) {
      if (v === undefined || v === null) delete env[k];
      else env[k] = String(v);
    }
  }
  return env;
}

function makeDataDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-gateway-it-'));
}

function removeDir(dir) {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
}

/*
 * Starts `smtp-gateway serve` (args default to ['serve']) with a fresh data
 * directory, a random API token, GATEWAY_LISTEN=127.0.0.1:0 and log level
 * debug (the most output to search for leaked secrets). opts:
 *   env        extra / overriding environment (undefined removes a value)
 *   args       command-line arguments (default ['serve'])
 *   smtpPort   GATEWAY_SMTP_PORT (default: a closed port)
 *   password   GATEWAY_SMTP_PASSWORD (recorded as a secret when given)
 *   dataDir    an existing data directory to use (and keep) instead of a
 *              fresh one
 *   secrets    more strings that must never appear in the output
 *   waitPort   a port known in advance: also consider the gateway up when
 *              a TCP connection to it succeeds (for log levels that hide
 *              the listening line)
 * Resolves to { url, port, token, password, dataDir, proc, stdout(),
 * stderr(), exited, stop(), kill(sig) }.
 */
async function startGateway(opts = {}) {
  checkBinary();
  const token = opts.token || randomSecret('tok_');
  // A password is always set (AUTH is only attempted with a user name),
  // so that every test checks it never shows up in the logs.
  const password = opts.password === undefined ? randomSecret('pw_') : opts.password;
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir || makeDataDir();
  const smtpPort = opts.smtpPort || (await closedPort());
  const env = buildEnv(
    {
      GATEWAY_LISTEN: '127.0.0.1:0',
      GATEWAY_DATA_DIR: dataDir,
      GATEWAY_LOG_LEVEL: 'debug',
      GATEWAY_API_TOKEN: token,
      GATEWAY_SMTP_HOST: '127.0.0.1',
      GATEWAY_SMTP_PORT: smtpPort,
      GATEWAY_SMTP_TLS: 'none',
      GATEWAY_SMTP_TIMEOUT: 10,
      GATEWAY_SMTP_POOL: 4,
      ...(password ? { GATEWAY_SMTP_PASSWORD: password } : {}),
    },
    opts.env,
  );
  const args = opts.args || ['serve'];
  const proc = spawn(GATEWAY_BIN, args, {
    env,
    cwd: dataDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  const out = [];
  const err = [];
  proc.stdout.on('data', (b) => out.push(b));
  proc.stderr.on('data', (b) => err.push(b));
  const stdout = () => Buffer.concat(out).toString('utf8');
  const stderr = () => Buffer.concat(err).toString('utf8');

  let exitInfo = null;
  // 'close', not 'exit': it comes once stdout and stderr have been read
  // to their end, so what the gateway logged last is in stderr().
  const exited = new Promise((resolve) => {
    proc.once('close', (code, signal) => {
      exitInfo = { code, signal };
      live.delete(proc);
      resolve(exitInfo);
    });
    proc.once('error', (e) => {
      exitInfo = { code: null, signal: null, error: e };
      live.delete(proc);
      resolve(exitInfo);
    });
  });

  const gw = {
    token,
    password,
    dataDir,
    env,
    args,
    proc,
    pid: proc.pid,
    stdout,
    stderr,
    exited,
    secrets: [token, ...(password ? [password] : []), ...(opts.secrets || [])],
    get exitInfo() {
      return exitInfo;
    },
    kill(sig) {
      if (!exitInfo) proc.kill(sig);
    },
    /* SIGTERM, wait up to `graceMs`, then SIGKILL. Idempotent. */
    async stop(graceMs = 10000) {
      untrack();
      if (!exitInfo) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => {
          if (!exitInfo) proc.kill('SIGKILL');
        }, graceMs);
        await exited;
        clearTimeout(t);
      }
      if (ownDir) removeDir(dataDir);
      return exitInfo;
    },
  };

  const untrack = track(() => gw.stop(2000));

  // Wait for the listening line (or a successful connect to waitPort),
  // failing with what the gateway said when it exits or 10 s pass.
  const port = await new Promise((resolve, reject) => {
    let done = false;
    const finish = (fn, v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(poller);
      proc.stderr.off('data', onData);
      fn(v);
    };
    const onData = () => {
      const m = LISTEN_RE.exec(stderr());
      if (m) finish(resolve, Number(m[3]));
    };
    proc.stderr.on('data', onData);
    exited.then((info) =>
      finish(
        reject,
        new Error(
          `gateway exited before listening (${JSON.stringify(info)}); ` +
            `stderr:\n${stderr()}\nstdout:\n${stdout()}`,
        ),
      ),
    );
    const timer = setTimeout(
      () =>
        finish(
          reject,
          new Error(`gateway did not report event=listening in 10 s; stderr:\n${stderr()}`),
        ),
      10000,
    );
    let poller = null;
    if (opts.waitPort) {
      poller = setInterval(() => {
        const s = net.connect(opts.waitPort, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          finish(resolve, opts.waitPort);
        });
        s.once('error', () => s.destroy());
      }, 100);
    }
    onData();
  }).catch(async (e) => {
    await gw.stop(2000);
    throw e;
  });

  gw.port = port;
  gw.url = `http://127.0.0.1:${port}`;
  return gw;
}

/*
 * Runs the binary to completion (for --help, --version and configuration
 * errors). Kills it after `timeoutMs` (then timedOut is true: it did not
 * exit by itself, e.g. because it started serving). The environment is
 * exactly `env` plus PATH; pass a complete configuration.
 */
async function runGateway(args = [], env = {}, { timeoutMs = 10000 } = {}) {
  checkBinary();
  const dataDir = makeDataDir();
  const sub = (v) => (v === DATA_DIR ? dataDir : v);
  const fullEnv = buildEnv({}, env);
  for (const k of Object.keys(fullEnv)) fullEnv[k] = sub(fullEnv[k]);
  const proc = spawn(GATEWAY_BIN, args.map(sub), {
    env: fullEnv,
    cwd: dataDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  const out = [];
  const err = [];
  proc.stdout.on('data', (b) => out.push(b));
  proc.stderr.on('data', (b) => err.push(b));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill('SIGKILL');
  }, timeoutMs);
  const { code, signal } = await new Promise((resolve) => {
    proc.once('error', (e) => resolve({ code: null, signal: null, error: e }));
    proc.once('close', (c, s) => resolve({ code: c, signal: s }));
  });
  clearTimeout(timer);
  live.delete(proc);
  removeDir(dataDir);
  return {
    code,
    signal,
    timedOut,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
}

/* A complete valid configuration for runGateway, to break one value of.
 * DATA_DIR stands for the fresh directory runGateway makes. */
async function validEnv(extra = {}) {
  return buildEnv(
    {
      GATEWAY_LISTEN: '127.0.0.1:0',
      GATEWAY_DATA_DIR: DATA_DIR,
      GATEWAY_LOG_LEVEL: 'info',
      GATEWAY_API_TOKEN: randomSecret('tok_'),
      GATEWAY_SMTP_HOST: '127.0.0.1',
      GATEWAY_SMTP_PORT: await closedPort(),
      GATEWAY_SMTP_TLS: 'none',
      GATEWAY_SMTP_TIMEOUT: 5,
      GATEWAY_SMTP_POOL: 2,
    },
    extra,
  );
}

/* Asserts that neither the token nor the SMTP password (nor any other
 * recorded secret) appears in what the gateway wrote. */
function assertNoSecrets(gw, extraText = '') {
  const text = gw.stderr() + '\n' + gw.stdout() + '\n' + extraText;
  for (const s of gw.secrets) {
    if (!s) continue;
    assert.ok(!text.includes(s), `a secret (${s.slice(0, 4)}...) appears in the gateway's output`);
    // A cut or partly quoted secret is as bad: look for its middle too.
    const mid = s.slice(4, 4 + 16);
    if (mid.length >= 12) {
      assert.ok(!text.includes(mid), `part of a secret (${s.slice(0, 4)}...) appears in the gateway's output`);
    }
  }
}

/*
 * What every test checks once its gateway has stopped: no secret in the
 * output, no sanitizer report (for `make SANITIZE=1 test`), and a clean
 * exit 0 on SIGTERM (not killed, not crashed).
 */
function assertCleanRun(gw) {
  assertNoSecrets(gw);
  const err = gw.stderr();
  assert.ok(
    !/ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer/.test(err),
    `a sanitizer report in the gateway's stderr:\n${err.slice(-4000)}`,
  );
  // Every line is "<UTC time> level=<level> key=value ..." with values
  // bare or double-quoted, so that nothing from outside can add a line.
  const lineRe =
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z level=(debug|info|warn|error)(?: [A-Za-z0-9_.-]+=(?:"(?:[^"\\]|\\.)*"|[^\s"]*))+$/;
  for (const line of err.split('\n')) {
    if (line === '') continue;
    assert.match(line, lineRe, `a log line that is not key=value: ${JSON.stringify(line)}`);
    assert.ok(!line.startsWith('1999-'), `a forged log line: ${JSON.stringify(line)}`);
  }
  const exit = gw.exitInfo;
  if (exit) {
    assert.deepEqual(
      { code: exit.code, signal: exit.signal },
      { code: 0, signal: null },
      `the gateway should exit 0 on SIGTERM; stderr:\n${err.slice(-4000)}`,
    );
  }
}

/*
 * An HTTP request with node's http module.
 *   body     object (sent as JSON), string or Buffer (sent as is), or undefined
 *   headers  extra headers (override the defaults)
 *   token    the bearer token; defaults to gw.token; null for none
 *   contentType  default 'application/json' when there is a body
 *   contract false: do not check the response against openapi.yaml (for
 *            requests the document cannot describe: unknown paths)
 * Resolves to { status, headers, text, json } (json undefined when the
 * body does not parse). Every response is checked against openapi.yaml
 * (lib/contract.js): one the document does not define rejects.
 */
function request(gw, method, urlPath, opts = {}) {
  const { body, timeoutMs = 30000 } = opts;
  const headers = {};
  const token = opts.token === undefined ? gw.token : opts.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  let payload = null;
  if (body !== undefined) {
    payload =
      Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
    if (opts.contentType !== null) headers['Content-Type'] = opts.contentType || 'application/json';
    headers['Content-Length'] = String(payload.length);
  }
  for (const [k, v] of Object.entries(opts.headers || {})) {
    for (const h of Object.keys(headers)) if (h.toLowerCase() === k.toLowerCase()) delete headers[h];
    if (v !== undefined && v !== null) headers[k] = v;
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: gw.port,
        method,
        path: urlPath,
        headers,
        agent: false,
      },
      (res) =>
        readReply(res)
          .then((out) => {
            if (opts.contract !== false) checkResponse(method, urlPath, out);
            return out;
          })
          .then(resolve, reject),
    );
    req.setTimeout(timeoutMs, () => {
      req.destroy(new Error(`${method} ${urlPath}: no answer in ${timeoutMs} ms`));
    });
    req.on('error', reject);
    if (payload) req.end(payload);
    else req.end();
  });
}

/*
 * Resolves to { status, headers, text, json } once the response `res` has
 * ended (json undefined when the body does not parse).
 */
function readReply(res) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      resolve({ status: res.statusCode, headers: res.headers, text, json });
    });
  });
}

/*
 * Resolves once cond() is true, checking every 50 ms; fails naming `what`
 * after `ms`. For what a test sees only after a while: a connection the
 * gateway closes, a line its log gets (the log arrives through a pipe,
 * apart from the HTTP reply, so it may come after it).
 */
async function until(cond, what, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

/* Resolves once the gateway's log has a line matching `re`. */
function logged(gw, re, ms = 10000) {
  return until(() => re.test(gw.stderr()), `a log line matching ${re}; stderr:\n${gw.stderr().slice(-3000)}`, ms);
}

/* POST /v1/messages with a JSON body. */
function send(gw, body, opts = {}) {
  return request(gw, 'POST', '/v1/messages', { ...opts, body });
}

/*
 * Writes `head` (a string or Buffer: request line and headers, and any
 * body bytes) to a raw TCP connection and reads one HTTP response, without
 * sending anything more. For requests the http module will not make: a
 * Content-Length far larger than what is sent, a chunked body by hand.
 * Resolves to { status, headers (lower-case names), text, json }. The
 * response is checked against openapi.yaml for the method and path of the
 * request line, unless `contract` is false (malformed requests).
 */
function rawRequest(gw, bytes, { timeoutMs = 15000, contract = true } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(gw.port, '127.0.0.1');
    const chunks = [];
    let settled = false;
    const done = (fn, v) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      fn(v);
    };
    const timer = setTimeout(
      () => done(reject, new Error(`raw request: no complete answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const tryParse = (final) => {
      const buf = Buffer.concat(chunks);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (final) done(reject, new Error(`raw request: connection closed mid-header: ${JSON.stringify(buf.toString('latin1'))}`));
        return;
      }
      const headText = buf.subarray(0, end).toString('latin1');
      const lines = headText.split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
      if (!m) return done(reject, new Error(`raw request: bad status line ${JSON.stringify(lines[0])}`));
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      let body = buf.subarray(end + 4);
      if (headers['content-length'] !== undefined) {
        const n = Number(headers['content-length']);
        if (body.length < n) {
          if (final) done(reject, new Error('raw request: connection closed mid-body'));
          return;
        }
        body = body.subarray(0, n);
      } else if (/chunked/i.test(headers['transfer-encoding'] || '')) {
        const out = [];
        let rest = body;
        for (;;) {
          const le = rest.indexOf('\r\n');
          if (le < 0) {
            if (final) return done(reject, new Error('raw request: truncated chunked body'));
            return;
          }
          const size = parseInt(rest.subarray(0, le).toString('latin1'), 16);
          if (size === 0) break;
          if (rest.length < le + 2 + size + 2) {
            if (final) return done(reject, new Error('raw request: truncated chunked body'));
            return;
          }
          out.push(rest.subarray(le + 2, le + 2 + size));
          rest = rest.subarray(le + 2 + size + 2);
        }
        body = Buffer.concat(out);
      } else if (!final) {
        return; // body runs to the end of the connection
      }
      const text = body.toString('utf8');
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const out = { status: Number(m[1]), headers, text, json };
      if (contract) {
        const line = /^(\S+) (\S+) HTTP\//.exec(Buffer.from(bytes).toString('latin1'));
        try {
          if (!line) throw new Error('contract: no request line to check against; pass contract: false');
          checkResponse(line[1], line[2], out);
        } catch (e) {
          return done(reject, e);
        }
      }
      done(resolve, out);
    };
    sock.on('data', (c) => {
      chunks.push(c);
      tryParse(false);
    });
    sock.on('end', () => tryParse(true));
    sock.on('close', () => tryParse(true));
    sock.on('error', (e) => {
      // The server may reset the connection after answering; keep what
      // arrived if it is a whole response.
      if (chunks.length) tryParse(true);
      else done(reject, e);
    });
    sock.write(bytes);
  });
}

/* True when a TCP connection to 127.0.0.1:port is refused. */
function connectRefused(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e) => {
      s.destroy();
      resolve(e.code === 'ECONNREFUSED');
    });
  });
}

/*
 * Asserts the shape of an error reply: {"status":"failed","error":"..."}
 * with `field` when given (and error starting with "<field>: "), or with
 * no field at all when field is null; undefined skips the field check.
 */
function assertErrorReply(res, status, field) {
  assert.equal(res.status, status, `HTTP status (body: ${res.text})`);
  assert.ok(res.json && typeof res.json === 'object', `a JSON body, got ${JSON.stringify(res.text)}`);
  assert.equal(res.json.status, 'failed', `"status" in ${res.text}`);
  assert.equal(typeof res.json.error, 'string', `"error" in ${res.text}`);
  assert.ok(res.json.error.length > 0, 'a non-empty error');
  if (field === null) {
    assert.equal(res.json.field, undefined, `no "field" expected in ${res.text}`);
  } else if (field !== undefined) {
    assert.equal(res.json.field, field, `"field" in ${res.text}`);
    assert.ok(
      res.json.error.startsWith(`${field}: `) && res.json.error.length > field.length + 2,
      `error should start with "${field}: " and say more, got ${JSON.stringify(res.json.error)}`,
    );
  }
  const ct = res.headers['content-type'] || '';
  assert.match(ct, /^application\/json\b/i, 'error replies are JSON');
}

module.exports = {
  DATA_DIR,
  assertCleanRun,
  GATEWAY_BIN,
  REPO,
  assertErrorReply,
  assertNoSecrets,
  buildEnv,
  cleanupAll,
  closedPort,
  connectRefused,
  logged,
  makeDataDir,
  randomSecret,
  rawRequest,
  readReply,
  removeDir,
  request,
  runGateway,
  send,
  sleep,
  startGateway,
  until,
  validEnv,
};
