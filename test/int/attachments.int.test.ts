// The attachment pipeline end to end against the real servers: the gateway in-process, the three
// stages (scan, validate, thumbnail) as processor processes, the local clamd of the data dir (with
// the test signatures when /var/lib/clamav has no database) and sharp. Contract section 2
// (Attachments) and section 3 (attachment.ready / attachment.rejected).
import { after, before, test as nodeTest, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import sharp from 'sharp';
import { createLogger } from '../../core/logger.js';
import { EVENT } from '../../core/events/index.js';
import { keys } from '../../core/keys.js';
import { ZERO_SEQ } from '../../core/seq.js';
import { rangeAfter } from '../../core/stream-commands.js';
import { freePort, testConfig } from '../support/env.js';
import {
  assertError, createAuthenticator, migrateDb, startTestGateway, streamOf, testRedis, Tenant, type TestGateway,
} from '../support/api.js';
import { WsClient } from '../support/ws-client.js';
import {
  completeAttachment, createAttachment, eicar, getAttachment, peakRssMb, png, rawRequest, sha256, startPipeline, upload,
  waitForQuarantineDropped, waitForStatus, zip,
} from '../support/attachments.js';
import { signGrant } from '../../workers/storage/url-signing.js';
import { LocalStore } from '../../workers/storage/local-store.js';
import { objectKey, quarantineKey } from '../../workers/storage/store.js';
import { clamdAnswers, clamdBinary, startLocalClamd, stopLocalClamd } from '../../ops/local-clamd.js';
import type { RedisClient } from '../../core/redis.js';
import type { Authenticator } from '../../core/auth.js';

const port = await freePort();
const config = testConfig({ PORT: String(port) });
const log = createLogger({ role: 'test', level: 'warn' });
const storage = config.attachments.storage;
const local = new LocalStore({ dir: storage.localDir, publicUrl: storage.publicUrl, urlSecret: storage.urlSecret });
let gw: TestGateway;
let auth: Authenticator;
let redis: RedisClient;
let stages: Awaited<ReturnType<typeof startPipeline>>;

// Without ClamAV nothing can become ready (by design): say so instead of failing every test.
const skip = clamdBinary() || !config.attachments.clamd.local ? false : 'clamd is not installed (apt-get install clamav-daemon)';
const test = (name: string, fn: (t: TestContext) => Promise<void>) => nodeTest(name, { skip }, fn);

before(async () => {
  if (skip) return;
  await migrateDb(config);
  gw = await startTestGateway(config, { port });
  auth = await createAuthenticator(config);
  redis = testRedis(config);
  if (config.attachments.clamd.local && !(await clamdAnswers(config.attachments.clamd.socketPath))) await startLocalClamd(config, log);
  stages = await startPipeline({ CHORUS_DATA_DIR: config.dataDir, PORT: String(port) });
});

after(async () => {
  if (process.env['CHORUS_TEST_STAGE_LOGS']) {
    for (const [name, p] of Object.entries(stages ?? {})) {
      process.stderr.write(`--- ${name}\n${p.logs.filter((e) => Number(e['level'] ?? 50) >= 40).map((e) => e.raw).join('\n')}\n`);
    }
  }
  await Promise.all(Object.values(stages ?? {}).map(async (p) => {
    p.kill('SIGTERM');
    await p.exited;
  }));
  redis?.disconnect();
  await gw?.close();
});

async function tenant(prefix = 'att') {
  const t = new Tenant(gw.api, auth, prefix);
  return { t, alice: await t.user('alice'), bob: await t.user('bob'), carol: await t.user('carol') };
}

const settled = ['ready', 'rejected'];

test('a clean image becomes ready with a WebP thumbnail; the uploader hears attachment.ready; internal stages stay internal', async () => {
  const { t, alice } = await tenant();
  const { client: ws } = await WsClient.open(gw.wsUrl, { token: alice.token });
  try {
    const img = await png(1200, 800);
    const { id } = await upload(alice, img, { filename: 'photo 1.png', contentType: 'image/png' });
    const a = await waitForStatus(alice, id, settled);
    assert.equal(a.status, 'ready', JSON.stringify(a));
    assert.equal(a.sha256, sha256(img));
    assert.equal(a.size, img.length);
    assert.equal(a.filename, 'photo 1.png');
    assert.equal(a.contentType, 'image/png');
    assert.equal(a.rejectReason, undefined);
    assert.deepEqual([a.thumbnail.width, a.thumbnail.height], [320, 213]);

    const file = await rawRequest('GET', a.downloadUrl);
    assert.equal(file.status, 200);
    assert.ok(file.body.equals(img), 'the download is the uploaded bytes');
    assert.equal(file.headers['content-type'], 'image/png');
    assert.equal(file.headers['x-content-type-options'], 'nosniff');
    assert.match(String(file.headers['content-disposition']), /^attachment; filename="photo 1.png"; filename\*=UTF-8''photo%201.png$/);

    const thumb = await rawRequest('GET', a.thumbnail.url);
    assert.equal(thumb.status, 200);
    assert.equal(thumb.headers['content-type'], 'image/webp');
    const meta = await sharp(thumb.body).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 320, 213]);

    const frame = await ws.waitFor((f) => f.type === EVENT.attachmentReady && f.data.id === id, 5000, 'attachment.ready');
    assert.ok(frame.seq, 'attachment.ready comes from the stream');
    assert.equal(frame.data.status, 'ready');
    assert.equal(frame.data.sha256, a.sha256);
    assert.deepEqual(frame.data.thumbnail, { width: 320, height: 213 });

    // The internal stages run on the pipeline's own stream; the event stream carries only what clients see.
    const internal = await rangeAfter(redis, t.id, ZERO_SEQ, '+', 100, keys.attachmentWork);
    assert.deepEqual(internal.map((e) => e.type), [EVENT.attachmentUploaded, EVENT.attachmentScanned, EVENT.attachmentValidated]);
    for (const e of internal) assert.ok(!e.threadId && !e.users, `${e.type} is internal: no th, no u`);
    const events = (await streamOf(redis, t.id)).filter((e) => e.type.startsWith('attachment.'));
    assert.deepEqual(events.map((e) => e.type), [EVENT.attachmentReady]);
    assert.deepEqual(events[0]?.users, ['alice']);
    assert.ok(!ws.frames.some((f) => [EVENT.attachmentUploaded, EVENT.attachmentScanned, EVENT.attachmentValidated].includes(f.type as never)),
      'internal stages never reach a socket');
    await waitForQuarantineDropped(local, t.id, id); // the quarantined copy goes
  } finally {
    await ws.close();
  }
});

