// Starts the OpenTelemetry trace SDK for one process, only when the configuration names an OTLP
// endpoint (config.tracing.url): a tracer provider with the configured sampler, a batch span
// processor and the OTLP/HTTP exporter (protobuf or JSON), the AsyncLocalStorage context manager.
// The SDK packages are imported here, on demand, so a process with tracing off never loads them.
// Entry points call startTracing() first and its shutdown() last (it flushes the spans still queued).
import { context, diag, DiagLogLevel, trace } from '@opentelemetry/api';
import type { Config } from '../../config/index.js';
import type { Logger } from '../logger.js';
import { useTracer } from './index.js';

/** Longest wait for the last export at shutdown. */
const SHUTDOWN_MS = 3000;

export interface Tracing {
  /** Exports what is queued and stops the SDK. */
  shutdown(): Promise<void>;
}

/** The sampler of OTEL_TRACES_SAMPLER / _ARG. */
async function samplerOf(c: Config['tracing']) {
  const { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler } = await import('@opentelemetry/sdk-trace');
  switch (c.sampler) {
    case 'always_on': return new AlwaysOnSampler();
    case 'always_off': return new AlwaysOffSampler();
    case 'traceidratio': return new TraceIdRatioBasedSampler(c.ratio);
    case 'parentbased_always_on': return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off': return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio': return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(c.ratio) });
  }
}

/**
 * Starts tracing when an endpoint is configured, naming the process `defaultServiceName` unless
 * OTEL_SERVICE_NAME is set; null (and nothing loaded) when tracing is off.
 */
export async function startTracing(c: Config['tracing'], defaultServiceName: string, log: Logger): Promise<Tracing | null> {
  if (!c.url) return null;
  const [{ TracerProvider, BatchSpanProcessor }, { AsyncLocalStorageContextManager }, resources, exporterModule] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/resources'),
    c.protocol === 'http/json' ? import('@opentelemetry/exporter-trace-otlp-http') : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  // OTEL_RESOURCE_ATTRIBUTES as the SDK reads it; the service name is ours (OTEL_SERVICE_NAME or the role).
  const detected = resources.detectResources({ detectors: [resources.envDetector] });
  const resource = detected.merge(resources.resourceFromAttributes({ 'service.name': c.serviceName ?? defaultServiceName }));
  const exporter = new exporterModule.OTLPTraceExporter({ url: c.url });
  const provider = new TracerProvider({ resource, sampler: await samplerOf(c), spanProcessors: [new BatchSpanProcessor({ exporter })] });
  // The SDK's own complaints (an unreachable collector, dropped spans) go to the process's log.
  const otelLog = log.child({ component: 'opentelemetry' });
  const quiet = () => undefined;
  diag.setLogger({
    error: (msg, ...args) => otelLog.warn({ details: args.map(String) }, msg),
    warn: (msg, ...args) => otelLog.warn({ details: args.map(String) }, msg),
    info: quiet, debug: quiet, verbose: quiet,
  }, DiagLogLevel.WARN);
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  useTracer(provider.getTracer('chorus'));
  log.info({ url: c.url, protocol: c.protocol, sampler: c.sampler, ratio: c.ratio }, 'tracing on');
  return {
    async shutdown() {
      useTracer(undefined);
      // Bounded: an unreachable collector must not hold up a stop (the exporter retries for 10 s).
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => { timer = setTimeout(() => { log.warn('the last spans were not exported in time'); resolve(); }, SHUTDOWN_MS); });
      try {
        await Promise.race([provider.shutdown(), late]);
      } catch (err) {
        log.warn({ err }, 'could not export the last spans');
      } finally {
        clearTimeout(timer);
      }
      contextManager.disable();
    },
  };
}
