// The local store's signed object URLs (workers/storage/url-signing.ts), on raw uWS because bodies
// stream: PUT /objects/quarantine/<tenant>/<name> writes the body to disk as it arrives (paused
// while the disk catches up, cut off with 413 the moment it passes the signed size, hashed on the
// way), GET /objects/clean/<tenant>/<name> streams a clean file with backpressure. A URL that is
// expired, tampered with, for another object or tenant, or used with another method → 403.
// An upload URL works only while its attachment awaits its bytes (else 409 upload_closed, nothing
// stored). Quarantine is never served, whatever the URL; a clean object is served as the type the
// pipeline verified, never as what the URL asks for, and inline only as a raster image.
// The router's rules hold here too: request data is copied before any await, onAborted comes
// first, and every write after an await is corked. A paused socket is always resumed before the
// answer, or the connection would never read its next request (keep-alive).
import fs from 'node:fs';
import http from 'node:http';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { RouteContext } from './context.js';
import { httpError, isDependencyError, type HttpErrorCode } from '../../core/errors.js';
import { countHttp } from '../../core/metrics.js';
import { verifyGrant } from '../../workers/storage/url-signing.js';
import { isObjectKey, keyPath, servedDisposition, type ObjectKey } from '../../workers/storage/store.js';
import { ObjectExistsError, type LocalStore, type LocalUpload } from '../../workers/storage/local-store.js';

interface Exchange {
  res: HttpResponse;
  route: string;
  method: string;
  started: bigint;
  aborted: boolean;
  done: boolean;
  /** The socket is paused (res.pause): no more request bytes are read until it is resumed. */
  paused: boolean;
}

/** What the object routes need to know of attachments; gateway/routes/attachments.ts builds it from their records. */
export interface ObjectPolicy {
  /** Whether the attachment behind a quarantine key still awaits its bytes, so that its upload URL may be used. */
  acceptsUpload(key: ObjectKey): Promise<boolean>;
  /** The type the pipeline verified for a clean object (image/webp for a thumbnail); null when no ready attachment holds it. */
  verifiedType(key: ObjectKey): Promise<string | null>;
}

function statusLine(status: number): string {
  return `${status} ${http.STATUS_CODES[status] ?? ''}`;
}

function observe(x: Exchange, status: number): void {
  countHttp(x.route, x.method, status, Number(process.hrtime.bigint() - x.started) / 1e9, undefined);
}

/** A JSON answer; `close` when the rest of a request body may still be on its way. */
function answer(x: Exchange, status: number, body: string, close = false, headers: Record<string, string> = {}): void {
  if (x.aborted || x.done) return;
  x.done = true;
  observe(x, status);
  x.res.cork(() => {
    // A connection kept open must read again: without this, the next request on it would hang.
    if (x.paused && !close) {
      x.paused = false;
      x.res.resume();
    }
    x.res.writeStatus(statusLine(status)).writeHeader('content-type', 'application/json');
    for (const [k, v] of Object.entries(headers)) x.res.writeHeader(k, v);
    x.res.end(body, close);
  });
}

function pause(x: Exchange): void {
  if (x.paused || x.aborted || x.done) return;
  x.paused = true;
  x.res.pause();
}

function resume(x: Exchange): void {
  if (!x.paused || x.aborted || x.done) return;
  x.paused = false;
  x.res.cork(() => x.res.resume());
}

/** An error answer, its status and headers (Retry-After) from the catalog. */
function refuse(x: Exchange, code: HttpErrorCode, message: string, close = false): void {
  const e = httpError(code, message);
  answer(x, e.status, JSON.stringify(e.body), close, e.headers);
}

/** A storage failure: 503 with Retry-After when the store is unavailable (disk, S3), else 500. */
function storageFailed(x: Exchange, err: unknown, message: string, close = false): void {
  if (isDependencyError(err)) refuse(x, 'dependency_unavailable', `${message}: storage unavailable, retry later`, close);
  else refuse(x, 'internal', message, close);
}

function begin(res: HttpResponse, req: HttpRequest, route: string, method: string): { x: Exchange; key: Partial<ObjectKey>; query: URLSearchParams } {
  const x: Exchange = { res, route, method, started: process.hrtime.bigint(), aborted: false, done: false, paused: false };
  const key = { area: req.getParameter(0) as ObjectKey['area'], tenantId: req.getParameter(1), name: req.getParameter(2) };
  return { x, key, query: new URLSearchParams(req.getQuery() ?? '') };
}