test('EICAR, plain and zipped, and a ClamAV test file are rejected as infected and never served', async () => {
  const { t, alice } = await tenant();
  const { client: ws } = await WsClient.open(gw.wsUrl, { token: alice.token });
  try {
    const files: [Buffer, string, string][] = [
      [eicar(), 'eicar.txt', 'text/plain'],
      [zip('eicar.com', eicar()), 'eicar.zip', 'application/zip'],
    ];
    if (fs.existsSync('/usr/share/clamav-testfiles/clam.zip')) {
      files.push([fs.readFileSync('/usr/share/clamav-testfiles/clam.zip'), 'clam.zip', 'application/zip']);
    }
    for (const [bytes, filename, contentType] of files) {
      const { id } = await upload(alice, bytes, { filename, contentType });
      const a = await waitForStatus(alice, id, settled);
      assert.equal(a.status, 'rejected', `${filename}: ${JSON.stringify(a)}`);
      assert.equal(a.rejectReason, 'infected', filename);
      assert.equal(a.downloadUrl, undefined);
      assert.equal(a.thumbnail, undefined);
      const frame = await ws.waitFor((f) => f.type === EVENT.attachmentRejected && f.data.id === id, 5000, 'attachment.rejected');
      assert.equal(frame.data.rejectReason, 'infected');
      await waitForQuarantineDropped(local, t.id, id); // rejected bytes are dropped
      // Even a correctly signed URL for its clean key finds nothing: infected bytes never get there.
      const url = await local.downloadUrl(objectKey('clean', t.id, sha256(bytes)), { contentType, expiresAt: new Date(Date.now() + 60_000) });
      assert.equal((await rawRequest('GET', url)).status, 404);
    }
  } finally {
    await ws.close();
  }
});

