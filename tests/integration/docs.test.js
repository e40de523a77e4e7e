'use strict';
// GET /openapi.yaml serves the document of this tree, and GET /docs a page
// that renders it: checked in headless Chromium (Debian's chromium), which
// must show every operation's summary. Skipped only when no Chromium is
// installed (scripts/deps.sh test installs it).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const YAML = require('yaml');

const { REPO, assertCleanRun, assertErrorReply, cleanupAll, request, startGateway } = require('./lib/gateway');

const T = { timeout: 60000 };
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SPEC = fs.readFileSync(path.join(REPO, 'openapi.yaml'), 'utf8');

after(cleanupAll);

/* The rendered DOM of `url` after its scripts ran, from headless Chromium. */
function dumpDom(url) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-gateway-chromium-'));
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--no-first-run',
    `--user-data-dir=${profile}`,
    '--virtual-time-budget=20000',
    '--dump-dom',
    url,
  ];
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, args, { timeout: 50000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      fs.rmSync(profile, { recursive: true, force: true });
      if (err) reject(new Error(`chromium: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

describe('the API description and its page', () => {
  let gw;
  before(async () => {
    gw = await startGateway();
  });
  after(async () => {
    await gw.stop();
    assertCleanRun(gw);
  });

  it('GET /openapi.yaml is openapi.yaml, byte for byte, without a token', T, async () => {
    const r = await request(gw, 'GET', '/openapi.yaml', { token: null });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^application\/yaml/);
    assert.equal(r.text, SPEC);
  });

  it('the page and its script are served without a token; other methods are 405', T, async () => {
    const page = await request(gw, 'GET', '/docs', { token: null });
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'], /^text\/html/);
    assert.match(page.text, /spec-url="openapi\.yaml"/);
    assert.ok(!/https?:\/\//.test(page.text), 'the page loads nothing from elsewhere');
    const js = await request(gw, 'GET', '/docs/redoc.standalone.js', { token: null });
    assert.equal(js.status, 200);
    assert.ok(js.text.length > 100000, 'the Redoc bundle');
    for (const p of ['/docs', '/openapi.yaml']) {
      const r = await request(gw, 'POST', p, { body: {} });
      assertErrorReply(r, 405, null);
      assert.equal(r.headers.allow, 'GET');
    }
  });

  it('GET /docs renders every operation in headless Chromium', { ...T, skip: !fs.existsSync(CHROMIUM) && `no ${CHROMIUM}` }, async () => {
    const doc = YAML.parse(SPEC);
    const summaries = [];
    for (const item of Object.values(doc.paths)) {
      for (const op of Object.values(item)) if (op && op.summary) summaries.push(op.summary);
    }
    assert.ok(summaries.length >= 6, 'the document has its operations');
    const raw = (await request(gw, 'GET', '/docs', { token: null })).text;
    const dom = await dumpDom(`${gw.url}/docs`);
    for (const s of summaries) {
      // Rendered by the script from openapi.yaml, not written in the page.
      assert.ok(!raw.includes(s), `"${s}" is in the page before rendering`);
      assert.ok(dom.includes(s), `"${s}" is not rendered; DOM starts:\n${dom.slice(0, 2000)}`);
    }
    assert.match(dom, /operation\/sendMessage/);
  });
});
