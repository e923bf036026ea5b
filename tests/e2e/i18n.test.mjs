// The two catalogues (web/i18n/vi.js and en.js) hold the same keys with the same {parameters},
// no string is empty, and every key the code names literally (t('…'), t: '…', tAttr values)
// exists. Runs without a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from './harness.mjs';

const WEB = path.join(REPO, 'web');
const vi = (await import(path.join(WEB, 'i18n', 'vi.js'))).default;
const en = (await import(path.join(WEB, 'i18n', 'en.js'))).default;

const params = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('Vietnamese and English have the same keys and parameters', () => {
  assert.deepEqual(Object.keys(en).filter((k) => !(k in vi)), [], 'in en.js only');
  assert.deepEqual(Object.keys(vi).filter((k) => !(k in en)), [], 'in vi.js only');
  for (const k of Object.keys(vi)) {
    assert.equal(typeof vi[k], 'string', k);
    assert.ok(vi[k].length > 0 && en[k].length > 0, `empty string: ${k}`);
    assert.deepEqual(params(vi[k]), params(en[k]), `parameters differ: ${k}`);
  }
});

test('every key named in the code exists', () => {
  const files = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) { if (e.name !== 'i18n') walk(p); } else if (e.name.endsWith('.js')) files.push(p);
    }
  };
  walk(WEB);
  const missing = [];
  for (const f of files) {
    const src = fs.readFileSync(f, 'utf8');
    const keys = new Set();
    for (const m of src.matchAll(/\bt\(\s*'([a-z0-9_.]+)'/g)) keys.add(m[1]);
    for (const m of src.matchAll(/\bt:\s*'([a-z0-9_.]+)'/g)) keys.add(m[1]);
    for (const m of src.matchAll(/tAttr:\s*\{([^}]*)\}/g)) {
      for (const k of m[1].matchAll(/'([a-z0-9_.]+)'/g)) keys.add(k[1]);
    }
    for (const k of keys) if (!(k in vi)) missing.push(`${path.relative(REPO, f)}: ${k}`);
  }
  assert.deepEqual(missing, []);
});
