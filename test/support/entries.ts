// Stream entries for tests of decoding and of the folds: built the way XADD stores them and
// XREADGROUP returns them, from a payload of any shape (invalid ones included), then decoded like
// the runner decodes them.
import { decodeEntry, decodeEvent, isStreamEventType, versionOf, type DecodedEvent, type Routing, type StreamEvent } from '../../core/events/index.js';
import type { Seq } from '../../core/seq.js';

/** The raw entry; `v` defaults to the type's current version (0 for a type outside the catalog). */
export function rawEntry(seq: Seq | string, type: string, data: unknown, routing: Routing = {}, v?: number): StreamEvent {
  const version = v ?? (isStreamEventType(type) ? versionOf(type) : 0);
  const f = ['t', type, 'v', String(version), 'd', typeof data === 'string' ? data : JSON.stringify(data)];
  if (routing.threadId) f.push('th', routing.threadId);
  if (routing.users?.length) f.push('u', routing.users.join(','));
  if (routing.actor) f.push('a', routing.actor);
  if (routing.traceId) f.push('tr', routing.traceId);
  return decodeEntry(seq, f);
}

/** The same entry decoded (throws InvalidEventError like the runner's decode would). */
export function decodedEntry(seq: Seq | string, type: string, data: unknown, routing: Routing = {}, v?: number): DecodedEvent {
  return decodeEvent(rawEntry(seq, type, data, routing, v));
}
