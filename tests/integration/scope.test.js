'use strict';
// What a token limited to from_domains may put in a message, and the
// header fields no token may set. A token limited to allowed.example
// sends only as allowed.example: from and sender in its domains, and no
// display name (of from, sender or reply_to) that shows an address of
// another domain; a 403 naming the field otherwise. Every token is
// refused the trace and authentication fields that MTAs write (Received,
// Return-Path, Resent-*, DKIM-Signature, ARC-*, Authentication-Results,
// Received-SPF): a 400 naming the field. The same holds for the From,
// Sender and Reply-To fields of a raw message. A refused request never
// reaches the SMTP server as a message.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { assertCleanRun, assertErrorReply, cleanupAll, request, send, sleep, startGateway } = require('./lib/gateway');
const { startSmtpServer } = require('./lib/smtpserver');

const T = { timeout: 60000 };

after(cleanupAll);

const MSG = { from: 'app@allowed.example', to: 'rcpt@example.com', subject: 'scope', text: 'hello' };

const TRACE = [
  'Received',
  'received',
  'Return-Path',
  'Resent-From',
  'Resent-Sender',
  'Resent-Date',
  'DKIM-Signature',
  'ARC-Seal',
  'ARC-Message-Signature',
  'ARC-Authentication-Results',
  'Authentication-Results',
  'Received-SPF',
];

