// Security regressions of attachments and the local store's signed object URLs (issue #13), against
// the real servers: the gateway in-process, the three pipeline stages as processor processes, the
// data dir's clamd. Each test names the finding it guards.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../core/logger.js';
import { freePort, testConfig } from '../support/env.js';
import { assertError, createAuthenticator, migrateDb, startTestGateway, Tenant, type Reply, type TestGateway } from '../support/api.js';
import {
  completeAttachment, createAttachment, getAttachment, png, rawRequest, sha256, startPipeline, upload,
  waitForQuarantineDropped, waitForStatus,
} from '../support/attachments.js';
import { RawConnection } from '../support/raw-http.js';
import { signGrant } from '../../workers/storage/url-signing.js';
import { LocalStore } from '../../workers/storage/local-store.js';
import { cleanKey, quarantineKey } from '../../workers/storage/store.js';
import { clamdAnswers, startLocalClamd } from '../../ops/local-clamd.js';
import type { Authenticator } from '../../core/auth.js';

const port = await freePort();
const config = testConfig({ PORT: String(port) });
const log = createLogger({ role: 'test', level: 'warn' });
const storage = config.attachments.storage;
const local = new LocalStore({ dir: storage.localDir, publicUrl: storage.publicUrl, urlSecret: storage.urlSecret });
let gw: TestGateway;
let auth: Authenticator;
let stages: Awaited<ReturnType<typeof startPipeline>>;

before(async () => {
  await migrateDb(config);
  gw = await startTestGateway(config, { port });
  auth = await createAuthenticator(config);
  if (config.attachments.clamd.local && !(await clamdAnswers(config.attachments.clamd.socketPath))) await startLocalClamd(config, log);
  stages = await startPipeline({ CHORUS_DATA_DIR: config.dataDir, PORT: String(port) });
});

after(async () => {
  await Promise.all(Object.values(stages ?? {}).map(async (p) => {
    p.kill('SIGTERM');
    await p.exited;
  }));
  await gw?.close();
});

async function tenant(prefix = 'sec') {
  const t = new Tenant(gw.api, auth, prefix);
  return { t, alice: await t.user('alice'), bob: await t.user('bob') };
}

const settled = ['ready', 'rejected'];

/** A create answer with its per-attachment values (id, URL, expiry) replaced by their types. */
function shape(r: Reply): unknown {
  const { attachment, upload: u, ...rest } = r.body;
  return {
    status: r.status, rest,
    attachment: { ...attachment, id: typeof attachment.id },
    upload: u && { ...u, url: typeof u.url, expiresAt: typeof u.expiresAt },
  };
}

test('dedupe: declaring a stored file\'s sha256, size and type grants no copy of it and reveals nothing', async () => {
  const { alice, bob } = await tenant();
  const secret = Buffer.from('salary review 2026: bob 51k, carol 64k\n'.repeat(8));
  const digest = sha256(secret);
  const { id: aliceId } = await upload(alice, secret, { filename: 'salaries.txt', contentType: 'text/plain', sha256: digest });
  assert.equal((await waitForStatus(alice, aliceId, settled)).status, 'ready');

  const declared = { filename: 'mine.txt', contentType: 'text/plain', size: secret.length };
  const claim = await createAttachment(bob, { ...declared, sha256: digest });
  const nobodys = await createAttachment(bob, { ...declared, sha256: sha256(Buffer.from('bytes nobody ever stored')) });
  assert.equal(claim.status, 201, claim.text);
  assert.deepEqual(shape(claim), shape(nobodys), 'the answer is the same whether or not the tenant holds the file');
  assert.equal(claim.body.attachment.status, 'pending_upload');
  assert.equal(claim.body.upload.method, 'PUT');
  assert.deepEqual(Object.keys(claim.headers).sort(), Object.keys(nobodys.headers).sort());

  const id: string = claim.body.attachment.id;
  const seen = (await getAttachment(bob, id)).body.attachment;
  assert.equal(seen.status, 'pending_upload');
  assert.equal(seen.downloadUrl, undefined, 'no download URL without the bytes');
  assertError(await completeAttachment(bob, id), 409, 'conflict');
  const th = await bob.thread(['alice']);
  assertError(await bob.post({ threadId: th.id, body: 'look', attachmentIds: [id] }), 400, 'invalid_request');
  assertError(await getAttachment(bob, aliceId), 403, 'forbidden');

  // Other bytes under the declared hash: the server hashes what arrived, and the claim fails.
  const put = await rawRequest('PUT', claim.body.upload.url, Buffer.alloc(secret.length, 'x'), claim.body.upload.headers);
  assert.equal(put.status, 200);
  assert.notEqual(put.json.sha256, digest);
  assert.equal((await completeAttachment(bob, id)).status, 202);
  const end = await waitForStatus(bob, id, settled);
  assert.deepEqual([end.status, end.rejectReason, end.downloadUrl], ['rejected', 'corrupt', undefined]);
});

