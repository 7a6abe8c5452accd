// The error catalog (core/errors.ts) and its documentation cannot drift: every code of the catalog
// is in docs/errors.md with the same status and in the right table (HTTP or websocket-only), every
// documented code is in the catalog, and the catalog keeps the contract's pairings (PROTOCOL.md:
// statuses, Retry-After on 429/503, WWW-Authenticate on 401, 1008/1009 on a frame flood).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError, ERRORS, errorSpec, httpError, type ErrorCode } from '../../core/errors.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
const codes = Object.keys(ERRORS) as ErrorCode[];

/** The rows `| \`code\` | status | …` of the markdown table under `heading` (up to the next heading). */
function documented(markdown: string, heading: string): Map<string, number> {
  const start = markdown.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `docs/errors.md has a section "${heading}"`);
  const section = markdown.slice(start + heading.length + 2).split(/\n#{1,6} /)[0] ?? '';
  const rows = new Map<string, number>();
  for (const m of section.matchAll(/^\| `([a-z_]+)` \| (\d{3})\b/gm)) {
    assert.ok(!rows.has(m[1]!), `${m[1]} is documented once`);
    rows.set(m[1]!, Number(m[2]));
  }
  return rows;
}

const doc = read('docs/errors.md');
const httpRows = documented(doc, '## HTTP codes (also used in websocket frames where noted)');
const wsOnlyRows = documented(doc, '## Websocket-only codes');

test('docs/errors.md documents every code of the catalog, with its status, in the table of where it is sent', () => {
  for (const code of codes) {
    const spec = errorSpec(code);
    const rows = spec.http ? httpRows : wsOnlyRows;
    assert.equal(rows.get(code), spec.status, `${code}: documented ${spec.http ? 'as an HTTP code' : 'as websocket-only'} with status ${spec.status}`);
  }
});

test('docs/errors.md notes websocket use on exactly the HTTP codes the catalog lets error frames carry', () => {
  for (const row of doc.split('\n').filter((l) => /^\| `[a-z_]+` \| \d{3} \|/.test(l))) {
    const code = /`([a-z_]+)`/.exec(row)![1] as ErrorCode;
    if (!errorSpec(code).http) continue;
    assert.equal(/Websocket:|a websocket frame/.test(row), errorSpec(code).ws !== false, `${code}: websocket use noted`);
  }
});

test('every code docs/errors.md documents is in the catalog', () => {
  for (const code of [...httpRows.keys(), ...wsOnlyRows.keys()]) assert.ok(code in ERRORS, `${code} is in core/errors.ts`);
  assert.equal(httpRows.size + wsOnlyRows.size, codes.length);
});

test('docs/protocol.md pairs each HTTP code with the catalog status', () => {
  const table = read('docs/protocol.md').split('\n### Errors\n')[1]?.split('\n\n').find((p) => p.startsWith('| status |'));
  assert.ok(table, 'docs/protocol.md has the status table under "### Errors"');
  let listed = 0;
  for (const row of table.split('\n').slice(2)) {
    const status = Number(/^\| (\d{3}) /.exec(row)?.[1]);
    for (const [, code] of row.split('|').at(-2)!.matchAll(/`([a-z_]+)`/g)) {
      assert.equal(errorSpec(code as ErrorCode).status, status, `${code} under ${status}`);
      listed++;
    }
  }
  assert.equal(listed, codes.filter((c) => errorSpec(c).http && c !== 'internal').length, 'every HTTP code but internal is in the table');
});

test('HTTP codes keep the statuses PROTOCOL.md allows; bad input never yields 5xx', () => {
  const contract = new Set([400, 401, 403, 404, 409, 413, 415, 429, 503]);
  for (const code of codes) {
    const spec = errorSpec(code);
    if (!spec.http || code === 'internal') continue;
    assert.ok(contract.has(spec.status), `${code}: ${spec.status} is a contract status`);
  }
  assert.equal(errorSpec('internal').status, 500);
});

test('429 and 503 are retryable and carry Retry-After; 401 carries WWW-Authenticate; other 4xx are not retryable', () => {
  for (const code of codes) {
    const spec = errorSpec(code);
    const waits = spec.status === 429 || spec.status === 503;
    assert.equal(spec.retryable, waits, `${code}: retryable exactly when 429 or 503`);
    if (!spec.http) continue;
    const answer = httpError(code as Parameters<typeof httpError>[0], 'x');
    assert.equal(answer.status, spec.status);
    assert.deepEqual(answer.body, { error: { code, message: 'x' } });
    assert.equal(answer.headers['retry-after'] !== undefined, waits, `${code}: Retry-After exactly on 429/503`);
    assert.equal(answer.headers['www-authenticate'], spec.status === 401 ? 'Bearer' : undefined, code);
  }
  assert.equal(httpError('too_many_connections', 'x').headers['retry-after'], '5', 'a refused upgrade waits 5 s');
  assert.equal(httpError(new AppError('rate_limited', 'x', undefined, 7)).headers['retry-after'], '7', 'the caller\'s Retry-After wins');
  assert.deepEqual(httpError(new AppError('invalid_request', 'x', { issues: [] })).body, { error: { code: 'invalid_request', message: 'x', details: { issues: [] } } });
});

test('a flood of bad frames closes with 1009 when the last was oversized, else 1008 (protocol.md §5.7)', () => {
  for (const code of codes) {
    const { ws } = errorSpec(code);
    if (ws) assert.equal(ws.floodClose, code === 'frame_too_large' ? 1009 : 1008, code);
  }
  const bad = read('docs/protocol.md').split('\n### 5.7 Bad frames\n')[1]?.split('\n### ')[0] ?? '';
  const frameCodes = [...bad.matchAll(/\| `([a-z_]+)` \|$/gm)].map((m) => m[1] as ErrorCode);
  assert.ok(frameCodes.length >= 8, 'protocol.md §5.7 lists the frame error codes');
  for (const code of frameCodes) assert.ok(errorSpec(code).ws, `${code} may be sent in an error frame`);
});
