// The layering is a lint rule (eslint.config.js LAYERS): these are the imports it must refuse, so a
// change that silently disabled it would fail here, not only stop catching regressions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const eslint = new ESLint({ cwd: ROOT });

async function restricted(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('an import that climbs a layer fails lint', async () => {
  assert.match((await restricted('workers/notify/x.ts', "export { presenceOf } from '../../gateway/presence/store.js';\n"))[0] ?? '', /workers\/ may not import gateway\//);
  assert.match((await restricted('core/x.ts', "import type { Message } from '../ingest/messages.js';\nexport type M = Message;\n"))[0] ?? '', /core\/ may not import ingest\//);
  assert.match((await restricted('processors/x.ts', "export { createServer } from '../gateway/server.js';\n"))[0] ?? '', /processors\/ may not import gateway\//);
});

test('an import that points down passes', async () => {
  assert.deepEqual(await restricted('gateway/routes/x.ts', "export { readPresence } from '../../core/presence.js';\nexport { pageLimit } from '../../projections/cursor.js';\n"), []);
  assert.deepEqual(await restricted('workers/notify/x.ts', "import type { Config } from '../../config/index.js';\nexport type C = Config;\n"), []);
});

test('only entry points load the configuration', async () => {
  const code = "import { loadConfig } from '../config/index.js';\nexport const c = loadConfig();\n";
  assert.match((await restricted('processors/counters.ts', code))[0] ?? '', /Only entry points/);
  assert.deepEqual(await restricted('processors/main.ts', code), []);
});