test('dedupe: a participant removed from a thread cannot get its attachment back by declaring the checksum', async () => {
  const { t, bob } = await tenant();
  const alice = await t.user('alice', { admin: true }); // an admin, who may remove others
  const img = await png(64, 48, 21);
  const { id } = await upload(alice, img, { filename: 'plan.png', contentType: 'image/png' });
  assert.equal((await waitForStatus(alice, id, settled)).status, 'ready');
  const th = await alice.thread(['bob']);
  await alice.say(th.id, 'the plan', { attachmentIds: [id] });
  const seen = (await getAttachment(bob, id)).body.attachment;
  assert.ok(seen.downloadUrl, 'a participant reads it');

  assert.equal((await alice.removeParticipant(th.id, 'bob')).status, 204);
  assertError(await getAttachment(bob, id), 403, 'forbidden');
  const claim = await createAttachment(bob, { filename: 'plan.png', contentType: 'image/png', size: img.length, sha256: seen.sha256 });
  assert.equal(claim.status, 201, claim.text);
  assert.equal(claim.body.attachment.status, 'pending_upload');
  assert.ok(claim.body.upload, 'bob has to upload the bytes himself');
  const copy = (await getAttachment(bob, claim.body.attachment.id)).body.attachment;
  assert.equal(copy.downloadUrl, undefined);
  assert.equal(copy.thumbnail, undefined);
  const own = await bob.thread([]);
  assertError(await bob.post({ threadId: own.id, body: 'mine now', attachmentIds: [claim.body.attachment.id] }), 400, 'invalid_request');
});

test('dedupe: the same bytes uploaded by two users are stored once, and each reads only their own attachment', async () => {
  const { t, alice, bob } = await tenant();
  const img = await png(120, 80, 23);
  const digest = sha256(img);
  const a = await upload(alice, img, { filename: 'a.png', contentType: 'image/png', sha256: digest });
  const ra = await waitForStatus(alice, a.id, settled);
  const b = await upload(bob, img, { filename: 'b.png', contentType: 'image/png', sha256: digest });
  const rb = await waitForStatus(bob, b.id, settled);
  assert.deepEqual([ra.status, rb.status], ['ready', 'ready']);
  assert.equal(rb.filename, 'b.png');
  assert.equal(new URL(rb.downloadUrl).pathname, new URL(ra.downloadUrl).pathname, 'one clean object');
  assert.deepEqual([rb.thumbnail.width, rb.thumbnail.height], [ra.thumbnail.width, ra.thumbnail.height]);
  const clean = path.dirname(local.filePath(cleanKey(t.id, digest)));
  assert.deepEqual(fs.readdirSync(clean).sort(), [digest, `${digest}.thumb.webp`], 'the duplicate bytes were dropped');
  for (const id of [a.id, b.id]) await waitForQuarantineDropped(local, t.id, id);

  assert.ok((await rawRequest('GET', ra.downloadUrl)).body.equals(img));
  assert.ok((await rawRequest('GET', rb.downloadUrl)).body.equals(img));
  assertError(await getAttachment(alice, b.id), 403, 'forbidden');
  assertError(await getAttachment(bob, a.id), 403, 'forbidden');
});

test('keep-alive: two small uploads and a GET on one connection, each body in the packet of its headers, all answered', async () => {
  const { alice } = await tenant();
  const files = [Buffer.from('first small upload, about a hundred bytes long, sent with its headers in one write\n'),
    Buffer.from('second small upload on the same kept-alive connection: it used to hang until reset\n')];
  const targets = await Promise.all(files.map(async (f, i) => {
    const c = await createAttachment(alice, { filename: `k${i}.txt`, contentType: 'text/plain', size: f.length });
    assert.equal(c.status, 201, c.text);
    return c.body.upload;
  }));
  const conn = await RawConnection.open(config.host, gw.port);
  try {
    for (const [i, f] of files.entries()) {
      const u = new URL(targets[i].url);
      const r = await conn.request('PUT', `${u.pathname}${u.search}`, targets[i].headers, f);
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(JSON.parse(r.body.toString()).sha256, sha256(f));
    }
    const health = await conn.request('GET', '/healthz');
    assert.equal(health.status, 200);
  } finally {
    conn.close();
  }
});

