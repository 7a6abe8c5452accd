// The S3 store's presigned URLs, computed offline (no S3 here): uploads are write-once PUTs of the
// declared size and type to quarantine; downloads are GETs of clean keys with the served type and
// name; quarantine is never presigned for GET.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { S3Store } from '../../workers/storage/s3-store.js';
import { cleanKey, quarantineKey } from '../../workers/storage/store.js';

const store = new S3Store({
  bucket: 'chorus-bucket', region: 'eu-west-1', endpoint: 'http://s3.test:9000', forcePathStyle: true, prefix: 'env1/',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
});
const sha = 'a'.repeat(64);

test('an upload URL is a presigned write-once PUT of the declared size and type to the quarantine key', async () => {
  const expiresAt = new Date(Date.now() + 900_000);
  const t = await store.uploadTarget(quarantineKey('acme', 'att_1'), { contentType: 'image/png', size: 1234, expiresAt });
  const u = new URL(t.url);
  assert.equal(u.origin, 'http://s3.test:9000');
  assert.equal(u.pathname, '/chorus-bucket/env1/quarantine/acme/att_1');
  assert.equal(u.searchParams.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
  assert.match(u.searchParams.get('X-Amz-Credential') ?? '', /^AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request$/);
  const expires = Number(u.searchParams.get('X-Amz-Expires'));
  assert.ok(expires > 890 && expires <= 900, String(expires));
  assert.deepEqual(u.searchParams.get('X-Amz-SignedHeaders')?.split(';').sort(), ['content-length', 'content-type', 'host', 'if-none-match']);
  assert.match(u.searchParams.get('X-Amz-Signature') ?? '', /^[0-9a-f]{64}$/);
  assert.ok(!u.searchParams.has('x-amz-sdk-checksum-algorithm'), 'no checksum header the client would have to send');
  assert.deepEqual(t.headers, { 'content-type': 'image/png', 'if-none-match': '*' });
  assert.equal(t.expiresAt, expiresAt.toISOString());
});

test('a download URL is a presigned GET of a clean key with the served type and name', async () => {
  const url = await store.downloadUrl(cleanKey('acme', sha), { contentType: 'image/png', filename: 'a b.png', expiresAt: new Date(Date.now() + 300_000) });
  const u = new URL(url);
  assert.equal(u.pathname, `/chorus-bucket/env1/clean/acme/${sha}`);
  assert.equal(u.searchParams.get('response-content-type'), 'image/png');
  assert.equal(u.searchParams.get('response-content-disposition'), `attachment; filename="a b.png"; filename*=UTF-8''a%20b.png`);
  assert.equal(u.searchParams.get('X-Amz-SignedHeaders'), 'host');
  assert.equal(u.searchParams.get('x-id'), 'GetObject');
});

test('quarantine is never presigned for download, clean never for upload', async () => {
  const expiresAt = new Date(Date.now() + 60_000);
  await assert.rejects(store.downloadUrl(quarantineKey('acme', 'att_1'), { contentType: 'image/png', expiresAt }), /never served/);
  await assert.rejects(store.uploadTarget(cleanKey('acme', sha), { contentType: 'image/png', size: 1, expiresAt }), /quarantine only/);
});

test('the same request signed twice differs only by time, and different keys sign differently', async () => {
  const expiresAt = new Date(Date.now() + 60_000);
  const a = new URL(await store.downloadUrl(cleanKey('acme', sha), { contentType: 'image/png', expiresAt }));
  const b = new URL(await store.downloadUrl(cleanKey('other', sha), { contentType: 'image/png', expiresAt }));
  assert.notEqual(a.searchParams.get('X-Amz-Signature'), b.searchParams.get('X-Amz-Signature'));
});
