// The span of one Postgres write (tracing on only): a client span named by the statement label the
// metrics use (core/metrics.ts `timed`), child of the active span (a processor's batch span).
import { SpanKind, inSpan } from './index.js';

export function inDbSpan<T>(statement: string, tenantId: string, fn: () => Promise<T>): Promise<T> {
  return inSpan(`db ${statement}`, {
    kind: SpanKind.CLIENT,
    attributes: { 'db.system.name': 'postgresql', 'db.operation.name': statement, 'chorus.tenant_id': tenantId },
  }, fn);
}