test('an upload URL whose attachment no longer awaits its bytes answers 409 upload_closed and stores nothing', async () => {
  const { t, alice } = await tenant();
  const text = Buffer.from('settled once, never again\n');
  const c = await createAttachment(alice, { filename: 'once.txt', contentType: 'text/plain', size: text.length });
  const { id } = c.body.attachment;
  assert.equal((await rawRequest('PUT', c.body.upload.url, text, c.body.upload.headers)).status, 200);
  assert.equal((await completeAttachment(alice, id)).status, 202);
  assert.equal((await waitForStatus(alice, id, settled)).status, 'ready');
  await waitForQuarantineDropped(local, t.id, id);

  const again = await rawRequest('PUT', c.body.upload.url, Buffer.from('orphan bytes, unscanned....\n').subarray(0, text.length), c.body.upload.headers);
  assert.equal(again.status, 409, again.body.toString());
  assert.equal(again.json.error.code, 'upload_closed');
  assert.equal(fs.existsSync(local.filePath(quarantineKey(t.id, id))), false, 'nothing was stored in quarantine');
  const quarantine = path.dirname(local.filePath(quarantineKey(t.id, id)));
  assert.deepEqual(fs.existsSync(quarantine) ? fs.readdirSync(quarantine) : [], [], 'no partial file either');

  // A rejected attachment's URL is closed as well.
  const bin = Buffer.from([0, 1, 2, 3, 0, 5, 6, 7]);
  const r = await createAttachment(alice, { filename: 'bin.txt', contentType: 'text/plain', size: bin.length });
  assert.equal((await rawRequest('PUT', r.body.upload.url, bin, r.body.upload.headers)).status, 200);
  assert.equal((await completeAttachment(alice, r.body.attachment.id)).status, 202);
  assert.equal((await waitForStatus(alice, r.body.attachment.id, settled)).rejectReason, 'type_mismatch');
  const late = await rawRequest('PUT', r.body.upload.url, bin, r.body.upload.headers);
  assert.deepEqual([late.status, late.json?.error?.code], [409, 'upload_closed']);
});

test('downloads: served as the verified type, nosniff, sandboxed, and as an attachment unless a raster image asked inline, even through a forged URL', async () => {
  const { t, alice } = await tenant();
  const page = Buffer.from('<!doctype html><html><body><script>fetch("/api/inbox")</script></body></html>\n');
  const { id } = await upload(alice, page, { filename: 'page.txt', contentType: 'text/plain' });
  const a = await waitForStatus(alice, id, settled);
  assert.equal(a.status, 'ready', JSON.stringify(a));

  const expectSafe = (r: Awaited<ReturnType<typeof rawRequest>>, type: string) => {
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], type);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.match(String(r.headers['content-security-policy']), /\bsandbox\b/);
  };
  const normal = await rawRequest('GET', a.downloadUrl);
  expectSafe(normal, 'text/plain');
  assert.match(String(normal.headers['content-disposition']), /^attachment; filename="page.txt"/);

  // A URL signed with the store's secret but asking for HTML, inline, under an .html name.
  const forgedFor = (name: string, contentType: string) => `${storage.publicUrl}/objects/clean/${t.id}/${name}?${signGrant(storage.urlSecret, {
    method: 'GET', key: cleanKey(t.id, name), expiresAt: Math.floor(Date.now() / 1000) + 60, contentType, filename: 'x.html', inline: true,
  })}`;
  const forged = await rawRequest('GET', forgedFor(a.sha256, 'text/html'));
  expectSafe(forged, 'text/plain');
  assert.match(String(forged.headers['content-disposition']), /^attachment; /, 'never inline unless a raster image');
  assert.ok(forged.body.equals(page));

  // Thumbnails stay inline images; an object no ready attachment holds is not served at all.
  const img = await png(40, 30, 29);
  const pic = await waitForStatus(alice, (await upload(alice, img, { filename: 'p.png', contentType: 'image/png' })).id, settled);
  const thumb = await rawRequest('GET', pic.thumbnail.url);
  expectSafe(thumb, 'image/webp');
  assert.equal(thumb.headers['content-disposition'], 'inline');
  const asPage = await rawRequest('GET', forgedFor(pic.sha256, 'text/html'));
  expectSafe(asPage, 'image/png');
  const unknown = await rawRequest('GET', forgedFor('0'.repeat(64), 'text/html'));
  assert.deepEqual([unknown.status, unknown.json?.error?.code], [404, 'not_found']);
});
