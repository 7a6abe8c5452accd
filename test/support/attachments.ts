// Attachment side of the integration tests: files made in the test (images with sharp, EICAR, a zip
// archive), the upload dance (create → PUT → complete), waiting for a status, and the three pipeline
// stages as real processor processes.
import http from 'node:http';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import fs from 'node:fs';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { waitFor, type Reply, type User } from './api.js';
import { quarantineKey } from '../../workers/storage/store.js';
import type { LocalStore } from '../../workers/storage/local-store.js';
import { spawnRole, type RoleProcess } from './env.js';

export const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** A PNG of w×h with some structure (so it does not compress to nothing). */
export async function png(w: number, h: number, seed = 1): Promise<Buffer> {
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 31 + seed * 97 + ((i / (w * 3)) | 0) * 7) & 0xff;
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

/** The EICAR test string, assembled at run time so that this source is not a test virus itself. */
export function eicar(): Buffer {
  return Buffer.from('WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCo=', 'base64');
}

/** A zip archive with one deflated entry (local header, data, central directory, end record). */
export function zip(name: string, data: Buffer): Buffer {
  const packed = zlib.deflateRawSync(data);
  const crc = zlib.crc32(data);
  const fname = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(0, 6); local.writeUInt16LE(8, 8);
  local.writeUInt32LE(0, 10); local.writeUInt32LE(crc, 14); local.writeUInt32LE(packed.length, 18);
  local.writeUInt32LE(data.length, 22); local.writeUInt16LE(fname.length, 26); local.writeUInt16LE(0, 28);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt16LE(0, 8);
  central.writeUInt16LE(8, 10); central.writeUInt32LE(0, 12); central.writeUInt32LE(crc, 16); central.writeUInt32LE(packed.length, 20);
  central.writeUInt32LE(data.length, 24); central.writeUInt16LE(fname.length, 28); central.writeUInt32LE(0, 30);
  central.writeUInt32LE(0, 34); central.writeUInt32LE(0, 38); central.writeUInt32LE(0, 42);
  const centralOffset = local.length + fname.length + packed.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(0, 4); end.writeUInt16LE(0, 6); end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10); end.writeUInt32LE(central.length + fname.length, 12); end.writeUInt32LE(centralOffset, 16); end.writeUInt16LE(0, 20);
  return Buffer.concat([local, fname, packed, central, fname, end]);
}

export interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json?: any;
}

/** Any method on an absolute URL (signed object URLs), the body sent as is. */
export function rawRequest(method: string, url: string, body?: Buffer, headers: Record<string, string> = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        let json: any;
        if (/json/.test(String(res.headers['content-type'] ?? '')) && b.length) json = JSON.parse(b.toString('utf8'));
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, json });
      });
    });
    // The server may answer (403, 413) and close before the whole body was written: the reply wins.
    req.on('error', (err) => reject(err));
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${url}: no answer`)));
    req.end(body);
  });
}

export interface Declared {
  filename: string;
  contentType: string;
  size?: number;
  sha256?: string;
}

export function createAttachment(u: User, d: Declared & { size: number }): Promise<Reply> {
  return u.api.post('/api/attachments', u.token, d);
}

export function getAttachment(u: User, id: string): Promise<Reply> {
  return u.api.get(`/api/attachments/${encodeURIComponent(id)}`, u.token);
}

export function completeAttachment(u: User, id: string): Promise<Reply> {
  return u.api.post(`/api/attachments/${encodeURIComponent(id)}/complete`, u.token);
}

/** create → PUT → complete; returns the attachment id and the create answer's upload. */
export async function upload(u: User, bytes: Buffer, d: Declared): Promise<{ id: string; upload: any }> {
  const c = await createAttachment(u, { ...d, size: d.size ?? bytes.length });
  assert.equal(c.status, 201, c.text);
  const { id } = c.body.attachment;
  assert.ok(c.body.upload, 'every attachment is uploaded (no dedupe on a declared hash)');
  const put = await rawRequest('PUT', c.body.upload.url, bytes, c.body.upload.headers);
  assert.equal(put.status, 200, put.body.toString());
  const done = await completeAttachment(u, id);
  assert.equal(done.status, 202, done.text);
  return { id, upload: c.body.upload };
}

/** Polls GET /api/attachments/:id until its status is one of `statuses`. */
export async function waitForStatus(u: User, id: string, statuses: string[], timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: Reply | undefined;
  for (;;) {
    last = await getAttachment(u, id);
    if (last.status === 200 && statuses.includes(last.body.attachment.status)) return last.body.attachment;
    if (Date.now() > deadline) throw new Error(`attachment ${id} did not reach ${statuses.join('|')} in ${timeoutMs} ms: ${last.status} ${last.text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until a settled attachment's quarantined copy is gone: the pipeline drops it right after it
 * records the final status and tells the uploader, so it may still be there a moment after either.
 */
export async function waitForQuarantineDropped(store: LocalStore, tenantId: string, id: string): Promise<void> {
  await waitFor(`quarantine/${tenantId}/${id} to be dropped`, async () => !fs.existsSync(store.filePath(quarantineKey(tenantId, id))), 10_000);
}

export const STAGES = ['attachment-scan', 'attachment-validate', 'attachment-thumbnail'] as const;

/** The three stages as processor processes of this test's environment; resolves once all started. */
export async function startPipeline(env: NodeJS.ProcessEnv): Promise<Record<(typeof STAGES)[number], RoleProcess>> {
  const procs = Object.fromEntries(STAGES.map((g) => [g, spawnRole(['processors/main', g, '--consumers', '1'], { LOG_LEVEL: 'info', ...env })])) as
    Record<(typeof STAGES)[number], RoleProcess>;
  await Promise.all(Object.values(procs).map((p) => p.waitForLog((e) => e['msg'] === 'processor group started', 20_000)));
  return procs;
}

/** Peak resident memory (VmHWM) of a process, in MiB. */
export function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
