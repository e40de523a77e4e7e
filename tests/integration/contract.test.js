'use strict';
// The contract check itself (lib/contract.js) must be able to fail: a
// response the document does not define, or one that breaks its schema,
// is refused. Without this, a check that passed everything would pass.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');

const { checkResponse } = require('./lib/contract');

const json = (status, body) => ({
  status,
  headers: { 'content-type': 'application/json' },
  text: JSON.stringify(body),
});

describe('contract check', () => {
  it('accepts a documented response', () => {
    assert.equal(checkResponse('GET', '/healthz', json(200, { status: 'ok' })), true);
    assert.equal(
      checkResponse('POST', '/v1/messages', json(400, { status: 'failed', error: 'to: bad', field: 'to' })),
      true,
    );
  });

  it('refuses a body that breaks the schema', () => {
    assert.throws(() => checkResponse('GET', '/healthz', json(200, { status: 'down' })), /does not match/);
    assert.throws(() => checkResponse('POST', '/v1/messages', json(400, { status: 'failed' })), /does not match/);
  });

  it('refuses an undocumented path, method, status or media type', () => {
    assert.throws(() => checkResponse('GET', '/nope', json(404, { status: 'failed', error: 'x' })), /not in openapi/);
    assert.throws(() => checkResponse('GET', '/v1/messages', json(200, {})), /method is not in openapi/);
    assert.throws(() => checkResponse('GET', '/healthz', json(418, {})), /not documented/);
    assert.throws(
      () => checkResponse('GET', '/healthz', { status: 200, headers: { 'content-type': 'text/plain' }, text: 'ok' }),
      /Content-Type text\/plain/,
    );
  });

  it('takes a 405 for another method from the path', () => {
    const r = json(405, { status: 'failed', error: 'DELETE is not allowed on /healthz; use GET' });
    assert.equal(checkResponse('DELETE', '/healthz', r), true);
  });
});
