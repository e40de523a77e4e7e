'use strict';
// Test certificates, made once per test process with the openssl CLI into
// a temporary directory (removed when the process exits).
//
//   const c = await getCerts();
//   c.caFile                         PEM of the test CA (GATEWAY_SMTP_CA_FILE)
//   c.server   { key, cert, keyFile, certFile }  CN/SAN localhost + IP 127.0.0.1,
//                                    signed by the CA
//   c.wrongName                      signed by the CA for wrong.example only
//                                    (a DNS-only certificate)
//   c.ipOnly                         SAN IP:127.0.0.1, IP:::1 and nothing else
//                                    (CN "smtp-gateway test server")
//   c.wrongIp                        SAN IP:127.0.0.2, IP:::2 (CN the same)
//   c.ipAsDns                        SAN DNS:127.0.0.1, DNS:::1: the addresses
//                                    written as DNS names, which never count
//   c.cnOnly4 / c.cnOnly6            no subjectAltName, CN 127.0.0.1 / ::1
//   c.expired                        localhost + 127.0.0.1, signed by the CA,
//                                    valid 2020-01-01 .. 2020-01-02 only
//   c.selfSigned                     localhost + 127.0.0.1, self-signed (no CA
//                                    anywhere trusts it)
//   c.client                         a client certificate (clientAuth) signed by
//                                    the CA, CN "smtp-gateway test client"
//   c.otherClient                    a client certificate from another CA
// key / cert are the PEM texts (for node's tls), keyFile / certFile their
// paths (for the gateway). EC P-256 keys: quick to make, and every TLS
// library takes them.

const { execFile } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CLIENT_CN = 'smtp-gateway test client';

function openssl(args, cwd) {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: 30000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`openssl ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        return;
      }
      resolve(stdout);
    });
  });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

const SERVER_EXT = [
  'basicConstraints = critical, CA:FALSE',
  'keyUsage = critical, digitalSignature, keyEncipherment',
  'extendedKeyUsage = serverAuth',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid',
];

async function makeCa(dir, name, cn) {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  await openssl([
    'req', '-x509', ...EC,
    '-keyout', key, '-out', cert,
    '-days', '3650',
    '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints = critical, CA:TRUE',
    '-addext', 'keyUsage = critical, keyCertSign, cRLSign',
    '-addext', 'subjectKeyIdentifier = hash',
  ], dir);
  return { keyFile: key, certFile: cert };
}

/* A key and a CSR for `cn`. */
async function makeCsr(dir, name, cn) {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  await openssl(['req', '-new', ...EC, '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`], dir);
  return { key, csr };
}

/* A leaf signed by `ca`, valid for a year from now, with `ext` lines. */
async function signLeaf(dir, ca, name, cn, ext) {
  const { key, csr } = await makeCsr(dir, name, cn);
  const extFile = path.join(dir, `${name}.ext`);
  fs.writeFileSync(extFile, `[v3]\n${ext.join('\n')}\n`);
  const cert = path.join(dir, `${name}.crt`);
  await openssl([
    'x509', '-req', '-in', csr,
    // A random serial per leaf (several are signed at once; -CAcreateserial
    // would share one serial file between them).
    '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', '0x' + crypto.randomBytes(8).toString('hex'),
    '-days', '365', '-sha256',
    '-extfile', extFile, '-extensions', 'v3',
    '-out', cert,
  ], dir);
  return { keyFile: key, certFile: cert };
}

/* A leaf signed by `ca` and valid only 2020-01-01 .. 2020-01-02
 * (OpenSSL 3.0's x509 cannot set dates; `openssl ca` can). */
