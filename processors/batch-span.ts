// The span of one handled batch (tracing on only): `process <group>`, a consumer span with a link
// to the W3C context of each entry's write (the `tr` field). A batch whose entries all come from one
// traced write (the usual case when the stream is quiet) is also that write's child, so the trace
// reads as one tree from the HTTP request to the database write; a batch that gathers several
// writes starts a trace of its own, linked to each of them. Tracing off: the handler is called as is.
import type { StreamEvent } from '../core/events/index.js';
import { SpanKind, contextOf, inSpan, linksTo, tracingOn } from '../core/tracing/index.js';

export function inBatchSpan<T>(group: string, tenantId: string, events: readonly StreamEvent[], fn: () => Promise<T>): Promise<T> {
  if (!tracingOn()) return fn();
  const links = linksTo(events.map((e) => e.traceparent));
  const only = links.length === 1 ? events.find((e) => e.traceparent)?.traceparent : undefined;
  return inSpan(`process ${group}`, {
    kind: SpanKind.CONSUMER,
    parent: contextOf(only),
    links,
    attributes: {
      'messaging.system': 'redis', 'messaging.operation.type': 'process', 'messaging.consumer.group.name': group,
      'messaging.batch.message_count': events.length, 'chorus.tenant_id': tenantId,
      'chorus.seq.first': events[0]?.seq, 'chorus.seq.last': events.at(-1)?.seq,
    },
  }, fn);
}
