// The two worker pools of the attachment pipeline, each created on first use in the process of its
// stage: scanning (I/O to clamd, a few threads) and thumbnails (CPU and memory: few threads, each
// with V8 resource limits, plus sharp's own pixel limit in the task).
import { Piscina } from 'piscina';
import type { Config } from '../config/index.js';
import type { ObjectKey } from './storage/store.js';
import type { ScanResult, ScanTask } from './scan-worker.js';
import type { ThumbnailResult, ThumbnailTask } from './thumbnail-worker.js';

type Attachments = Config['attachments'];

export interface Pool<R> {
  run(key: ObjectKey): Promise<R>;
  close(): Promise<void>;
}

export function createScanPool(c: Attachments): Pool<ScanResult> {
  const pool = new Piscina<ScanTask, ScanResult>({
    filename: new URL('./scan-worker.js', import.meta.url).href,
    name: 'default',
    minThreads: 0,
    maxThreads: c.scanThreads,
    idleTimeout: 60_000,
  });
  return {
    run: (key) => pool.run({ key, storage: c.storage, socketPath: c.clamd.socketPath, timeoutMs: c.clamd.timeoutMs }),
    close: () => pool.close(),
  };
}

export function createThumbnailPool(c: Attachments): Pool<ThumbnailResult> {
  const pool = new Piscina<ThumbnailTask, ThumbnailResult>({
    filename: new URL('./thumbnail-worker.js', import.meta.url).href,
    name: 'default',
    minThreads: 0,
    maxThreads: c.thumbnails.threads,
    idleTimeout: 30_000,
    resourceLimits: {
      maxOldGenerationSizeMb: c.thumbnails.heapMb,
      maxYoungGenerationSizeMb: 16,
      codeRangeSizeMb: 16,
      stackSizeMb: 4,
    },
  });
  return {
    async run(key) {
      try {
        return await pool.run({ key, storage: c.storage, maxPixels: c.thumbnails.maxPixels, size: c.thumbnails.size });
      } catch (err) {
        // A thread over its heap limit is terminated by V8: the input was too much, not worth a retry.
        if ((err as { code?: string })?.code === 'ERR_WORKER_OUT_OF_MEMORY') return { outcome: 'too_large', detail: 'worker memory limit exceeded' };
        throw err;
      }
    },
    close: () => pool.close(),
  };
}
