// Lua scripts answer with named statuses (core/lua-script.ts), one meaning per name, turned into
// errors by one map (core/lua-refusals.ts). The statuses each script's header documents, the ones
// its code returns and the ones its TypeScript caller expects are the same set; a reply outside
// it is an internal error, never read as something else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { statusScript } from '../../core/lua-script.js';
import { refused, type ScriptRefusal } from '../../core/lua-refusals.js';
import { SCRIPT_STATUSES } from '../../ingest/scripts.js';
import type { RedisClient } from '../../core/redis.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');

/** The statuses a script's header documents, and those its code returns. */
function statusesOf(file: string): { documented: Set<string>; returned: Set<string> } {
  const source = read(file);
  const header = source.split('\n').filter((l) => l.startsWith('--')).join('\n');
  const returns = header.slice(header.indexOf('-- Returns'));
  const names = (text: string, re: RegExp) => new Set([...text.matchAll(re)].map((m) => m[1]!));
  return {
    documented: names(returns, /\{'([a-z_]+)'/g),
    returned: names(source.split('\n').filter((l) => !l.startsWith('--')).join('\n'), /return \{ ?'([a-z_]+)'/g),
  };
}

/** The code's files ending in `ext` (not tests, benchmarks or generated output), from the repository root. */
function codeFiles(ext: string, dir = ''): string[] {
  return fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return ['node_modules', 'dist', 'test', 'benchmarks'].includes(e.name) || e.name.startsWith('.') ? [] : codeFiles(ext, rel);
    return e.name.endsWith(ext) ? [rel] : [];
  });
}

/** Each status script and the statuses its caller declares: statusScript('file', [...]) calls, and ingest/scripts.ts. */
const SCRIPTS: Record<string, readonly string[]> = Object.fromEntries([
  ...codeFiles('.ts').flatMap((file) => [...read(file).matchAll(/statusScript\(\s*'([^']+)',\s*\[([^\]]*)\]/g)]
    .map((m) => [m[1]!, [...m[2]!.matchAll(/'([a-z_]+)'/g)].map((n) => n[1]!)] as const)),
  ...Object.entries(SCRIPT_STATUSES).map(([name, s]) => [`ingest/lua/${name}.lua`, s] as const),
]);

test('every script whose header names statuses has a caller that declares them, and the other way round', () => {
  const named = codeFiles('.lua').filter((f) => read(f).includes('-- Returns (statuses of core/lua-script.ts)'));
  assert.deepEqual(named.sort(), Object.keys(SCRIPTS).sort());
  assert.ok(named.length >= 12, `status scripts found: ${named.join(', ')}`);
});

test('every script documents, returns and is expected to return the same statuses', () => {
  for (const [file, expected] of Object.entries(SCRIPTS)) {
    const { documented, returned } = statusesOf(file);
    assert.deepEqual([...documented].sort(), [...expected].sort(), `${file}: header`);
    assert.deepEqual([...returned].sort(), [...expected].sort(), `${file}: code`);
  }
});

test('no status script returns a bare number as a code', () => {
  for (const file of Object.keys(SCRIPTS)) {
    for (const line of read(file).split('\n').filter((l) => !l.startsWith('--'))) {
      assert.doesNotMatch(line, /return -?\d+\b/, `${file}: ${line.trim()}`);
    }
  }
});

test('each refusal means one error, whichever script returns it', () => {
  const cases: [ScriptRefusal, (string | number)[], number, string][] = [
    ['no_thread', [], 404, 'not_found'],
    ['thread_exists', [], 409, 'conflict'],
    ['not_participant', [], 403, 'not_participant'],
    ['remove_not_allowed', [], 403, 'forbidden'],
    ['thread_full', ['50'], 409, 'conflict'],
    ['message_deleted', [], 409, 'message_deleted'],
    ['limited', [1500, 'tenant'], 429, 'rate_limited'],
  ];
  for (const [status, values, httpStatus, code] of cases) {
    const err = refused({ status, values });
    assert.equal(err.status, httpStatus, status);
    assert.equal(err.code, code, status);
  }
  assert.match(refused({ status: 'thread_full', values: ['50'] }).message, /at most 50 participants/);
  const limited = refused({ status: 'limited', values: [1500, 'tenant'] });
  assert.equal(limited.retryAfterS, 2, 'Retry-After rounds the wait up to whole seconds');
  assert.match(limited.message, /tenant/);
});

test('a reply outside the script\'s statuses is an error, not a guess', async () => {
  const answering = (reply: unknown) => ({ evalsha: () => Promise.resolve(reply) }) as unknown as RedisClient;
  const script = statusScript('core/lua/token-bucket.lua', ['ok', 'limited']);
  assert.deepEqual(await script.run(answering(['limited', 250]), ['k'], []), { status: 'limited', values: [250] });
  assert.deepEqual(await script.run(answering(['ok']), ['k'], []), { status: 'ok', values: [] });
  for (const bad of [-1, 0, '1-0', null, [], ['no_thread'], [1, 0]]) {
    await assert.rejects(script.run(answering(bad), ['k'], []), /token-bucket\.lua answered/, JSON.stringify(bad));
  }
});
