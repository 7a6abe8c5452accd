// Picks the object store from configuration (CHORUS_STORAGE=local|s3). The S3 SDK is loaded only
// when S3 is configured.
import type { Config } from '../../config/index.js';
import type { ObjectStore } from './store.js';
import { LocalStore } from './local-store.js';

export type StorageConfig = Config['attachments']['storage'];

export async function createStore(c: StorageConfig): Promise<ObjectStore> {
  if (c.kind === 'local') return new LocalStore({ dir: c.localDir, publicUrl: c.publicUrl, urlSecret: c.urlSecret });
  const { S3Store } = await import('./s3-store.js');
  return new S3Store({ bucket: c.s3.bucket, region: c.s3.region, endpoint: c.s3.endpoint, forcePathStyle: c.s3.forcePathStyle, prefix: c.s3.prefix });
}
