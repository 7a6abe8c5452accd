// The local filesystem store: <dir>/quarantine/<tenant>/<name> and <dir>/clean/<tenant>/<name>.
// The gateway serves it (gateway/routes/objects.ts) through URLs signed by url-signing.ts. An
// upload streams into a temporary file and is committed with link(2), which fails when the object
// exists: a quarantined object is written once, so the bytes scanned are the bytes promoted.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { signGrant } from './url-signing.js';
import {
  keyPath, ObjectMissingError, type DownloadOptions, type ObjectInfo, type ObjectKey, type ObjectStore,
  type UploadTarget,
} from './store.js';

export interface LocalStoreOptions {
  /** Root directory (CHORUS_DATA_DIR/objects by default). */
  dir: string;
  /** Base of the URLs handed to clients, e.g. http://127.0.0.1:8080. */
  publicUrl: string;
  /** HMAC secret of the signed URLs. */
  urlSecret: string;
}

/** The upload's object already exists (uploads are write-once). */
export class ObjectExistsError extends Error {}

/** One PUT being received: bytes go to a temporary file and are hashed on the way. */
export interface LocalUpload {
  /** Queues a chunk; false means wait for `drained()` before writing more. */
  write(chunk: Buffer): boolean;
  drained(): Promise<void>;
  /** Ends the file, flushes it to disk and makes it the object. Rejects with ObjectExistsError. */
  commit(): Promise<ObjectInfo>;
  /** Drops the temporary file. */
  abort(): Promise<void>;
}

interface Meta {
  size: number;
  sha256: string;
}

export class LocalStore implements ObjectStore {
  readonly kind = 'local' as const;
  constructor(private readonly o: LocalStoreOptions) {}

  /** The file of an object. Only this store and the gateway's object routes touch it. */
  filePath(key: ObjectKey): string {
    return path.join(this.o.dir, key.area, key.tenantId, key.name);
  }

  private metaPath(key: ObjectKey): string {
    return `${this.filePath(key)}.meta`;
  }

  private url(key: ObjectKey, query: string): string {
    return `${this.o.publicUrl.replace(/\/+$/, '')}/objects/${keyPath(key)}?${query}`;
  }

  async uploadTarget(key: ObjectKey, o: { contentType: string; size: number; expiresAt: Date }): Promise<UploadTarget> {
    if (key.area !== 'quarantine') throw new Error('uploads go to quarantine only');
    const query = signGrant(this.o.urlSecret, { method: 'PUT', key, expiresAt: Math.floor(o.expiresAt.getTime() / 1000), size: o.size });
    return { url: this.url(key, query), headers: { 'content-type': o.contentType }, expiresAt: o.expiresAt.toISOString() };
  }

  async downloadUrl(key: ObjectKey, o: DownloadOptions): Promise<string> {
    if (key.area !== 'clean') throw new Error('quarantined objects are never served');
    return this.url(key, signGrant(this.o.urlSecret, {
      method: 'GET', key, expiresAt: Math.floor(o.expiresAt.getTime() / 1000), contentType: o.contentType,
      ...(o.filename !== undefined ? { filename: o.filename } : {}), ...(o.inline ? { inline: true } : {}),
    }));
  }

  async stat(key: ObjectKey): Promise<ObjectInfo | null> {
    let size: number;
    try {
      size = (await fsp.stat(this.filePath(key))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      const meta = JSON.parse(await fsp.readFile(this.metaPath(key), 'utf8')) as Meta;
      return meta.size === size ? { size, sha256: meta.sha256 } : { size };
    } catch (err) {
      // A crash between the commit and the meta file loses only the early hash: the scan computes it.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { size };
      throw err;
    }
  }

  async open(key: ObjectKey): Promise<Readable> {
    const handle = await fsp.open(this.filePath(key), 'r').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new ObjectMissingError(key) : err;
    });
    return handle.createReadStream({ highWaterMark: 256 * 1024 });
  }

  async put(key: ObjectKey, body: Buffer): Promise<void> {
    const file = this.filePath(key);
    await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${path.dirname(file)}/.${key.name}.${crypto.randomBytes(6).toString('hex')}.tmp`;
    await fsp.writeFile(tmp, body, { mode: 0o600, flush: true });
    await fsp.rename(tmp, file);
  }

  async promote(from: ObjectKey, to: ObjectKey): Promise<void> {
    if (from.area !== 'quarantine' || to.area !== 'clean') throw new Error('promote moves quarantine → clean');
    const target = this.filePath(to);
    await fsp.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    try {
      // A hard link: no copy, and the clean file cannot change when the quarantine name goes away.
      await fsp.link(this.filePath(from), target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return; // same bytes already clean (dedupe)
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        if (fs.existsSync(target)) return; // promoted before, quarantine copy removed since
        throw new ObjectMissingError(from);
      }
      throw err;
    }
  }

  async remove(key: ObjectKey): Promise<void> {
    await Promise.all([fsp.rm(this.filePath(key), { force: true }), fsp.rm(this.metaPath(key), { force: true })]);
  }

  /** Starts receiving an upload into a quarantine key (the gateway's PUT route). */
  async beginUpload(key: ObjectKey): Promise<LocalUpload> {
    if (key.area !== 'quarantine') throw new Error('uploads go to quarantine only');
    const file = this.filePath(key);
    const dir = path.dirname(file);
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    if (fs.existsSync(file)) throw new ObjectExistsError(`object ${keyPath(key)} exists`);
    const tmp = `${dir}/.${key.name}.${crypto.randomBytes(6).toString('hex')}.part`;
    const out = fs.createWriteStream(tmp, { mode: 0o600, flush: true, highWaterMark: 1024 * 1024 });
    const hash = crypto.createHash('sha256');
    let size = 0;
    let failure: Error | undefined;
    out.on('error', (err) => { failure = err; });
    const metaPath = this.metaPath(key);
    return {
      write(chunk) {
        hash.update(chunk);
        size += chunk.length;
        return out.write(chunk);
      },
      drained: () => new Promise((resolve) => (out.writableNeedDrain ? out.once('drain', resolve) : resolve())),
      async commit() {
        await new Promise<void>((resolve, reject) => {
          if (failure) return reject(failure);
          out.once('error', reject);
          out.end(() => resolve());
        });
        const info: Meta = { size, sha256: hash.digest('hex') };
        try {
          await fsp.link(tmp, file);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(`object ${keyPath(key)} exists`);
          throw err;
        } finally {
          await fsp.rm(tmp, { force: true });
        }
        await fsp.writeFile(`${metaPath}.tmp`, JSON.stringify(info), { mode: 0o600 });
        await fsp.rename(`${metaPath}.tmp`, metaPath);
        return info;
      },
      async abort() {
        out.destroy();
        await fsp.rm(tmp, { force: true });
      },
    };
  }
}
