// What the attachment stages share inside one processor process, built on first use from the
// configuration the runner hands the stage: the object store and the worker pools (a pool exists
// only in the process of the stage that uses it).
import type { Config } from '../../config/index.js';
import { createStore } from '../storage/index.js';
import type { ObjectStore } from '../storage/store.js';
import { createScanPool, createThumbnailPool, type Pool } from '../pools.js';
import type { ScanResult } from '../scan-worker.js';
import type { ThumbnailResult } from '../thumbnail-worker.js';

export interface Pipeline {
  config: Config['attachments'];
  store: ObjectStore;
  scanPool(): Pool<ScanResult>;
  thumbnailPool(): Pool<ThumbnailResult>;
}

let current: Promise<Pipeline> | undefined;

/** The process's pipeline; built from the first caller's configuration (one configuration per process). */
export function pipeline(config: Config['attachments']): Promise<Pipeline> {
  current ??= (async () => {
    const store = await createStore(config.storage);
    let scan: Pool<ScanResult> | undefined;
    let thumbs: Pool<ThumbnailResult> | undefined;
    return {
      config,
      store,
      scanPool: () => (scan ??= createScanPool(config)),
      thumbnailPool: () => (thumbs ??= createThumbnailPool(config)),
    };
  })();
  current.catch(() => { current = undefined; }); // a failed start is retried by the next batch
  return current;
}

/**
 * clamd cannot be reached. The code makes core's isDependencyError() treat it as an outage: the
 * runner retries the entry with backoff for as long as it takes and never dead-letters it, so the
 * attachment waits in `scanning` and is never released unscanned.
 */
export class ScannerUnavailableError extends Error {
  readonly code = 'ECONNREFUSED';
}
