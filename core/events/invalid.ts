// The one error of an entry that can never be decoded, and the field readers the payload decoders
// are written with. Such an entry fails the same way on every delivery: the processor runner
// dead-letters it at once with the reason, instead of redelivering it through claim cycles.
import { isSeq, type Seq } from '../seq.js';

export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
  /** The short why, e.g. `id must be a non-empty string`; the message adds the entry's type and seq. */
  readonly reason: string;

  constructor(entry: { type: string; seq: string }, reason: string) {
    super(`${entry.type || '(no type)'} ${entry.seq}: ${reason}`);
    this.reason = reason;
  }
}

/** A payload as parsed, before its decoder checked it. */
export type Payload = Record<string, unknown>;

/** What a decoder knows of the entry: enough to name it in an error and to complete older shapes. */
export interface EntryRef {
  type: string;
  seq: Seq;
  threadId?: string;
  users?: string[];
  actor?: string;
}

export function fail(e: EntryRef, why: string): never {
  throw new InvalidEventError(e, why);
}

export function str(e: EntryRef, d: Payload, k: string): string {
  const v = d[k];
  if (typeof v !== 'string' || v === '') fail(e, `${k} must be a non-empty string`);
  return v;
}

/** A string field that may be absent or null (normalized to null). */
export function optStr(e: EntryRef, d: Payload, k: string): string | null {
  const v = d[k];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') fail(e, `${k} must be a string`);
  return v;
}

/** A list of strings; absent or null reads as empty (older shapes left empty lists out). */
export function strList(e: EntryRef, d: Payload, k: string): string[] {
  const v = d[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(e, `${k} must be an array of strings`);
  for (const x of v) if (typeof x !== 'string') fail(e, `${k} must be an array of strings`);
  return v as string[];
}

const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;

export function iso(e: EntryRef, d: Payload, k: string): string {
  const v = d[k];
  if (typeof v !== 'string' || !ISO_RE.test(v) || Number.isNaN(Date.parse(v))) fail(e, `${k} must be an ISO timestamp`);
  return v;
}

export function seqField(e: EntryRef, d: Payload, k: string): Seq {
  const v = d[k];
  if (!isSeq(v)) fail(e, `${k} must be a stream id`);
  return v;
}

/** Fills a missing string field from the envelope (older shapes routed by it instead of repeating it). */
export function fillFrom(d: Payload, k: string, fallback: string | undefined): void {
  if ((d[k] === undefined || d[k] === null) && fallback !== undefined) d[k] = fallback;
}
