'use strict';
// An attachment with no bytes is still an attachment: its part goes with
// its headers and an empty body. The content of an empty attachment is
// held as no buffer at all, which the encoders of its body must take as
// the empty input (a sanitizer build stops the gateway at any arithmetic
// on it).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { assertCleanRun, cleanupAll, send, startGateway } = require('./lib/gateway');
const { startSmtpServer } = require('./lib/smtpserver');

const T = { timeout: 30000 };

after(cleanupAll);

describe('an empty attachment', () => {
  let smtp;
  let gw;

  before(async () => {
    smtp = await startSmtpServer();
    gw = await startGateway({ smtpPort: smtp.port });
  });

  after(async () => {
    await gw.stop();
    await smtp.close();
    assertCleanRun(gw);
  });

  it('an empty message/rfc822 goes as a 7bit part with no body', T, async () => {
    const n = smtp.transactions.length;
    const r = await send(gw, {
      from: 'a@example.com',
      to: 'b@example.com',
      subject: 'empty eml',
      text: 'see the attachment\n',
      attachments: [{ filename: 'empty.eml', content: '', content_type: 'message/rfc822' }],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'sent');
    assert.deepEqual(r.json.recipients.map((x) => [x.address, x.accepted]), [['b@example.com', true]]);
    const [m] = (await smtp.waitForMessages(n + 1)).slice(n);
    assert.deepEqual(m.envelope.rcptTo, ['b@example.com']);
    const raw = m.raw.toString('latin1');
    const boundary = /boundary="([^"]+)"/.exec(raw)[1];
    const parts = raw.split(`--${boundary}`);
    assert.equal(parts.length, 4, 'the text, the attachment and the end');
    assert.equal(
      parts[2],
      '\r\n' +
        'Content-Type: message/rfc822; name="empty.eml"\r\n' +
        'Content-Transfer-Encoding: 7bit\r\n' +
        'Content-Disposition: attachment; filename="empty.eml"\r\n' +
        '\r\n' +
        '\r\n',
      'the part has its headers and no body',
    );
    assert.equal(parts[3], '--\r\n');
    const [att] = m.parsed.attachments;
    assert.equal(att.contentType, 'message/rfc822');
    assert.equal(att.filename, 'empty.eml');
    assert.equal(att.size, 0);
  });
});
