'use strict';
// Helpers for the sealed-secret and token tests: the sub-commands of the
// binary (keygen, seal, token, rekey) run against a data directory,
// tampering with a sealed box, reading back every file of a directory to
// search it for secrets, and a test CA with a server certificate.
//
//   const dir = makeDataDir();
//   const { key_id, public_key } = await keygen(dir);
//   const box = await seal(dir, 'the password');
//   const r = await runCli(['token', 'create', 'ci', '--scope', 'send'], { dataDir: dir });

const assert = require('node:assert/strict');
const { execFile, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { GATEWAY_BIN, buildEnv } = require('./gateway');

/*
 * Runs `smtp-gateway ...args` to completion with GATEWAY_DATA_DIR=dataDir
 * (when given), the environment `env` and `input` on its standard input.
 * Resolves to { code, stdout, stderr }.
 */
function runCli(args, { dataDir, env = {}, input = '', timeoutMs = 20000 } = {}) {
  const fullEnv = buildEnv(dataDir ? { GATEWAY_DATA_DIR: dataDir } : {}, env);
  return new Promise((resolve, reject) => {
    const proc = spawn(GATEWAY_BIN, args, { env: fullEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.stdout.on('data', (b) => out.push(b));
    proc.stderr.on('data', (b) => err.push(b));
    proc.once('error', reject);
    proc.once('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    proc.stdin.on('error', () => {});
    proc.stdin.end(input);
  });
}

/* Runs a sub-command that must succeed; returns its stdout. */
async function runOk(args, opts) {
  const r = await runCli(args, opts);
  assert.equal(r.code, 0, `smtp-gateway ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
  return r.stdout;
}

/* `smtp-gateway keygen` in `dataDir`: resolves to { key_id, public_key }. */
async function keygen(dataDir, args = []) {
  const out = await runOk(['keygen', ...args], { dataDir });
  return JSON.parse(out);
}

/* `smtp-gateway seal ...args <<< secret`: resolves to the box. */
async function seal(dataDir, secret, args = [], env = {}) {
  const out = await runOk(['seal', ...args], { dataDir, env, input: `${secret}\n` });
  const box = out.trim();
  assert.match(box, /^[A-Za-z0-9+/]+=*$/, `seal prints one base64 box, got ${JSON.stringify(out)}`);
  return box;
}

/* The box with one byte of its ciphertext changed: it must not open. */
function tamper(box) {
  const b = Buffer.from(box, 'base64');
  b[b.length - 3] ^= 0x01;
  return b.toString('base64');
}

/* Every file under `dir`, as { path: text }. */
function readTree(dir) {
  const files = {};
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files[p] = fs.readFileSync(p, 'latin1');
    }
  };
  walk(dir);
  return files;
}

/* Asserts that no file under `dir` holds any of `secrets`, whole or cut. */
function assertNoSecretsIn(dir, secrets) {
  for (const [file, text] of Object.entries(readTree(dir))) {
    for (const s of secrets) {
      assert.ok(!text.includes(s), `${file} holds a secret (${s.slice(0, 4)}...)`);
      assert.ok(!text.includes(s.slice(4, 20)), `${file} holds part of a secret (${s.slice(0, 4)}...)`);
    }
  }
}

/* The permission bits of a file. */
function modeOf(file) {
  return fs.statSync(file).mode & 0o777;
}

function openssl(args, cwd) {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: 30000 }, (e, stdout, stderr) => {
      if (e) reject(new Error(`openssl ${args.join(' ')}: ${e.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/*
 * A test CA and a server certificate it signed for 127.0.0.1 and
 * localhost, in a temporary directory: { dir, caFile, key, cert }.
 */
async function makeCerts() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-gateway-certs-'));
  await openssl(['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30',
    '-subj', '/CN=smtp-gateway secrets test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  await openssl(['req', '-new', ...EC, '-keyout', 'server.key', '-out', 'server.csr',
    '-subj', '/CN=localhost'], dir);
  fs.writeFileSync(path.join(dir, 'server.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n' +
    'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key',
    '-CAcreateserial', '-out', 'server.crt', '-days', '30', '-extfile', 'server.ext'], dir);
  return {
    dir,
    caFile: path.join(dir, 'ca.crt'),
    key: fs.readFileSync(path.join(dir, 'server.key')),
    cert: fs.readFileSync(path.join(dir, 'server.crt')),
  };
}

module.exports = {
  assertNoSecretsIn,
  keygen,
  makeCerts,
  modeOf,
  readTree,
  runCli,
  runOk,
  seal,
  tamper,
};
