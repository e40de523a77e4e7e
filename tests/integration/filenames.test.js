'use strict';
// Attachment file names as other MIME readers take them. Messages with
// names of every kind (plain ASCII, ASCII that needs quoting, long ASCII,
// short and long non-ASCII, CJK, inline images by Content-ID, an attached
// message) go through the real gateway to a real smtp-server; each message
// received is then read by Python's email package (policy.default and
// compat32), Perl's Email::MIME and MIME::Tools (MIME::Parser) and
// mailparser, and every one of them must give each part's exact file name,
// both as the Content-Disposition filename and as the Content-Type name.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { simpleParser } = require('mailparser');

const { cleanupAll, send, startGateway } = require('./lib/gateway');
const { startSmtpServer } = require('./lib/smtpserver');

const T = { timeout: 60000 };

after(cleanupAll);

const LIB = path.join(__dirname, 'lib');
// Debian's own interpreters, with the Debian packages scripts/deps.sh
// installs (python3, libemail-mime-perl, libmime-tools-perl).
const READERS = [
  ['/usr/bin/python3', path.join(LIB, 'mimenames.py')],
  ['/usr/bin/perl', path.join(LIB, 'mimenames.pl')],
];

const b64 = (s) => Buffer.from(s).toString('base64');

/*
 * What every reader reports for every leaf part of `raw`: an object from
 * reader name to a list of { type, filename, name }, in the order of the
 * message.
 */
async function readAll(raw) {
  const out = {};
  for (const [bin, script] of READERS) {
    const json = execFileSync(bin, [script], { input: raw, maxBuffer: 16 << 20 });
    Object.assign(out, JSON.parse(json.toString('utf8')));
  }
  // mailparser lists the attachments only, inline ones included, in order.
  const p = await simpleParser(raw, { skipImageLinks: true, keepCidLinks: true });
  out.mailparser = p.attachments.map((a) => ({
    type: a.contentType,
    filename: a.filename,
    name: a.headers.get('content-type').params.name,
  }));
  return out;
}

/* The header blocks of the leaf parts of `raw` that have a file name. */
function attachmentHeaders(raw) {
  const s = raw.toString('latin1');
  const blocks = [];
  for (const [, b] of s.matchAll(/boundary="([^"]+)"/g)) {
    const delim = `\r\n--${b}\r\n`;
    for (let i = s.indexOf(delim); i >= 0; i = s.indexOf(delim, i + 1)) {
      const start = i + delim.length;
      const block = s.slice(start, s.indexOf('\r\n\r\n', start) + 2);
      if (/^Content-Disposition:/im.test(block)) blocks.push(block);
    }
  }
  return blocks;
}

/*
 * The unfolded value of the field `name` in a header block, with every
 * quoted-string emptied, so that what a name holds is not taken for a
 * parameter.
 */
function field(block, name) {
  const unfolded = block.replace(/\r\n(?=[ \t])/g, '');
  const m = unfolded.match(new RegExp(`^${name}:[ \\t]*(.*)\\r$`, 'im'));
  return m ? m[1].replace(/"(?:[^"\\]|\\.)*"/g, '""') : null;
}

const LONG_ASCII = `${'Quarterly-statement-'.repeat(5)}ABCDEFGHIJKLMNOP.csv`;
const LONG_GERMAN =
  'Ein sehr langer Dateiname für den Jahresabschluss des Geschäftsjahres 2026 – endgültige Fassung (v3).docx';

const INLINE = [
  { filename: 'logo.png', content_id: 'logo@example.com', content: b64('\x89PNG\r\n\x1a\nlogo') },
  { filename: 'Diagramm für März.png', content_id: 'chart', content: b64('\x89PNG\r\n\x1a\nchart') },
];
const ATTACHED = [
  { filename: 'report.pdf', content: b64('%PDF-1.7 a') },
  { filename: 'my file; name="x" \\ y.txt', content: b64('quoted') },
  { filename: 'two  spaces, (and) <more>.txt', content: b64('specials') },
  { filename: LONG_ASCII, content: b64('long') },
  { filename: 'Rechnung März.pdf', content: b64('%PDF-1.7 b') },
  { filename: LONG_GERMAN, content: b64('lang') },
  { filename: '請求書_2026年11月分.pdf', content: b64('%PDF-1.7 c') },
  { filename: '=?utf-8?q?not_a_word?=.txt', content: b64('lookalike') },
  { filename: 'Weitergeleitet: Grüße.eml', content: b64('Subject: fwd\r\n\r\nhello\r\n') },
];

describe('attachment file names as MIME readers take them', () => {
  let smtp;
  let gw;
  let raw;
  let readers;

  before(async () => {
    assert.ok(LONG_ASCII.length === 120, 'the long ASCII name has 120 characters');
    assert.ok(Buffer.byteLength(LONG_GERMAN) > 78, 'the long name is over 78 bytes');
    smtp = await startSmtpServer();
    gw = await startGateway({ smtpPort: smtp.port });
    const r = await send(gw, {
      from: 'billing@example.com',
      to: 'ada@example.org',
      subject: 'names',
      html: '<p><img src="cid:logo@example.com"><img src="cid:chart"></p>',
      attachments: [
        ...INLINE.map((a) => ({ ...a, disposition: 'inline' })),
        ...ATTACHED,
      ],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'sent', r.text);
    const [m] = await smtp.waitForMessages(1);
    raw = m.raw;
    readers = await readAll(raw);
  });

  after(async () => {
    if (gw) await gw.stop();
    if (smtp) await smtp.close();
  });

  const names = [...INLINE, ...ATTACHED].map((a) => a.filename);

  for (const reader of ['python-default', 'python-compat32', 'email-mime', 'mime-tools', 'mailparser']) {
    it(`${reader} reads every filename and name exactly`, T, () => {
      const leaves = readers[reader].filter((l) => l.type !== 'text/html');
      assert.deepEqual(leaves.map((l) => l.filename), names, 'Content-Disposition filename');
      assert.deepEqual(leaves.map((l) => l.name), names, 'Content-Type name');
    });
  }

  it('the attached message and the inline images keep their types', T, () => {
    const types = readers['python-default'].map((l) => l.type);
    assert.deepEqual(types.slice(0, 3), ['text/html', 'image/png', 'image/png']);
    assert.equal(types[types.length - 1], 'message/rfc822');
  });

  it('each part says its file name once, in one form, on lines of at most 78', T, () => {
    // A media type is never folded away from its colon, so a long one
    // (the .docx one) has its own line of more than 78; the lines that
    // carry the names do not.
    const blocks = attachmentHeaders(raw);
    assert.equal(blocks.length, names.length);
    for (const block of blocks) {
      const cd = field(block, 'Content-Disposition');
      const ct = field(block, 'Content-Type');
      const plain = /;\s*filename=/.test(cd);
      const ext = /;\s*filename\*/.test(cd);
      assert.ok(plain !== ext, `filename= or filename*, not both nor neither:\n${block}`);
      assert.equal((ct.match(/;\s*name[*=]/g) || []).length, 1, `one name on Content-Type:\n${block}`);
      assert.doesNotMatch(ct, /name\*/, `Content-Type name is not RFC 2231:\n${block}`);
      for (const line of block.split('\r\n')) {
        if (/^Content-Type: [^;]*;$/.test(line)) continue;
        assert.ok(line.length <= 78, `a header line of ${line.length}: ${line}`);
      }
    }
  });
});
