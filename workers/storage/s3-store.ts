// The S3 store (AWS S3 or any S3-compatible service): quarantine/ and clean/ are prefixes of one
// bucket; clients upload and download with presigned URLs and never see the bucket otherwise.
// Uploads are presigned with Content-Length and `If-None-Match: *`: exactly the declared size, and
// write-once (a second PUT to the same key fails), like the local store. The bucket must not allow
// public reads; only clean keys are ever presigned for GET.
import type { Readable } from 'node:stream';
import {
  CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  keyPath, ObjectMissingError, servedDisposition, type DownloadOptions, type ObjectInfo, type ObjectKey, type ObjectStore,
  type UploadTarget,
} from './store.js';

export interface S3StoreOptions {
  bucket: string;
  region: string;
  /** For S3-compatible services (MinIO, Ceph, R2…); unset for AWS. */
  endpoint?: string;
  forcePathStyle: boolean;
  /** Prepended to every key, e.g. `chorus/`. */
  prefix: string;
  /** Explicit credentials (tests); otherwise the SDK's default chain (env, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

function expiresIn(at: Date): number {
  return Math.max(1, Math.floor((at.getTime() - Date.now()) / 1000));
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

export class S3Store implements ObjectStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;

  constructor(private readonly o: S3StoreOptions) {
    this.client = new S3Client({
      region: o.region,
      endpoint: o.endpoint,
      forcePathStyle: o.forcePathStyle,
      credentials: o.credentials,
      // No SDK-added checksum headers in presigned URLs: clients send only what `headers` lists.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private key(k: ObjectKey): string {
    return `${this.o.prefix}${keyPath(k)}`;
  }

  async uploadTarget(key: ObjectKey, o: { contentType: string; size: number; expiresAt: Date }): Promise<UploadTarget> {
    if (key.area !== 'quarantine') throw new Error('uploads go to quarantine only');
    const cmd = new PutObjectCommand({
      Bucket: this.o.bucket, Key: this.key(key), ContentType: o.contentType, ContentLength: o.size, IfNoneMatch: '*',
    });
    const url = await getSignedUrl(this.client, cmd, {
      expiresIn: expiresIn(o.expiresAt),
      signableHeaders: new Set(['content-type', 'content-length', 'if-none-match']),
    });
    return { url, headers: { 'content-type': o.contentType, 'if-none-match': '*' }, expiresAt: o.expiresAt.toISOString() };
  }

  async downloadUrl(key: ObjectKey, o: DownloadOptions): Promise<string> {
    if (key.area !== 'clean') throw new Error('quarantined objects are never served');
    const cmd = new GetObjectCommand({
      Bucket: this.o.bucket, Key: this.key(key),
      ResponseContentType: o.contentType,
      ResponseContentDisposition: servedDisposition(o.contentType, o.filename, o.inline),
    });
    return getSignedUrl(this.client, cmd, { expiresIn: expiresIn(o.expiresAt) });
  }

  async stat(key: ObjectKey): Promise<ObjectInfo | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key: this.key(key) }));
      return { size: Number(head.ContentLength ?? 0) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async open(key: ObjectKey): Promise<Readable> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: this.key(key) }));
      return res.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) throw new ObjectMissingError(key);
      throw err;
    }
  }

  async put(key: ObjectKey, body: Buffer, contentType: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: this.key(key), Body: body, ContentType: contentType }));
  }

  async promote(from: ObjectKey, to: ObjectKey): Promise<void> {
    if (from.area !== 'quarantine' || to.area !== 'clean') throw new Error('promote moves quarantine → clean');
    if (await this.stat(to)) return; // same bytes already clean (content-addressed)
    try {
      await this.client.send(new CopyObjectCommand({
        Bucket: this.o.bucket, Key: this.key(to), CopySource: `${this.o.bucket}/${encodeURIComponent(this.key(from))}`,
      }));
    } catch (err) {
      if (isNotFound(err)) throw new ObjectMissingError(from);
      throw err;
    }
  }

  async remove(key: ObjectKey): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: this.key(key) }));
  }
}
