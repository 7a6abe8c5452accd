// The span of one HTTP API request (tracing on only): `<METHOD> <route pattern>`, a server span that
// continues the caller's W3C `traceparent` (and `tracestate`). The router makes it active while the
// handler runs, so the append span and the stream entry written by the handler belong to it; it ends
// with the answer's status. Tracing off: no span, and the router's only cost is one test.
import { trace, createTraceState, type Context, type Span } from '@opentelemetry/api';
import { SpanKind, contextOf, failSpan, startSpan, tracingOn } from '../../core/tracing/index.js';

export interface RequestSpan {
  span: Span;
  /** The context the handler runs in. */
  ctx: Context;
}

/** Starts the span of a request (headers copied from uWS before any await), undefined when tracing is off. */
export function startRequestSpan(method: string, pattern: string, route: string, traceparent: string, tracestate: string): RequestSpan | undefined {
  if (!tracingOn()) return undefined;
  let parent = contextOf(traceparent);
  const sc = trace.getSpanContext(parent);
  if (sc && tracestate) {
    try {
      parent = trace.setSpanContext(parent, { ...sc, traceState: createTraceState(tracestate) });
    } catch {
      // a malformed tracestate is dropped, the traceparent still counts
    }
  }
  return startSpan(`${method} ${pattern}`, {
    kind: SpanKind.SERVER, parent,
    attributes: { 'http.request.method': method, 'http.route': pattern, 'chorus.route': route },
  });
}

/** Ends the span with the answer's status (5xx: error) and who asked. */
export function endRequestSpan(s: RequestSpan | undefined, status: number, tenantId?: string, userId?: string, err?: unknown): void {
  if (!s) return;
  s.span.setAttribute('http.response.status_code', status);
  if (tenantId) s.span.setAttribute('chorus.tenant_id', tenantId);
  if (userId) s.span.setAttribute('enduser.id', userId);
  if (status >= 500) failSpan(s.span, err ?? new Error(`answered ${status}`));
  s.span.end();
}