export function objectRoutes(app: TemplatedApp, store: LocalStore, policy: ObjectPolicy, ctx: RouteContext): void {
  const secret = ctx.config.attachments.storage.urlSecret;
  const log = ctx.log.child({ component: 'objects' });
  const now = () => Math.floor(Date.now() / 1000);

  app.put('/objects/:area/:tenant/:name', (res, req) => {
    const { x, key, query } = begin(res, req, 'objects_put', 'PUT');
    const declaredLength = req.getHeader('content-length');
    let upload: LocalUpload | undefined;
    let failed = false;
    const drop = () => {
      failed = true;
      upload?.abort().catch((err) => log.warn({ err, key }, 'could not remove a partial upload'));
    };
    res.onAborted(() => {
      x.aborted = true;
      drop();
    });
    const check = isObjectKey(key) ? verifyGrant(secret, 'PUT', key, query, now()) : null;
    if (!check?.ok || check.grant.size === undefined || key.area !== 'quarantine') {
      // A forged, expired or foreign-tenant URL: a security event, always logged (never its signature).
      log.warn({ route: x.route, area: key?.area, tenant_id: key?.tenantId, reason: check && !check.ok ? check.reason : 'not_an_upload_url', security: 'signed_url_refused' }, 'signed URL refused');
      refuse(x, 'forbidden', `upload URL refused: ${check && !check.ok ? check.reason.replace('_', ' ') : 'not an upload URL'}`, true);
      return;
    }
    const objKey = key as ObjectKey;
    const size = check.grant.size;
    if (declaredLength && Number(declaredLength) > size) {
      refuse(x, 'payload_too_large', `this URL accepts exactly ${size} bytes`, true);
      return;
    }
    const pending: Buffer[] = [];
    let received = 0;
    let ended = false;
    // An answer given before the whole body was read closes the connection: the rest is still coming.
    const closeUnlessRead = () => !ended;
    const closed = () => refuse(x, 'upload_closed', 'this attachment no longer awaits an upload: create a new attachment', closeUnlessRead());

    const finish = async (u: LocalUpload) => {
      if (received !== size) {
        drop();
        refuse(x, 'invalid_request', `the body has ${received} bytes; this URL accepts exactly ${size}`);
        return;
      }
      try {
        const info = await u.commit();
        if (!(await policy.acceptsUpload(objKey))) {
          // Settled while this body arrived (a concurrent PUT was completed and processed): keep nothing.
          await store.remove(objKey);
          closed();
          return;
        }
        answer(x, 200, JSON.stringify({ size: info.size, sha256: info.sha256 }));
      } catch (err) {
        if (err instanceof ObjectExistsError) refuse(x, 'conflict', 'this object was uploaded already');
        else {
          log.error({ err, key: keyPath(objKey) }, 'upload failed');
          storageFailed(x, err, 'upload failed');
        }
      }
    };

    res.onData((ab, isLast) => {
      if (failed || x.done) return;
      const chunk = Buffer.from(new Uint8Array(ab)); // uWS reuses the chunk's memory: copy it
      received += chunk.length;
      if (received > size) {
        // The hard limit: nothing past the signed size is written, and the connection is closed.
        drop();
        refuse(x, 'payload_too_large', `this URL accepts exactly ${size} bytes`, true);
        return;
      }
      ended = isLast;
      if (!upload) {
        pending.push(chunk); // the file is still opening; the socket is paused meanwhile
        return;
      }
      if (!upload.write(chunk)) {
        pause(x);
        void upload.drained().then(() => resume(x));
      }
      if (isLast) void finish(upload);
    });
    pause(x);

    policy.acceptsUpload(objKey).then(async (open) => {
      if (!open) {
        failed = true;
        closed();
        return;
      }
      const u = await store.beginUpload(objKey);
      if (failed || x.aborted) {
        u.abort().catch((err) => log.warn({ err, key: keyPath(objKey) }, 'could not remove a partial upload'));
        return;
      }
      upload = u;
      for (const c of pending.splice(0)) u.write(c);
      if (ended) void finish(u);
      else resume(x);
    }).catch((err: unknown) => {
      failed = true;
      if (err instanceof ObjectExistsError) refuse(x, 'conflict', 'this object was uploaded already', closeUnlessRead());
      else {
        log.error({ err, key: keyPath(objKey) }, 'cannot store an upload');
        storageFailed(x, err, 'cannot store the upload', closeUnlessRead());
      }
    });
  });

  app.get('/objects/:area/:tenant/:name', (res, req) => {
    const { x, key, query } = begin(res, req, 'objects_get', 'GET');
    let stream: fs.ReadStream | undefined;
    res.onAborted(() => {
      x.aborted = true;
      stream?.destroy();
    });
    const check = isObjectKey(key) ? verifyGrant(secret, 'GET', key, query, now()) : null;
    // Quarantine is refused even with a valid signature: the signer never makes one, and this is the backstop.
    if (!check?.ok || key.area !== 'clean' || !check.grant.contentType) {
      log.warn({ route: x.route, area: key?.area, tenant_id: key?.tenantId, reason: check && !check.ok ? check.reason : 'not_a_download_url', security: 'signed_url_refused' }, 'signed URL refused');
      refuse(x, 'forbidden', `download URL refused: ${check && !check.ok ? check.reason.replace('_', ' ') : 'not a download URL'}`);
      return;
    }
    const grant = check.grant;
    const objKey = key as ObjectKey;
    const serve = async () => {
      const contentType = await policy.verifiedType(objKey);
      if (!contentType) {
        refuse(x, 'not_found', 'no such object');
        return;
      }
      // The signer asks for the verified type; another one means a forged or stale URL, served safely all the same.
      if (contentType !== grant.contentType) log.warn({ key: keyPath(objKey), asked: grant.contentType, served: contentType }, 'download URL asks for another type');
      const fh = await fs.promises.open(store.filePath(objKey), 'r').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      if (!fh) {
        refuse(x, 'not_found', 'no such object');
        return;
      }
      const { size } = await fh.stat();
      const headers: [string, string][] = [
        ['content-type', contentType],
        ['content-disposition', servedDisposition(contentType, grant.filename, grant.inline)],
        ['x-content-type-options', 'nosniff'],
        ['content-security-policy', "default-src 'none'; sandbox"],
        ['cache-control', `private, max-age=${Math.max(0, grant.expiresAt - now())}`],
      ];
      if (x.aborted) {
        await fh.close();
        return;
      }
      stream = fh.createReadStream({ highWaterMark: 64 * 1024 });
      streamFile(x, stream, size, headers);
    };
    serve().catch((err: unknown) => {
      log.error({ err, key: keyPath(objKey) }, 'cannot serve an object');
      storageFailed(x, err, 'cannot read the object');
    });
  });
}

