// Traces (issue 16) without an OTLP receiver: with no endpoint nothing is started and every helper
// is a plain call; the OTEL_* variables as config/ reads them; the W3C traceparent both ways; the
// two forms of a stream entry's `tr` field. The exported spans themselves: test/int/tracing.int.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, ConfigError } from '../../config/index.js';
import { createLogger } from '../../core/logger.js';
import { decodeEntry, encodeEvent, EVENT } from '../../core/events/index.js';
import {
  activeTraceparent, continueTrace, formatTraceparent, inSpan, linksTo, parseTraceparent, startSpan, tracingOn,
} from '../../core/tracing/index.js';
import { startTracing } from '../../core/tracing/sdk.js';

const env = (o: NodeJS.ProcessEnv = {}) => loadConfig({ CHORUS_DATA_DIR: '/tmp/chorus-unit', ...o });
const log = createLogger({ role: 'test', level: 'silent' });
const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

test('without an OTLP endpoint tracing is off: nothing is started and every helper is a plain call', async () => {
  const c = env();
  assert.equal(c.tracing.url, undefined);
  assert.equal(await startTracing(c.tracing, 'chorus-test', log), null);
  assert.equal(tracingOn(), false);
  assert.equal(startSpan('x'), undefined);
  let span: unknown = 'unset';
  assert.equal(await inSpan('x', {}, async (s) => { span = s; return 7; }), 7);
  assert.equal(span, undefined, 'no span is made');
  assert.equal(activeTraceparent(), undefined);
  assert.equal(continueTrace(TP), undefined);
  // The entry keeps the bare trace id it is given, as before tracing existed.
  const fields = encodeEvent({ type: EVENT.messageDeleted, data: { id: 'm1', threadId: 't1', senderId: 'a', createdAt: 'x', seq: '1-0', deletedBy: 'a' }, traceId: 'abc' } as never);
  assert.deepEqual(fields.slice(-2), ['tr', 'abc']);
  // None of the SDK packages was loaded.
  const loaded = Object.keys((await import('node:module')).createRequire(import.meta.url).cache);
  assert.ok(!loaded.some((p) => p.includes('@opentelemetry/sdk-trace') || p.includes('exporter-trace-otlp')), loaded.filter((p) => p.includes('opentelemetry')).join(', '));
});

test('the OTEL_* variables: endpoint (base or traces), protocol, sampler and ratio, disabled', () => {
  assert.equal(env({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing.url, 'http://collector:4318/v1/traces');
  assert.equal(env({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing.url, 'http://collector:4318/v1/traces');
  assert.equal(env({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b/traces' }).tracing.url, 'http://b/traces');
  assert.equal(env({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_SDK_DISABLED: 'true' }).tracing.url, undefined);
  assert.equal(env({ OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' }).tracing.url, undefined, 'empty is unset');
  const d = env().tracing;
  assert.deepEqual([d.protocol, d.sampler, d.ratio, d.serviceName], ['http/protobuf', 'parentbased_traceidratio', 1, undefined]);
  const c = env({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25', OTEL_SERVICE_NAME: 'edge' }).tracing;
  assert.deepEqual([c.protocol, c.sampler, c.ratio, c.serviceName], ['http/json', 'traceidratio', 0.25, 'edge']);
  for (const bad of [{ OTEL_TRACES_SAMPLER: 'jaeger_remote' }, { OTEL_TRACES_SAMPLER_ARG: '2' }, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector' }]) {
    assert.throws(() => env(bad), ConfigError, JSON.stringify(bad));
  }
});

test('traceparent: parsed and formatted per W3C trace context, invalid ones refused', () => {
  const sc = parseTraceparent(TP);
  assert.deepEqual(sc, { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true });
  assert.equal(formatTraceparent(sc!), TP);
  assert.equal(parseTraceparent(TP.replace(/-01$/, '-00'))?.traceFlags, 0);
  assert.ok(parseTraceparent('01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future'), 'a later version may add fields');
  for (const bad of ['', 'garbage', `${TP}-x`, TP.replace(/^00/, 'ff'), `00-${'0'.repeat(32)}-b7ad6b7169203331-01`, `00-0af7651916cd43dd8448eb211c80319c-${'0'.repeat(16)}-01`, TP.toUpperCase()]) {
    assert.equal(parseTraceparent(bad), undefined, bad);
  }
  assert.equal(linksTo([TP, undefined, TP, 'bad']).length, 1, 'links are distinct and valid');
});

test('a stream entry\'s tr field: a full traceparent or, in older entries and with tracing off, a bare trace id', () => {
  const full = decodeEntry('1-0', ['t', 'message.created', 'd', '{}', 'tr', TP]);
  assert.equal(full.traceparent, TP);
  assert.equal(full.traceId, '0af7651916cd43dd8448eb211c80319c');
  const bare = decodeEntry('1-0', ['t', 'message.created', 'd', '{}', 'tr', 'req-12345678']);
  assert.equal(bare.traceparent, undefined);
  assert.equal(bare.traceId, 'req-12345678');
});
