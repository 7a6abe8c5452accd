// Client frames of contract section 3: parsed and validated here, before anything reaches Redis.
// Fields may sit at the top level or under `data` ({"type":"ack","seq":"…"} or {"type":"ack","data":{"seq":"…"}}).
import { parseSeq, type Seq } from '../../core/seq.js';
import { isId } from '../../core/ids.js';
import type { WsErrorCode } from '../../core/errors.js';

export type ClientFrame =
  | { type: 'ping' }
  | { type: 'ack'; seq: Seq }
  | { type: 'typing'; threadId: string }
  | { type: 'presence.heartbeat'; status: 'online' | 'away' | 'dnd' | 'offline' }
  | { type: 'presence.subscribe' | 'presence.unsubscribe'; threadIds: string[] };

export type FrameError = { code: Extract<WsErrorCode, 'invalid_json' | 'unknown_type' | 'invalid_request' | 'frame_too_large'>; message: string };

const STATUSES = new Set(['online', 'away', 'dnd', 'offline']);
const MAX_THREAD_IDS = 500;

export function parseClientFrame(text: string, maxBytes: number, byteLength: number): ClientFrame | FrameError {
  if (byteLength > maxBytes) return { code: 'frame_too_large', message: `frames are limited to ${maxBytes} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { code: 'invalid_json', message: 'frame is not valid JSON' };
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { code: 'invalid_request', message: 'frame must be a JSON object' };
  const o = raw as Record<string, unknown>;
  const d = (o['data'] && typeof o['data'] === 'object' ? o['data'] : o) as Record<string, unknown>;
  switch (o['type']) {
    case 'ping':
      return { type: 'ping' };
    case 'ack': {
      const seq = parseSeq(d['seq']);
      return seq ? { type: 'ack', seq } : { code: 'invalid_request', message: 'ack: seq must be a stream position' };
    }
    case 'typing':
      return isId(d['threadId']) ? { type: 'typing', threadId: d['threadId'] } : { code: 'invalid_request', message: 'typing: threadId is invalid' };
    case 'presence.heartbeat': {
      const status = d['status'] ?? 'online';
      return typeof status === 'string' && STATUSES.has(status)
        ? { type: 'presence.heartbeat', status: status as 'online' }
        : { code: 'invalid_request', message: 'presence.heartbeat: status must be online, away, dnd or offline' };
    }
    case 'presence.subscribe':
    case 'presence.unsubscribe': {
      const ids = d['threadIds'];
      if (!Array.isArray(ids) || ids.length > MAX_THREAD_IDS || !ids.every(isId)) {
        return { code: 'invalid_request', message: `${o['type']}: threadIds must be an array of at most ${MAX_THREAD_IDS} ids` };
      }
      return { type: o['type'], threadIds: ids as string[] };
    }
    default:
      return { code: 'unknown_type', message: `unknown frame type ${JSON.stringify(o['type'] ?? null).slice(0, 80)}` };
  }
}
