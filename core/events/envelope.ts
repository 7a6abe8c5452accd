// The stream entry around a payload, as the write path stores it. Field names are short because
// they are stored per entry:
//   t  event type          v  the type's schema version   d  JSON payload (without seq/createdAt,
//   th thread id (routing to thread participants)            which come from the entry id)
//   u  comma-separated user ids (routing to users)   a  actor user id
//   tr the write's W3C `traceparent` while tracing is on (the active span's context: the append
//      span of a request, the batch span of a processor), else a bare trace id (and in older entries)
// The gateway fans entries out without parsing `d`; processors decode it once (catalog.ts).
import type { Seq } from '../seq.js';
import { seqMillis } from '../seq.js';
import { activeTraceparent } from '../tracing/index.js';

/** One entry of a stream, payload still JSON. */
export interface StreamEvent {
  seq: Seq;
  type: string;
  /** The payload's schema version (0 when the entry has no `v`). */
  v: number;
  data: string;
  threadId?: string;
  users?: string[];
  actor?: string;
  /** The trace id of the write (from `tr`, whichever of its two forms). */
  traceId?: string;
  /** The W3C context of the write, when `tr` holds one: processors and fanout continue its trace. */
  traceparent?: string;
}

/** The routing fields an event is appended with. */
export interface Routing {
  threadId?: string;
  users?: string[];
  actor?: string;
  traceId?: string;
}

/** Flat field list for XADD; `dataJson` is the payload already serialized. */
export function entryFields(type: string, version: number, dataJson: string, r: Routing): string[] {
  const f = ['t', type, 'v', String(version), 'd', dataJson];
  if (r.threadId) f.push('th', r.threadId);
  if (r.users && r.users.length) f.push('u', r.users.join(','));
  if (r.actor) f.push('a', r.actor);
  const tr = activeTraceparent() ?? r.traceId;
  if (tr) f.push('tr', tr);
  return f;
}

/** Parses one XRANGE/XREAD entry `[id, [k, v, k, v…]]` (the payload stays JSON). */
export function decodeEntry(id: string, fields: string[]): StreamEvent {
  const e: StreamEvent = { seq: id as Seq, type: '', v: 0, data: '{}' };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const k = fields[i];
    const val = fields[i + 1] as string;
    switch (k) {
      case 't': e.type = val; break;
      case 'v': e.v = Number(val); break;
      case 'd': e.data = val; break;
      case 'th': e.threadId = val; break;
      case 'u': e.users = val.split(','); break;
      case 'a': e.actor = val; break;
      case 'tr':
        // `00-<trace id>-<span id>-<flags>`, or a bare trace id (tracing off, older entries).
        if (val.length === 55 && val[2] === '-') {
          e.traceparent = val;
          e.traceId = val.slice(3, 35);
        } else e.traceId = val;
        break;
    }
  }
  return e;
}

/** A message's createdAt: the time of its entry id. */
export function createdAtOf(seq: Seq): string {
  return new Date(seqMillis(seq)).toISOString();
}