test('a PNG declared as a PDF is rejected type_mismatch; so is binary declared as text', async () => {
  const { alice } = await tenant();
  const img = await png(64, 64);
  const asPdf = await upload(alice, img, { filename: 'report.pdf', contentType: 'application/pdf' });
  const a = await waitForStatus(alice, asPdf.id, settled);
  assert.deepEqual([a.status, a.rejectReason], ['rejected', 'type_mismatch']);
  const asText = await upload(alice, Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe]), { filename: 'notes.txt', contentType: 'text/plain' });
  const b = await waitForStatus(alice, asText.id, settled);
  assert.deepEqual([b.status, b.rejectReason], ['rejected', 'type_mismatch']);
  const text = await upload(alice, Buffer.from('plain text, ünïcödé\n'), { filename: 'notes.txt', contentType: 'text/plain' });
  const c = await waitForStatus(alice, text.id, settled);
  assert.equal(c.status, 'ready', JSON.stringify(c));
  assert.equal(c.thumbnail, undefined, 'no thumbnail for text');
});

test('a 16k×16k pixel bomb is refused from its header: rejected, and the thumbnail worker stays within its memory bound', async (t) => {
  const { alice } = await tenant();
  const bomb = await sharp({ create: { width: 16384, height: 16384, channels: 3, background: '#000' }, limitInputPixels: false }).greyscale().png({ compressionLevel: 9 }).toBuffer();
  assert.ok(bomb.length < 2 * 1024 * 1024, `the bomb is small (${bomb.length} bytes)`);
  const { id } = await upload(alice, bomb, { filename: 'bomb.png', contentType: 'image/png' });
  const a = await waitForStatus(alice, id, settled, 60_000);
  assert.equal(a.status, 'rejected');
  assert.ok(['too_large', 'corrupt'].includes(a.rejectReason), a.rejectReason);
  assert.equal(a.rejectReason, 'too_large', 'over the pixel limit is too_large');
  // Decoding it would take 16384² bytes (256 MiB) at least; the whole process stayed far below.
  const peak = peakRssMb(stages['attachment-thumbnail'].proc.pid as number);
  t.diagnostic(`thumbnail process peak RSS ${peak.toFixed(0)} MiB (a decode would need ≥ 256 MiB more)`);
  assert.ok(peak < 256, `thumbnail process peak RSS ${peak.toFixed(0)} MiB`);
});

test('an animated GIF gets a still thumbnail of its first frame', async () => {
  const { alice } = await tenant();
  const frame = (background: string) => sharp({ create: { width: 100, height: 80, channels: 3, background } }).png().toBuffer();
  const gif = await sharp([await frame('#ff0000'), await frame('#0000ff')], { join: { animated: true } }).gif({ loop: 0, delay: [100, 100] }).toBuffer();
  assert.equal((await sharp(gif).metadata()).pages, 2);
  const { id } = await upload(alice, gif, { filename: 'anim.gif', contentType: 'image/gif' });
  const a = await waitForStatus(alice, id, settled);
  assert.equal(a.status, 'ready', JSON.stringify(a));
  assert.deepEqual([a.thumbnail.width, a.thumbnail.height], [100, 80], 'never enlarged');
  const thumb = (await rawRequest('GET', a.thumbnail.url)).body;
  const meta = await sharp(thumb).metadata();
  assert.equal(meta.pages ?? 1, 1, 'one frame');
  const { data } = await sharp(thumb).raw().toBuffer({ resolveWithObject: true });
  assert.ok((data[0] as number) > 200 && (data[2] as number) < 50, 'the first (red) frame');
});

test('a large upload streams to disk and back intact (backpressure both ways)', async () => {
  const { alice } = await tenant();
  const text = Buffer.from(crypto.randomBytes(9 * 1024 * 1024).toString('base64')); // 12 MiB of text
  const { id } = await upload(alice, text, { filename: 'big.txt', contentType: 'text/plain', sha256: sha256(text) });
  const a = await waitForStatus(alice, id, settled, 60_000);
  assert.equal(a.status, 'ready', JSON.stringify(a));
  const file = await rawRequest('GET', a.downloadUrl);
  assert.equal(file.status, 200);
  assert.equal(Number(file.headers['content-length']), text.length);
  assert.equal(sha256(file.body), sha256(text));
});

test('a truncated image is rejected corrupt', async () => {
  const { alice } = await tenant();
  const img = await png(600, 400, 3);
  const { id } = await upload(alice, img.subarray(0, Math.floor(img.length * 0.6)), { filename: 'cut.png', contentType: 'image/png' });
  const a = await waitForStatus(alice, id, settled);
  assert.deepEqual([a.status, a.rejectReason], ['rejected', 'corrupt']);
});

