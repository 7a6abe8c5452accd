// Websocket frames made from stream entries without parsing their payload where it can be avoided:
// this runs once per event (and per recipient) on the gateway's fanout hot path.
import { seqMillis } from '../seq.js';
import { createdAtOf, type StreamEvent } from './envelope.js';
import { EVENT } from './names.js';

/**
 * The public payload of an event: message events carry the message object with `seq` and `createdAt`
 * (derived from the entry id) added; every other event carries its data as written.
 */
export function publicData(e: StreamEvent): string {
  if (e.type === EVENT.messageCreated) {
    // Splice instead of parse+stringify: this runs once per event on the fanout hot path.
    const head = `{"seq":"${e.seq}","createdAt":"${createdAtOf(e.seq)}"`;
    return e.data === '{}' ? `${head}}` : `${head},${e.data.slice(1)}`;
  }
  return e.data;
}

/**
 * Events that carry per-recipient fields (e.g. inbox.updated's unread counts) store them under
 * `perUser: {userId: {...}}` in one entry for all recipients; each recipient's frame merges its own.
 */
export function hasPerUser(e: StreamEvent): boolean {
  return e.data.includes('"perUser"');
}

/**
 * The payload of a per-user event split once for all its recipients: the shared fields serialized
 * once, each recipient's own fields spliced in (a recipient's own field wins over a shared one of
 * the same name, as JSON parsers keep the last). One parse per event, not one per recipient.
 */
export function personalizer(e: StreamEvent): (userId: string) => string {
  const d = JSON.parse(e.data) as Record<string, unknown> & { perUser?: Record<string, Record<string, unknown>> };
  const per = d.perUser ?? {};
  delete d.perUser;
  const base = JSON.stringify(d);
  const open = base === '{}' ? '{' : `${base.slice(0, -1)},`;
  return (userId) => {
    const own = Object.hasOwn(per, userId) ? per[userId] : undefined;
    if (!own) return base;
    const fields = JSON.stringify(own);
    return fields === '{}' ? base : open + fields.slice(1);
  };
}

/** One recipient's payload of a per-user event (personalizer, for a single recipient). */
export function personalData(e: StreamEvent, userId: string): string {
  return personalizer(e)(userId);
}

/** A complete websocket frame for a stream event: `{"type","seq","ts","data"}`. */
export function streamFrame(type: string, e: StreamEvent, data: string = publicData(e)): string {
  return `{"type":"${type}","seq":"${e.seq}","ts":${seqMillis(e.seq)},"data":${data}}`;
}

/** A websocket frame that does not come from the stream (no seq). */
export function controlFrame(type: string, data: unknown): string {
  return JSON.stringify({ type, ts: Date.now(), data });
}
