// Opaque cursors round-trip and refuse anything they could not have produced; page limits default
// to 50, clamp to 50 and refuse what is not a positive integer (contract section 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../core/errors.js';
import { decodeCursor, encodeCursor, pageLimit } from '../../projections/cursor.js';

const isCode = (code: string) => (err: unknown) => err instanceof AppError && err.code === code && err.status === 400;
const b64 = (s: string) => Buffer.from(s).toString('base64url');

test('a cursor round-trips and is opaque base64url', () => {
  const p = { at: '2026-03-01T12:34:56.789Z', id: 'm_0190abcdef' };
  const c = encodeCursor(p);
  assert.match(c, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeCursor(c), p);
});

test('malformed cursors are invalid_cursor', () => {
  const bad: unknown[] = [
    '', 'not a cursor', '!!!!', 'a'.repeat(300), 42, null, {},
    b64('not json'), b64('[]'), b64('null'), b64('"x"'),
    b64(JSON.stringify({ c: '2026-03-01T12:34:56.789Z' })),
    b64(JSON.stringify({ c: '2026-03-01T12:34:56.789Z', i: 'm1', x: 1 })),
    b64(JSON.stringify({ c: '2026-03-01', i: 'm1' })),
    b64(JSON.stringify({ c: '2026-02-30T00:00:00.000Z', i: 'm1' })),
    b64(JSON.stringify({ c: 1700000000000, i: 'm1' })),
    b64(JSON.stringify({ c: '2026-03-01T12:34:56.789Z', i: 'has space' })),
    b64(JSON.stringify({ c: '2026-03-01T12:34:56.789Z', i: 7 })),
    `${encodeCursor({ at: '2026-03-01T12:34:56.789Z', id: 'm1' })}=`,
    Buffer.from(JSON.stringify({ c: '2026-03-01T12:34:56.789Z', i: 'm1' })).toString('base64'),
  ];
  for (const c of bad) assert.throws(() => decodeCursor(c), isCode('invalid_cursor'), String(c));
});

test('page limits: default 50, clamped to 50, positive integers only', () => {
  assert.equal(pageLimit(undefined), 50);
  assert.equal(pageLimit(''), 50);
  assert.equal(pageLimit(1), 1);
  assert.equal(pageLimit('7'), 7);
  assert.equal(pageLimit(50), 50);
  assert.equal(pageLimit(51), 50);
  assert.equal(pageLimit('1000'), 50);
  assert.equal(pageLimit('99999999999999999999999999'), 50);
  for (const v of [0, -1, 1.5, '0', '-3', '1.5', 'abc', '1e3', ' 5', NaN, Infinity, true, {}]) {
    assert.throws(() => pageLimit(v), isCode('invalid_request'), String(v));
  }
});