test('a declared sha256 that is not the bytes\' is rejected corrupt', async () => {
  const { alice } = await tenant();
  const img = await png(80, 80, 5);
  const { id } = await upload(alice, img, { filename: 'x.png', contentType: 'image/png', sha256: 'ab'.repeat(32) });
  const a = await waitForStatus(alice, id, settled);
  assert.deepEqual([a.status, a.rejectReason], ['rejected', 'corrupt']);
});

test('the same bytes uploaded again are stored once per tenant, after they were hashed: every create uploads; never across tenants', async () => {
  const { t, alice, bob } = await tenant();
  const img = await png(300, 200, 9);
  const digest = sha256(img);
  const first = await upload(alice, img, { filename: 'a.png', contentType: 'image/png', sha256: digest });
  const a = await waitForStatus(alice, first.id, settled);
  assert.equal(a.status, 'ready');

  const { client: ws } = await WsClient.open(gw.wsUrl, { token: bob.token });
  try {
    // A declared hash of stored bytes changes nothing: bob uploads, and only then do the copies share storage.
    const dup = await upload(bob, img, { filename: 'b.png', contentType: 'image/png', sha256: digest.toUpperCase() });
    assert.ok(dup.upload, 'an upload URL, as for any new file');
    const b = await waitForStatus(bob, dup.id, settled);
    assert.equal(b.status, 'ready');
    assert.equal(b.filename, 'b.png');
    assert.equal(b.sha256, digest);
    assert.deepEqual([b.thumbnail.width, b.thumbnail.height], [a.thumbnail.width, a.thumbnail.height]);
    assert.equal(new URL(b.downloadUrl).pathname, new URL(a.downloadUrl).pathname, 'one clean object');
    assert.ok((await rawRequest('GET', b.downloadUrl)).body.equals(img));
    await waitForQuarantineDropped(local, t.id, dup.id); // the duplicate bytes go
    await ws.waitFor((f) => f.type === EVENT.attachmentReady && f.data.id === dup.id, 5000, 'attachment.ready of the copy');
  } finally {
    await ws.close();
  }
  const other = await tenant('att2');
  const o = await waitForStatus(other.alice, (await upload(other.alice, img, { filename: 'a.png', contentType: 'image/png', sha256: digest })).id, settled);
  assert.equal(o.status, 'ready');
  assert.notEqual(new URL(o.downloadUrl).pathname, new URL(a.downloadUrl).pathname, 'another tenant never shares the object');
  assert.notEqual(t.id, other.t.id);
});