describe('token scope: sender, display names and trace headers', () => {
  let smtp;
  let gw;
  let scoped; // limited to allowed.example

  before(async () => {
    smtp = await startSmtpServer();
    gw = await startGateway({ smtpPort: smtp.port });
    const r = await request(gw, 'POST', '/v1/tokens', {
      body: { name: 'scoped', scope: 'send', from_domains: ['allowed.example'] },
    });
    assert.equal(r.status, 201, r.text);
    scoped = r.json.token;
    gw.secrets.push(scoped);
  });
  after(async () => {
    await gw.stop();
    await smtp.close();
    assertCleanRun(gw);
  });

  /* The request is refused with `status` naming `field`; nothing sent. */
  async function refused(body, status, field, token) {
    const before = smtp.tcpConnections;
    const r = await send(gw, { ...MSG, ...body }, { token });
    assertErrorReply(r, status, field);
    assert.equal(smtp.tcpConnections, before, 'nothing reached the server');
    return r;
  }

  const bypasses = [
    ['a sender of another domain', { sender: 'boss@bank.example' }, 'sender'],
    ['a sender object of another domain', { sender: { name: 'Boss', address: 'boss@bank.example' } }, 'sender'],
    ['a from name holding another address', { from: '"ceo@bank.example" <app@allowed.example>' }, 'from'],
    ['a from name object holding another address', { from: { name: 'ceo@bank.example', address: 'app@allowed.example' } }, 'from'],
    ['a from name with a fullwidth at sign', { from: { name: 'ceo\uff20bank.example', address: 'app@allowed.example' } }, 'from'],
    ['a from name with an international domain', { from: { name: 'ceo@bänk.example', address: 'app@allowed.example' } }, 'from'],
    ['a from name with a blank after @', { from: { name: 'ceo @ bank.example', address: 'app@allowed.example' } }, 'from'],
    ['a sender name holding another address', { sender: { name: 'ceo@bank.example', address: 'ops@allowed.example' } }, 'sender'],
    ['a reply_to name holding another address', { reply_to: '"ceo@bank.example" <help@gmail.example>' }, 'reply_to'],
    ['a second reply_to name holding another address', { reply_to: ['a@gmail.example', 'ceo@bank.example <b@gmail.example>'] }, 'reply_to[1]'],
  ];
  for (const [label, body, field] of bypasses) {
    it(`${label}: 403 naming ${field}, nothing sent`, T, async () => {
      const r = await refused(body, 403, field, scoped);
      assert.match(r.json.error, /allowed\.example/);
    });
  }

  for (const name of TRACE) {
    it(`headers.${name} is refused for every token (400), nothing sent`, T, async () => {
      const headers = { [name]: 'from mx.bank.example by mx.example.com; Mon, 1 Jan 2024 00:00:00 +0000' };
      for (const token of [scoped, undefined]) {
        const r = await refused({ headers }, 400, `headers.${name}`, token);
        assert.match(r.json.error, /written by/);
      }
    });
  }

  it('a scoped token still sends as its domains: sender, names and any reply_to mailbox', T, async () => {
    const n = smtp.transactions.length;
    const r = await send(
      gw,
      {
        ...MSG,
        from: { name: 'Team @ allowed.example', address: 'app@allowed.example' },
        sender: 'Ops <ops@ALLOWED.example>',
        reply_to: ['customer@gmail.example', '"customer@gmail.example" <customer@gmail.example>'],
        headers: { 'X-Trace-Id': 'abc', 'Resent': 'not a Resent- field' },
      },
      { token: scoped },
    );
    assert.equal(r.status, 200, r.text);
    const [m] = (await smtp.waitForMessages(n + 1)).slice(n);
    const head = m.raw.toString('latin1');
    assert.match(head, /^Sender: Ops <ops@ALLOWED\.example>\r$/m);
    assert.match(head, /^Reply-To: customer@gmail\.example,/m);
    assert.match(head, /^X-Trace-Id: abc\r$/m);
  });

  it('a token without from_domains may still name any sender and any display name', T, async () => {
    const n = smtp.transactions.length;
    const r = await send(gw, {
      ...MSG,
      from: '"billing@bank.example" <app@example.com>',
      sender: 'boss@bank.example',
    });
    assert.equal(r.status, 200, r.text);
    await smtp.waitForMessages(n + 1);
  });

  /* A raw message through the scoped token, its envelope allowed. */
  function postRaw(message, token = scoped, query = 'from=app@allowed.example&to=rcpt@example.com') {
    return request(gw, 'POST', `/v1/messages/raw?${query}`, {
      token,
      body: Buffer.from(message, 'utf8'),
      contentType: 'message/rfc822',
    });
  }

  const rawBypasses = [
    ['a From of another domain', 'From: app@bank.example\r\n'],
    ['a From name holding another address', 'From: "ceo@bank.example" <app@allowed.example>\r\n'],
    ['a From name in an encoded-word', 'From: =?utf-8?q?ceo=40bank.example?= <app@allowed.example>\r\n'],
    ['a From name in a base64 encoded-word', 'From: =?UTF-8?B?Y2VvQGJhbmsuZXhhbXBsZQ==?= <app@allowed.example>\r\n'],
    ['a folded From', 'From: "ceo@bank.example"\r\n <app@allowed.example>\r\n'],
    ['a From list with another domain', 'From: app@allowed.example, x@bank.example\r\n'],
    ['a From with a comment', 'From: app@allowed.example (ceo@bank.example)\r\n'],
    ['a second From', 'From: app@allowed.example\r\nFrom: x@bank.example\r\n'],
    ['a Sender of another domain', 'From: app@allowed.example\r\nSender: boss@bank.example\r\n'],
    ['a Reply-To name holding another address', 'From: app@allowed.example\r\nReply-To: "ceo@bank.example" <x@gmail.example>\r\n'],
  ];
  for (const [label, head] of rawBypasses) {
    it(`raw: ${label}: 403 naming message, nothing delivered`, T, async () => {
      const n = smtp.transactions.length;
      const r = await postRaw(`${head}Subject: raw\r\n\r\nbody\r\n`);
      assertErrorReply(r, 403, 'message');
      assert.match(r.json.error, /allowed\.example/);
      await sleep(200);
      assert.equal(smtp.transactions.length, n, 'the server delivered nothing');
    });
  }

  for (const name of TRACE) {
    it(`raw: a ${name} field is refused for every token (400 naming message), nothing delivered`, T, async () => {
      for (const token of [scoped, gw.token]) {
        const n = smtp.transactions.length;
        const r = await postRaw(`From: app@allowed.example\r\n${name}: x\r\nSubject: raw\r\n\r\nbody\r\n`, token);
        assertErrorReply(r, 400, 'message');
        assert.match(r.json.error, new RegExp(`${name}: .*written by`, 'i'));
        await sleep(200);
        assert.equal(smtp.transactions.length, n, 'the server delivered nothing');
      }
    });
  }

  it('raw: a scoped token relays a message from its domains', T, async () => {
    const n = smtp.transactions.length;
    const message =
      'From: "Team @ allowed.example" <app@allowed.example>\r\n' +
      'Sender: =?utf-8?q?Ops?= <ops@allowed.example>\r\n' +
      'Reply-To: "customer@gmail.example" <customer@gmail.example>\r\n' +
      'Subject: raw\r\n\r\nbody, Received: in the body is text\r\n';
    const r = await postRaw(message);
    assert.equal(r.status, 200, r.text);
    const [m] = (await smtp.waitForMessages(n + 1)).slice(n);
    assert.equal(m.raw.toString('utf8'), message);
  });
});