/** Streams a file with uWS backpressure (tryEnd + onWritable), the pattern of uWS' file examples; the caller's onAborted destroys the stream. */
function streamFile(x: Exchange, stream: fs.ReadStream, size: number, headers: [string, string][]): void {
  const { res } = x;
  let headersSent = false;
  let stuck: { ab: ArrayBuffer; offset: number } | undefined;
  const send = (ab: ArrayBuffer): [boolean, boolean] => {
    let result: [boolean, boolean] = [false, false];
    res.cork(() => {
      if (!headersSent) {
        res.writeStatus('200 OK');
        for (const [k, v] of headers) res.writeHeader(k, v);
        headersSent = true;
      }
      result = res.tryEnd(ab, size);
    });
    return result;
  };
  stream.on('error', (err) => {
    stream.destroy();
    if (!headersSent) storageFailed(x, err, 'cannot read the object');
    else if (!x.aborted && !x.done) {
      x.done = true;
      res.cork(() => res.close());
    }
  });
  stream.on('data', (chunk) => {
    if (x.aborted || x.done) return;
    const buf = chunk as Buffer;
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
    const offset = res.getWriteOffset();
    const [ok, finished] = send(ab);
    if (finished) {
      x.done = true;
      observe(x, 200);
      stream.destroy();
    } else if (!ok) {
      stream.pause();
      stuck = { ab, offset };
      res.onWritable((at) => {
        if (!stuck) return true;
        let r: [boolean, boolean] = [false, false];
        const rest = stuck.ab.slice(at - stuck.offset);
        res.cork(() => { r = res.tryEnd(rest, size); });
        if (r[1]) {
          x.done = true;
          observe(x, 200);
          stream.destroy();
        } else if (r[0]) {
          stuck = undefined;
          stream.resume();
        }
        return r[0];
      });
    }
  });
}