test('signed URLs: expired, tampered, other-tenant and method-swapped → 403; quarantine is never served', async () => {
  const { t, alice } = await tenant();
  const other = await tenant('att3');
  const img = await png(50, 50, 11);
  const c = await createAttachment(alice, { filename: 's.png', contentType: 'image/png', size: img.length });
  assert.equal(c.status, 201, c.text);
  const { id } = c.body.attachment;
  const put: string = c.body.upload.url;
  assert.equal(c.body.upload.method, 'PUT');
  assert.ok(Date.parse(c.body.upload.expiresAt) > Date.now());
  const swap = (u: string, f: (x: URL) => void) => { const x = new URL(u); f(x); return x.toString(); };

  const refused = async (method: string, url: string, body?: Buffer) => {
    const r = await rawRequest(method, url, body);
    assert.equal(r.status, 403, `${method} ${url}: ${r.status} ${r.body}`);
    assert.equal(r.json?.error?.code, 'forbidden');
  };
  await refused('GET', put); // method swapped
  await refused('PUT', swap(put, (x) => x.searchParams.set('n', String(img.length + 1))), img); // tampered size
  await refused('PUT', swap(put, (x) => x.searchParams.set('e', String(Number(x.searchParams.get('e')) + 3600))), img); // tampered expiry
  await refused('PUT', swap(put, (x) => { x.pathname = x.pathname.replace(`/${t.id}/`, `/${other.t.id}/`); }), img); // other tenant
  await refused('PUT', swap(put, (x) => { x.pathname = x.pathname.replace(id, `${id}x`); }), img); // other object
  await refused('PUT', swap(put, (x) => x.searchParams.delete('s')), img);
  const expired = `${storage.publicUrl}/objects/quarantine/${t.id}/${id}?${signGrant(storage.urlSecret, {
    method: 'PUT', key: quarantineKey(t.id, id), expiresAt: Math.floor(Date.now() / 1000) - 1, size: img.length,
  })}`;
  await refused('PUT', expired, img);
  // A correctly signed GET of a quarantined object is refused all the same.
  const quarantineGet = `${storage.publicUrl}/objects/quarantine/${t.id}/${id}?${signGrant(storage.urlSecret, {
    method: 'GET', key: quarantineKey(t.id, id), expiresAt: Math.floor(Date.now() / 1000) + 60, contentType: 'image/png',
  })}`;

  assert.equal((await rawRequest('PUT', put, img)).status, 200);
  await refused('GET', quarantineGet);
  assert.equal((await rawRequest('PUT', put, img)).status, 409, 'an upload URL writes once');
  const pending = (await getAttachment(alice, id)).body.attachment;
  assert.equal(pending.status, 'pending_upload');
  assert.equal(pending.downloadUrl, undefined, 'nothing unscanned has a download URL');

  assert.equal((await completeAttachment(alice, id)).status, 202);
  const a = await waitForStatus(alice, id, settled);
  assert.equal(a.status, 'ready');
  const get: string = a.downloadUrl;
  assert.equal((await rawRequest('GET', get)).status, 200);
  await refused('PUT', get, img); // method swapped
  await refused('GET', swap(get, (x) => x.searchParams.set('t', 'text/html'))); // tampered type
  await refused('GET', swap(get, (x) => x.searchParams.set('f', 'evil.html'))); // tampered name
  await refused('GET', swap(get, (x) => { x.pathname = x.pathname.replace(`/${t.id}/`, `/${other.t.id}/`); }));
  await refused('GET', swap(get, (x) => { x.pathname = x.pathname.replace('/clean/', '/quarantine/'); }));
  const expiredGet = `${storage.publicUrl}${new URL(get).pathname}?${signGrant(storage.urlSecret, {
    method: 'GET', key: objectKey('clean', t.id, a.sha256), expiresAt: Math.floor(Date.now() / 1000) - 1, contentType: 'image/png',
  })}`;
  await refused('GET', expiredGet);
});

test('upload limits: past the signed size → 413 (also streamed without a length), short → 400; nothing partial is kept', async () => {
  const { t, alice } = await tenant();
  const size = 256 * 1024;
  const c = await createAttachment(alice, { filename: 'big.bin.png', contentType: 'image/png', size });
  const url: string = c.body.upload.url;
  const over = await rawRequest('PUT', url, Buffer.alloc(size + 1));
  assert.equal(over.status, 413);
  assert.equal(over.json.error.code, 'payload_too_large');
  const streamed = await gw.api.request('PUT', url, { raw: Buffer.alloc(size * 4, 7), chunked: true, timeoutMs: 30_000 });
  assertError(streamed, 413, 'payload_too_large');
  const short = await rawRequest('PUT', url, Buffer.alloc(size - 1));
  assert.equal(short.status, 400);
  const dir = local.filePath(quarantineKey(t.id, c.body.attachment.id)).replace(/\/[^/]+$/, '');
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(fs.existsSync(dir) ? fs.readdirSync(dir) : [], [], 'no partial upload left in quarantine');
  assertError(await completeAttachment(alice, c.body.attachment.id), 409, 'conflict');
});

