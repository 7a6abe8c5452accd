// Traces: the small API the code paths call. Tracing is off unless an entry point started the SDK
// (core/tracing/sdk.ts, only when an OTLP endpoint is configured); while off, every helper here is
// one boolean test and a plain call of the function it wraps: no span, no context, no allocation on
// the hot path. Only @opentelemetry/api is imported here; the SDK is loaded by sdk.ts on demand.
//
// The W3C trace context crosses process hops as a `traceparent` string: in the HTTP header, in the
// `tr` field of a stream entry (core/events/envelope.ts) and in a notification job.
import {
  context, trace, ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags,
  type Context, type Link, type Span, type SpanContext, type Tracer,
} from '@opentelemetry/api';

export { SpanKind, type Span };

let tracer: Tracer | undefined;

/** Called by sdk.ts once the SDK is registered (and with undefined when it shuts down). */
export function useTracer(t: Tracer | undefined): void {
  tracer = t;
}

/** True while spans are made. */
export function tracingOn(): boolean {
  return tracer !== undefined;
}

const TRACEPARENT = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})(-|$)/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** The span context of a W3C `traceparent` (marked remote), or undefined when it is not a valid one. */
export function parseTraceparent(value: string | undefined): SpanContext | undefined {
  if (!value) return undefined;
  const m = TRACEPARENT.exec(value);
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string];
  // Version ff is invalid; version 00 has nothing after the flags; later versions may add fields.
  if (version === 'ff' || (version === '00' && rest !== '') || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) & TraceFlags.SAMPLED, isRemote: true };
}

/** The `traceparent` of a span context. */
export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & TraceFlags.SAMPLED) ? '01' : '00'}`;
}

/** The `traceparent` of the active span, or undefined when tracing is off or no span is active. */
export function activeTraceparent(): string | undefined {
  if (!tracer) return undefined;
  const span = trace.getSpan(context.active());
  const sc = span?.spanContext();
  return sc && trace.isSpanContextValid(sc) ? formatTraceparent(sc) : undefined;
}

/** A context whose parent is the span of `traceparent` (a new trace's root context when it is not valid). */
export function contextOf(traceparent: string | undefined): Context {
  const sc = parseTraceparent(traceparent);
  return sc ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

/** Links to the distinct valid contexts of `traceparents`. */
export function linksTo(traceparents: Iterable<string | undefined>): Link[] {
  const seen = new Set<string>();
  const links: Link[] = [];
  for (const tp of traceparents) {
    if (!tp || seen.has(tp)) continue;
    seen.add(tp);
    const sc = parseTraceparent(tp);
    if (sc) links.push({ context: sc });
  }
  return links;
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Record<string, string | number | boolean | undefined>;
  links?: Link[];
  /** The parent: a `traceparent` string (another process's span) or a context; default the active one. */
  parent?: string | Context;
  /** When the span started (ms since the epoch), if earlier than now. */
  startTime?: number;
}

function parentContext(parent: SpanOptions['parent']): Context {
  if (parent === undefined) return context.active();
  return typeof parent === 'string' ? contextOf(parent) : parent;
}

/**
 * Starts a span that the caller ends (for work that does not fit one function call, such as an
 * HTTP request); undefined when tracing is off.
 */
export function startSpan(name: string, o: SpanOptions = {}): { span: Span; ctx: Context } | undefined {
  if (!tracer) return undefined;
  const parent = parentContext(o.parent);
  const span = tracer.startSpan(name, { kind: o.kind, attributes: o.attributes, links: o.links, startTime: o.startTime }, parent);
  return { span, ctx: trace.setSpan(parent, span) };
}

/** Records a failure on the span: the exception event and the error status. */
export function failSpan(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/**
 * Runs `fn` in a new span, active for everything `fn` does (appends made inside carry its context);
 * the span ends when `fn` settles, with the error status when it throws. Tracing off: `fn()` itself.
 */
export function inSpan<T>(name: string, o: SpanOptions, fn: (span?: Span) => Promise<T>): Promise<T> {
  if (!tracer) return fn();
  const started = startSpan(name, o)!;
  return context.with(started.ctx, () => fn(started.span)).then(
    (v) => {
      started.span.end();
      return v;
    },
    (err: unknown) => {
      failSpan(started.span, err);
      started.span.end();
      throw err;
    },
  );
}

/** Runs `fn` with `ctx` active (tracing off, or no context: `fn()` itself). */
export function withContext<T>(ctx: Context | undefined, fn: () => T): T {
  return tracer && ctx ? context.with(ctx, fn) : fn();
}

/**
 * What work made for one entry should carry on: the active span when it belongs to the entry's
 * trace (a batch span that is the entry's child), else the entry's own context (a batch that
 * gathered several writes). Undefined when tracing is off.
 */
export function continueTrace(entryTraceparent: string | undefined): string | undefined {
  const active = activeTraceparent();
  if (!entryTraceparent || !active) return active ?? (tracer ? entryTraceparent : undefined);
  return active.slice(3, 35) === entryTraceparent.slice(3, 35) ? active : entryTraceparent;
}

/**
 * Runs `fn` outside any trace: for long-lived work started from inside a span (a periodic task a
 * handler starts on its first batch), whose timers would otherwise stay in that span's context.
 */
export function outsideTraces<T>(fn: () => T): T {
  return tracer ? context.with(ROOT_CONTEXT, fn) : fn();
}
