// Type rules of the attachment pipeline (workers/attachments/content-type.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeType, looksLikeText, THUMBNAIL_TYPES } from '../../workers/attachments/content-type.js';

const enc = (s: string) => new TextEncoder().encode(s);

test('a detected type must be the declared one', () => {
  assert.deepEqual(judgeType('image/png', 'image/png', new Uint8Array()), { ok: true });
  assert.deepEqual(judgeType('application/pdf', 'image/png', new Uint8Array()), { ok: false, detected: 'image/png' });
  assert.deepEqual(judgeType('text/plain', 'application/zip', enc('PK')), { ok: false, detected: 'application/zip' });
});

test('nothing detected: only text/plain with UTF-8 and no NUL passes', () => {
  assert.deepEqual(judgeType('text/plain', undefined, enc('hello ünïcödé\n')), { ok: true });
  assert.deepEqual(judgeType('text/plain', undefined, new Uint8Array([0x68, 0x00, 0x69])), { ok: false, detected: 'binary' });
  assert.deepEqual(judgeType('text/plain', undefined, new Uint8Array([0xff, 0xfe, 0x41])), { ok: false, detected: 'binary' });
  assert.deepEqual(judgeType('image/png', undefined, enc('not a png')), { ok: false, detected: 'unknown' });
});

test('a multi-byte character cut at the end of the sniffed head is still text', () => {
  const bytes = enc('aé');
  assert.ok(looksLikeText(bytes.subarray(0, bytes.length - 1)));
});

test('thumbnails are made for raster images only', () => {
  assert.deepEqual([...THUMBNAIL_TYPES].sort(), ['image/gif', 'image/jpeg', 'image/png', 'image/webp']);
});
