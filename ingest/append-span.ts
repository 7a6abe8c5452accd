// The span around one append of the write path (tracing on only): a producer span, child of the
// request's, active while the entry is encoded, so the entry's `tr` field carries this span's W3C
// context and whoever consumes the entry (processors, gateway fanout) continues from here.
import { SpanKind, inSpan } from '../core/tracing/index.js';

export function inAppendSpan<T>(type: string, tenantId: string, fn: () => Promise<T>): Promise<T> {
  return inSpan(`append ${type}`, {
    kind: SpanKind.PRODUCER,
    attributes: { 'messaging.system': 'redis', 'messaging.operation.type': 'send', 'chorus.event_type': type, 'chorus.tenant_id': tenantId },
  }, fn);
}