test('create and complete validate: type allow-list, size limit, names, hashes, tenant; complete is the uploader\'s, once', async () => {
  const { alice, bob } = await tenant();
  const ok = { filename: 'a.png', contentType: 'image/png', size: 10 };
  assertError(await createAttachment(alice, { ...ok, contentType: 'application/x-msdownload' }), 400, 'invalid_request');
  assertError(await createAttachment(alice, { ...ok, size: config.attachments.maxBytes + 1 }), 400, 'invalid_request');
  assertError(await createAttachment(alice, { ...ok, size: 0 }), 400, 'invalid_request');
  assertError(await createAttachment(alice, { ...ok, size: 1.5 }), 400, 'invalid_request');
  assertError(await createAttachment(alice, { ...ok, filename: '../etc/passwd' }), 400, 'invalid_request');
  assertError(await createAttachment(alice, { ...ok, filename: '' }), 400, 'invalid_request');
  assertError(await createAttachment(alice, { ...ok, sha256: 'xyz' }), 400, 'invalid_request');
  assertError(await alice.api.post('/api/attachments', alice.token, { ...ok, tenantId: 'someone-else' }), 403, 'tenant_mismatch');
  assertError(await alice.api.post('/api/attachments', undefined, ok), 401);
  const upper = await createAttachment(alice, { ...ok, contentType: 'IMAGE/PNG' });
  assert.equal(upper.status, 201, 'types compare case-insensitively');

  const img = await png(40, 40, 13);
  const c = await createAttachment(alice, { filename: 'c.png', contentType: 'image/png', size: img.length });
  const id = c.body.attachment.id;
  assert.equal(c.body.attachment.status, 'pending_upload');
  assertError(await completeAttachment(alice, id), 409, 'conflict'); // nothing uploaded yet
  assert.equal((await rawRequest('PUT', c.body.upload.url, img, c.body.upload.headers)).status, 200);
  assertError(await completeAttachment(bob, id), 403, 'forbidden');
  assertError(await completeAttachment(alice, 'att_nope'), 404, 'not_found');
  assertError(await completeAttachment(alice, 'bad id!'), 400, 'invalid_request');
  assert.equal((await completeAttachment(alice, id)).status, 202);
  assertError(await completeAttachment(alice, id), 409, 'conflict');
  assert.equal((await waitForStatus(alice, id, settled)).status, 'ready');
});

test('readers: the uploader, then participants of threads it was posted to; messages take ready attachments of the same tenant only', async () => {
  const { alice, bob, carol } = await tenant();
  const stranger = (await tenant('att4')).alice;
  const img = await png(90, 60, 17);
  const { id } = await upload(alice, img, { filename: 'r.png', contentType: 'image/png' });
  assert.equal((await waitForStatus(alice, id, settled)).status, 'ready');
  const pendingId = (await createAttachment(alice, { filename: 'p.png', contentType: 'image/png', size: 10 })).body.attachment.id;

  assertError(await getAttachment(bob, id), 403, 'forbidden');
  assertError(await getAttachment(stranger, id), 404, 'not_found');
  assertError(await getAttachment(alice, 'att_missing'), 404, 'not_found');

  const th = await alice.thread(['bob']);
  assertError(await alice.post({ threadId: th.id, body: 'pending', attachmentIds: [pendingId] }), 400, 'invalid_request');
  assertError(await alice.post({ threadId: th.id, body: 'unknown', attachmentIds: ['att_unknown'] }), 400, 'invalid_request');
  // Another tenant's user cannot even see the thread (404 before any attachment check).
  assertError(await stranger.post({ threadId: th.id, body: 'x', attachmentIds: [id] }), 404, 'not_found');
  const m = await alice.say(th.id, 'look', { attachmentIds: [id] });
  assert.deepEqual(m.attachmentIds, [id]);

  const seen = (await getAttachment(bob, id)).body.attachment;
  assert.equal(seen.status, 'ready');
  // Contract: "each `ready` and of the same tenant" — any participant may share it on.
  const shared = await bob.say(th.id, 'forwarding', { attachmentIds: [id] });
  assert.deepEqual(shared.attachmentIds, [id]);
  assert.ok((await rawRequest('GET', seen.downloadUrl)).body.equals(img));
  assertError(await getAttachment(carol, id), 403, 'forbidden');
  assert.equal((await bob.removeParticipant(th.id, 'bob')).status, 204);
  assertError(await getAttachment(bob, id), 403, 'forbidden');
});

test('clamd down: the attachment waits in scanning and is never released; it completes when clamd is back', async (t) => {
  if (!config.attachments.clamd.local) return t.skip('clamd is external (CHORUS_CLAMD_SOCKET): not ours to stop');
  const { alice } = await tenant();
  assert.ok(await stopLocalClamd(config, log), 'a local clamd was running');
  try {
    const img = await png(120, 90, 19);
    const { id } = await upload(alice, img, { filename: 'wait.png', contentType: 'image/png' });
    await new Promise((r) => setTimeout(r, 3000));
    const waiting = (await getAttachment(alice, id)).body.attachment;
    assert.ok(['uploaded', 'scanning'].includes(waiting.status), `still waiting: ${waiting.status}`);
    assert.equal(waiting.downloadUrl, undefined);
    await startLocalClamd(config, log);
    const a = await waitForStatus(alice, id, settled, 60_000);
    assert.equal(a.status, 'ready');
  } finally {
    if (!(await clamdAnswers(config.attachments.clamd.socketPath))) await startLocalClamd(config, log);
  }
});
