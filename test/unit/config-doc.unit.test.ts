// The configuration is one table (config/options.ts): the option tables of docs/configuration.md are
// rendered from it, so the page can never drift from what the code reads. A failure here means the
// table changed without `npm run docs:config` (or the page's tables were edited by hand).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigurationDoc } from '../../config/doc.js';
import { ENV_SCHEMA, OPTIONS } from '../../config/options.js';
import { loadConfig } from '../../config/index.js';

const DOC = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url));

test('docs/configuration.md holds the option tables config/options.ts renders (npm run docs:config)', () => {
  const committed = fs.readFileSync(DOC, 'utf8');
  assert.equal(renderConfigurationDoc(committed), committed);
});

test('every variable of the table is documented on the page, once', () => {
  const committed = fs.readFileSync(DOC, 'utf8');
  for (const name of Object.keys(OPTIONS)) {
    assert.equal(committed.split(`\n| \`${name}\` |`).length - 1, 1, name);
  }
});

test('an integer default is shown as the value the schema applies', () => {
  const defaults = ENV_SCHEMA.parse({}) as Record<string, unknown>;
  for (const [name, o] of Object.entries(OPTIONS)) {
    const value = defaults[name];
    if (typeof value === 'number') assert.match(o.shown, new RegExp(`^\`${value}\`( \\(.+\\))?$`), name);
  }
});

test('bounds are applied after validation: out-of-range integers are raised or lowered, invalid ones refused', () => {
  const c = loadConfig({ CHORUS_DATA_DIR: '.data-test', NODE_ENV: 'test', CHORUS_THUMB_SIZE: '1', CHORUS_NOTIFY_CONCURRENCY: '100000', CHORUS_PROCESSOR_BATCH: '0' });
  assert.equal(c.attachments.thumbnails.size, 16);
  assert.equal(c.notify.concurrency, 256);
  assert.equal(c.processors.batch, 1);
  assert.throws(() => loadConfig({ CHORUS_DATA_DIR: '.data-test', CHORUS_THUMB_SIZE: '-5' }), /invalid configuration: CHORUS_THUMB_SIZE: /);
});
