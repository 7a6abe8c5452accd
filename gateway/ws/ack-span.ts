// The last hop of the critical path (tracing on only): a client's `ack` frame for an entry this
// gateway fanned out becomes a `client ack` span, child of that entry's fanout span and starting
// when the fanout did, so its duration is the time from the frame being queued to the client saying
// it has it. The fanout contexts of recent entries are kept in a bounded map (oldest dropped first);
// an ack for an entry no longer in it makes no span. Tracing off: nothing is kept, acks cost one test.
import { trace, type Context } from '@opentelemetry/api';
import { SpanKind, startSpan, tracingOn } from '../../core/tracing/index.js';

/** Fanned-out entries remembered for their acks (a few seconds of traffic on a busy gateway). */
const LIMIT = 10_000;
const fanouts = new Map<string, { ctx: Context; at: number }>();

/** Remembers the fanout span of an entry (call with the span's context, right after starting it). */
export function rememberFanout(tenantId: string, seq: string, ctx: Context): void {
  const key = `${tenantId}/${seq}`;
  if (fanouts.size >= LIMIT) fanouts.delete(fanouts.keys().next().value as string);
  fanouts.set(key, { ctx, at: Date.now() });
}

/** A client acknowledged `seq`: its span, when the entry's fanout is remembered. */
export function recordAck(tenantId: string, userId: string, seq: string): void {
  if (!tracingOn() || !fanouts.size) return;
  const f = fanouts.get(`${tenantId}/${seq}`);
  if (!f || !trace.getSpan(f.ctx)) return;
  const s = startSpan('client ack', {
    kind: SpanKind.SERVER, parent: f.ctx, startTime: f.at,
    attributes: { 'chorus.tenant_id': tenantId, 'chorus.seq': seq, 'enduser.id': userId },
  });
  s?.span.end();
}
