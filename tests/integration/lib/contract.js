'use strict';
// The OpenAPI contract, checked against every response the tests receive.
//
//   checkResponse('POST', '/v1/messages?x=1', res)   // throws when the
//                                                     // document disagrees
//
// The response must be one the document defines: its path, its method
// (or, for another method, the 405 the path documents), its status and its
// media type; a JSON body must match the schema of that response (JSON
// Schema 2020-12, as OpenAPI 3.1 says). Anything the document does not
// define fails, so that openapi.yaml cannot drift from the gateway.

const fs = require('node:fs');
const path = require('node:path');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;
const YAML = require('yaml');

const FILE = path.resolve(__dirname, '..', '..', '..', 'openapi.yaml');
const DOC_ID = 'https://smtp-gateway.invalid/openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let cached = null;

/* Makes every local $ref point into the document registered as DOC_ID. */
function rebase(node) {
  if (Array.isArray(node)) return node.map(rebase);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#') ? DOC_ID + v : rebase(v);
  }
  return out;
}

function load() {
  if (cached) return cached;
  const doc = YAML.parse(fs.readFileSync(FILE, 'utf8'));
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  ajv.addSchema({ $id: DOC_ID, components: rebase(doc.components || {}) });
  const paths = Object.entries(doc.paths || {}).map(([tmpl, item]) => ({
    tmpl,
    item,
    re: new RegExp(
      '^' + tmpl.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+') + '$',
    ),
  }));
  cached = { doc, ajv, paths, validators: new Map() };
  return cached;
}

/* Follows a $ref to a component (responses are often references). */
function deref(doc, obj) {
  let o = obj;
  for (let i = 0; o && o.$ref && i < 10; i++) {
    o = o.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((acc, k) => (acc ? acc[k.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), doc);
  }
  return o;
}

/* The documented response for method, path and status, or an error text. */
function findResponse(method, urlPath, status) {
  const { doc, paths } = load();
  const p = urlPath.split('?')[0];
  const found = paths.find((e) => e.re.test(p));
  if (!found) return { error: `${method} ${p}: the path is not in openapi.yaml` };
  const m = method.toLowerCase();
  let ops = [];
  if (found.item[m]) ops = [[m, found.item[m]]];
  else if (status === 405) ops = METHODS.filter((x) => found.item[x]).map((x) => [x, found.item[x]]);
  else return { error: `${method} ${found.tmpl}: the method is not in openapi.yaml (status ${status})` };
  for (const [om, op] of ops) {
    const responses = op.responses || {};
    const r = responses[String(status)] || responses[`${String(status)[0]}XX`] || responses.default;
    if (r) return { key: `${om} ${found.tmpl} ${status}`, response: deref(doc, r) };
  }
  return {
    error: `${method} ${found.tmpl}: status ${status} is not documented (documented: ${ops
      .map(([, op]) => Object.keys(op.responses || {}).join(', '))
      .join('; ')})`,
  };
}

/*
 * Checks one response: { status, headers (lower-case names), text }.
 * Throws an Error naming the disagreement; returns true when it matches.
 */
function checkResponse(method, urlPath, res) {
  const found = findResponse(method, urlPath, res.status);
  if (found.error) throw new Error(`contract: ${found.error}; body: ${String(res.text).slice(0, 300)}`);
  const { ajv, validators } = load();
  const content = found.response.content;
  const where = `contract: ${found.key}`;
  if (!content) {
    if (res.text) throw new Error(`${where}: the document defines no body, got ${res.text.slice(0, 200)}`);
    return true;
  }
  const type = String(res.headers['content-type'] || '')
    .split(';')[0]
    .trim()
    .toLowerCase();
  const media = content[type];
  if (!media) {
    throw new Error(`${where}: Content-Type ${type || '(none)'} is not documented (${Object.keys(content).join(', ')})`);
  }
  if (!/json$/.test(type) || !media.schema) return true;
  let body;
  try {
    body = JSON.parse(res.text);
  } catch {
    throw new Error(`${where}: the body is not JSON: ${res.text.slice(0, 200)}`);
  }
  const key = `${found.key} ${type}`;
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(rebase(media.schema));
    validators.set(key, validate);
  }
  if (!validate(body)) {
    throw new Error(
      `${where}: the body does not match the schema: ${ajv.errorsText(validate.errors)}; body: ${res.text.slice(0, 500)}`,
    );
  }
  return true;
}

module.exports = { checkResponse, findResponse, load };
