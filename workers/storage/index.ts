// Picks the object store from configuration (CHORUS_STORAGE=local|s3). The S3 SDK is loaded only
// when S3 is configured.
import type { Config } from '../../config/index.js';
import type { Readable } from 'node:stream';
import { ObjectMissingError, type ObjectKey, type ObjectStore } from './store.js';
import { LocalStore } from './local-store.js';

export type StorageConfig = Config['attachments']['storage'];

export async function createStore(c: StorageConfig): Promise<ObjectStore> {
  if (c.kind === 'local') return new LocalStore({ dir: c.localDir, publicUrl: c.publicUrl, urlSecret: c.urlSecret });
  const { S3Store } = await import('./s3-store.js');
  return new S3Store({ bucket: c.s3.bucket, region: c.s3.region, endpoint: c.s3.endpoint, forcePathStyle: c.s3.forcePathStyle, prefix: c.s3.prefix });
}

let cached: { spec: string; store: Promise<ObjectStore> } | undefined;

/** The store for `c`, created once per thread (worker tasks receive the configuration as data). */
export function storeFor(c: StorageConfig): Promise<ObjectStore> {
  const spec = JSON.stringify(c);
  if (cached?.spec !== spec) cached = { spec, store: createStore(c) };
  return cached.store;
}

/** Opens an object for a worker task, or says it is missing (a settled outcome, not an error). */
export async function openForTask(c: StorageConfig, key: ObjectKey): Promise<{ input: Readable } | { missing: string }> {
  const s = await storeFor(c);
  try {
    return { input: await s.open(key) };
  } catch (err) {
    if (err instanceof ObjectMissingError) return { missing: err.message };
    throw err;
  }
}