async function signExpired(dir, ca, name, cn, ext) {
  const { key, csr } = await makeCsr(dir, name, cn);
  const caDir = path.join(dir, 'ca-db');
  fs.mkdirSync(path.join(caDir, 'new'), { recursive: true });
  fs.writeFileSync(path.join(caDir, 'index.txt'), '');
  fs.writeFileSync(path.join(caDir, 'serial'), '1000\n');
  const conf = path.join(dir, 'ca.cnf');
  fs.writeFileSync(
    conf,
    [
      '[ca]',
      'default_ca = testca',
      '[testca]',
      `database = ${path.join(caDir, 'index.txt')}`,
      `new_certs_dir = ${path.join(caDir, 'new')}`,
      `serial = ${path.join(caDir, 'serial')}`,
      'default_md = sha256',
      'policy = policy_any',
      'unique_subject = no',
      'copy_extensions = none',
      '[policy_any]',
      'commonName = supplied',
      '[leaf]',
      ...ext,
      '',
    ].join('\n'),
  );
  const cert = path.join(dir, `${name}.crt`);
  await openssl([
    'ca', '-batch', '-notext', '-config', conf,
    '-cert', ca.certFile, '-keyfile', ca.keyFile,
    '-in', csr, '-out', cert,
    '-startdate', '20200101000000Z', '-enddate', '20200102000000Z',
    '-extensions', 'leaf',
  ], dir);
  return { keyFile: key, certFile: cert };
}

async function makeSelfSigned(dir, name, cn, san) {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  await openssl([
    'req', '-x509', ...EC,
    '-keyout', key, '-out', cert,
    '-days', '365',
    '-subj', `/CN=${cn}`,
    '-addext', `subjectAltName = ${san}`,
    '-addext', 'basicConstraints = critical, CA:FALSE',
    '-addext', 'extendedKeyUsage = serverAuth',
  ], dir);
  return { keyFile: key, certFile: cert };
}

function withPem(files) {
  return {
    ...files,
    key: fs.readFileSync(files.keyFile, 'utf8'),
    cert: fs.readFileSync(files.certFile, 'utf8'),
  };
}

async function generate() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-gateway-certs-'));
  process.on('exit', () => {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  });
  const ca = await makeCa(dir, 'ca', 'smtp-gateway test CA');
  const otherCa = await makeCa(dir, 'other-ca', 'smtp-gateway other CA');
  const localSan = 'subjectAltName = DNS:localhost, IP:127.0.0.1';
  const ipCn = 'smtp-gateway test server';
  const [server, wrongName, ipOnly, wrongIp, ipAsDns, cnOnly4, cnOnly6, expired, selfSigned, client, otherClient] = await Promise.all([
    signLeaf(dir, ca, 'server', 'localhost', [localSan, ...SERVER_EXT]),
    signLeaf(dir, ca, 'wrong', 'wrong.example', ['subjectAltName = DNS:wrong.example', ...SERVER_EXT]),
    signLeaf(dir, ca, 'ip-only', ipCn, ['subjectAltName = IP:127.0.0.1, IP:::1', ...SERVER_EXT]),
    signLeaf(dir, ca, 'wrong-ip', ipCn, ['subjectAltName = IP:127.0.0.2, IP:::2', ...SERVER_EXT]),
    signLeaf(dir, ca, 'ip-as-dns', ipCn, ['subjectAltName = DNS:127.0.0.1, DNS:::1', ...SERVER_EXT]),
    signLeaf(dir, ca, 'cn-only4', '127.0.0.1', SERVER_EXT),
    signLeaf(dir, ca, 'cn-only6', '::1', SERVER_EXT),
    signExpired(dir, ca, 'expired', 'localhost', [localSan, ...SERVER_EXT]),
    makeSelfSigned(dir, 'self', 'localhost', 'DNS:localhost, IP:127.0.0.1'),
    signLeaf(dir, ca, 'client', CLIENT_CN, [
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = clientAuth',
    ]),
    signLeaf(dir, otherCa, 'other-client', 'smtp-gateway stranger', [
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = clientAuth',
    ]),
  ]);
  return {
    dir,
    caFile: ca.certFile,
    ca: fs.readFileSync(ca.certFile, 'utf8'),
    otherCaFile: otherCa.certFile,
    server: withPem(server),
    wrongName: withPem(wrongName),
    ipOnly: withPem(ipOnly),
    wrongIp: withPem(wrongIp),
    ipAsDns: withPem(ipAsDns),
    cnOnly4: withPem(cnOnly4),
    cnOnly6: withPem(cnOnly6),
    expired: withPem(expired),
    selfSigned: withPem(selfSigned),
    client: withPem(client),
    otherClient: withPem(otherClient),
    clientCn: CLIENT_CN,
  };
}

let cached = null;

/* The certificates; made on the first call, the same object afterwards. */
function getCerts() {
  if (!cached) cached = generate();
  return cached;
}

module.exports = { getCerts };
