// Piscina task of the thumbnail pool (workers/pools.ts): one WebP thumbnail with sharp. The pool's
// threads run with V8 heap limits; libvips memory is bounded by refusing inputs over `maxPixels`
// from the header alone (a decompression bomb is never decoded), one libvips thread per task, no
// operation cache, and sequential reads. Animated inputs give their first frame.
import sharp from 'sharp';
import { openForTask, type StorageConfig } from './storage/index.js';
import type { ObjectKey } from './storage/store.js';

sharp.concurrency(1);
sharp.cache(false);

export interface ThumbnailTask {
  key: ObjectKey;
  storage: StorageConfig;
  /** Inputs with more pixels (width × height, from the header) are refused: too_large. */
  maxPixels: number;
  /** The thumbnail fits in size × size. */
  size: number;
}

export type ThumbnailResult =
  | { outcome: 'ok'; webp: Uint8Array; width: number; height: number }
  | { outcome: 'too_large' | 'corrupt' | 'missing'; detail: string };


export default async function thumbnail(task: ThumbnailTask): Promise<ThumbnailResult> {
  const opened = await openForTask(task.storage, task.key);
  if ('missing' in opened) return { outcome: 'missing', detail: opened.missing };
  const { input } = opened;
  const transform = sharp({
    limitInputPixels: task.maxPixels,
    // Truncated or damaged data is an error, not a half-grey picture.
    failOn: 'warning',
    sequentialRead: true,
    animated: false,
  })
    .rotate() // EXIF orientation; the WebP carries no metadata (no location leaks through thumbnails)
    .resize(task.size, task.size, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 75, effort: 2 });
  input.on('error', (err) => transform.destroy(err));
  input.pipe(transform);
  try {
    const { data, info } = await transform.toBuffer({ resolveWithObject: true });
    return { outcome: 'ok', webp: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (err) {
    const message = String((err as Error)?.message ?? err);
    if (/pixel limit/i.test(message)) return { outcome: 'too_large', detail: message };
    return { outcome: 'corrupt', detail: message };
  } finally {
    input.destroy();
  }
}
