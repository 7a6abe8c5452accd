// Piscina task of the scan pool (workers/pools.ts): streams one quarantined object to clamd over its
// unix socket (INSTREAM, with the `clamscan` package in clamdscan mode) and hashes the same bytes on
// the way, so the hash that deduplicates is the hash of what was scanned. Expected outcomes are
// returned, not thrown (errors lose their codes crossing the thread boundary).
import crypto from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import NodeClam from 'clamscan';
import { openForTask, type StorageConfig } from './storage/index.js';
import type { ObjectKey } from './storage/store.js';

export interface ScanTask {
  key: ObjectKey;
  storage: StorageConfig;
  socketPath: string;
  timeoutMs: number;
}

export type ScanResult =
  | { outcome: 'clean'; sha256: string; size: number }
  | { outcome: 'infected'; viruses: string[]; sha256: string; size: number }
  /** Over clamd's limits (AlertExceedsMax: Heuristics.Limits.Exceeded.*, or the stream limit): never clean. */
  | { outcome: 'too_large'; detail: string }
  | { outcome: 'missing'; detail: string }
  /** clamd unreachable or gone mid-scan: retry later; the attachment waits. */
  | { outcome: 'unavailable'; detail: string }
  /** clamd answered something that is no verdict. */
  | { outcome: 'error'; detail: string };

let scanner: { spec: string; clam: Promise<NodeClam> } | undefined;

function scannerFor(socketPath: string, timeoutMs: number): Promise<NodeClam> {
  const spec = `${socketPath}|${timeoutMs}`;
  if (scanner?.spec !== spec) {
    scanner = {
      spec,
      // bypassTest: no ping at init, so a clamd that is down fails the scan (retried), not the worker.
      // localFallback off: never fall back to spawning clamscan, which would load the database per file.
      clam: new NodeClam().init({
        clamdscan: { socket: socketPath, timeout: timeoutMs, localFallback: false, bypassTest: true, multiscan: false, active: true },
        clamscan: { active: false },
        preference: 'clamdscan',
      }),
    };
    scanner.clam.catch(() => { scanner = undefined; });
  }
  return scanner.clam;
}

class Hasher extends Transform {
  readonly hash = crypto.createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
}

const OUTAGE_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EACCES']);

export default async function scan(task: ScanTask): Promise<ScanResult> {
  const opened = await openForTask(task.storage, task.key);
  if ('missing' in opened) return { outcome: 'missing', detail: opened.missing };
  const { input } = opened;
  const hasher = new Hasher();
  input.on('error', (err) => hasher.destroy(err));
  input.pipe(hasher);
  try {
    const clam = await scannerFor(task.socketPath, task.timeoutMs);
    const r = await clam.scanStream(hasher);
    const sha256 = hasher.hash.digest('hex');
    if (r.isInfected === false) return { outcome: 'clean', sha256, size: hasher.size };
    if (r.isInfected === true) {
      const limits = r.viruses.filter((v) => v.startsWith('Heuristics.Limits.Exceeded'));
      if (limits.length && limits.length === r.viruses.length) return { outcome: 'too_large', detail: limits.join(', ') };
      return { outcome: 'infected', viruses: r.viruses, sha256, size: hasher.size };
    }
    return { outcome: 'error', detail: `no verdict from clamd: ${JSON.stringify(r.resultString ?? '')}` };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const message = String(e?.message ?? err);
    if (/size limit exceeded/i.test(message)) return { outcome: 'too_large', detail: message };
    if ((e?.code && OUTAGE_CODES.has(e.code)) || /timed out|Scan aborted|socket/i.test(message)) {
      return { outcome: 'unavailable', detail: message };
    }
    return { outcome: 'error', detail: message };
  } finally {
    input.destroy();
    hasher.destroy();
  }
}
