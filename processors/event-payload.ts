// Reading a stream event's payload in a processor: parse it once and read typed fields, failing
// with InvalidEventError — an entry no retry can fix, which the runner leaves to the dead letters.
import { EVENT_VERSION, type StreamEvent } from '../core/events.js';

/** An entry the processor can never apply: retrying will not help, it belongs in the dead letters. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
}

export type Payload = Record<string, unknown>;

export function fail(e: StreamEvent, why: string): never {
  throw new InvalidEventError(`${e.type} ${e.seq}: ${why}`);
}

/** The payload object; `checkVersion` refuses schema versions this code does not know. */
export function parsePayload(e: StreamEvent, opts: { checkVersion?: boolean } = {}): Payload {
  let d: unknown;
  try {
    d = JSON.parse(e.data);
  } catch {
    fail(e, 'payload is not JSON');
  }
  if (!d || typeof d !== 'object' || Array.isArray(d)) fail(e, 'payload is not an object');
  if (opts.checkVersion && e.v !== EVENT_VERSION) fail(e, `unsupported schema version ${e.v}`);
  return d as Payload;
}

export function str(e: StreamEvent, d: Payload, k: string, fallback?: string): string {
  const v = d[k] ?? fallback;
  if (typeof v !== 'string' || v === '') fail(e, `${k} must be a non-empty string`);
  return v;
}
