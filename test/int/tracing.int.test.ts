// Traces across processes (issue 16): a gateway and a projector process export to a real OTLP/HTTP
// receiver started here. One message posted with a `traceparent` is one connected trace: the HTTP
// request continues the caller's span, the append is its child, the stream entry carries the append's
// context to the processor (whose batch span is its child and links to it, with the database write
// below) and to the gateway's fanout. The async chain too: the notification intents' batch, the
// push job it queues, the provider call that job makes and the provider's delivery callback, in the same trace.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import crypto from 'node:crypto';
import { config, migrateDb, Api, Tenant, createAuthenticator, sleep, waitFor } from '../support/api.js';
import { freePort, spawnRole, type RoleProcess } from '../support/env.js';
import { WsClient } from '../support/ws-client.js';
import { compareSeq, type Seq } from '../../core/seq.js';
import { sign } from '../../workers/notify/callbacks.js';
import { notificationIdOf } from '../../workers/notify/jobs.js';

interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  links: { traceId: string; spanId: string }[];
  attributes: Record<string, unknown>;
}

/** OTLP/JSON ids are hex; a receiver that got base64 (protobuf-style JSON) turns them into hex too. */
const hex = (id: unknown): string => {
  const s = String(id ?? '');
  return /^[\da-f]*$/.test(s) ? s : Buffer.from(s, 'base64').toString('hex');
};

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
const valueOf = (v: AnyValue | undefined): unknown => v?.stringValue ?? v?.intValue ?? v?.boolValue ?? v?.doubleValue;
const attrs = (list: { key: string; value: AnyValue }[] | undefined) => Object.fromEntries((list ?? []).map((a) => [a.key, valueOf(a.value)]));

/** A minimal OTLP/HTTP JSON receiver: POST /v1/traces, every span kept with its process's service.name. */
function startReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; requests: { path: string; contentType: string }[]; close: () => Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const requests: { path: string; contentType: string }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', contentType: String(req.headers['content-type']) });
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans?: { resource?: { attributes?: { key: string; value: AnyValue }[] }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[];
      };
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attrs(rs.resource?.attributes)['service.name']);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              service, traceId: hex(s['traceId']), spanId: hex(s['spanId']), parentSpanId: hex(s['parentSpanId']), name: String(s['name']),
              links: ((s['links'] ?? []) as Record<string, unknown>[]).map((l) => ({ traceId: hex(l['traceId']), spanId: hex(l['spanId']) })),
              attributes: attrs(s['attributes'] as { key: string; value: AnyValue }[]),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    resolve({ url: `http://127.0.0.1:${port}`, spans, requests, close: () => new Promise((r) => server.close(() => r())) });
  }));
}

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let gateway: RoleProcess;
let processor: RoleProcess;
let notifications: RoleProcess;
let port: number;

before(async () => {
  await migrateDb(config);
  receiver = await startReceiver();
  port = await freePort();
  const otel = {
    CHORUS_DATA_DIR: config.dataDir, LOG_LEVEL: 'info',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_TRACES_SAMPLER: 'parentbased_always_on',
  };
  gateway = spawnRole(['gateway/main'], { ...otel, PORT: String(port) });
  processor = spawnRole(['processors/main', 'projector', '--consumers', '1'], { ...otel, CHORUS_METRICS_PORT: '0' });
  notifications = spawnRole(['processors/main', 'notify-intents,notify-push', '--consumers', '1'], { ...otel, CHORUS_METRICS_PORT: '0' });
  await Promise.all([
    notifications.waitForLog((e) => e['msg'] === 'tracing on', 15_000),
    gateway.waitForLog((e) => e['msg'] === 'tracing on', 15_000),
    gateway.waitForLog((e) => e['msg'] === 'gateway listening', 15_000),
    processor.waitForLog((e) => e['msg'] === 'tracing on', 15_000),
  ]);
});

after(async () => {
  for (const p of [gateway, processor, notifications]) p?.kill('SIGKILL');
  await Promise.all([gateway?.exited, processor?.exited, notifications?.exited]);
  await receiver?.close();
});

test('one message is one connected trace across the gateway and the processor', async () => {
  const api = new Api(`http://127.0.0.1:${port}`);
  const auth = await createAuthenticator(config);
  const t = new Tenant(api, auth, 'trace');
  const alice = await t.user('alice');
  const bob = await t.user('bob');
  const carol = await t.user('carol');
  const th = await alice.thread(['bob', 'carol']);
  // carol is mentioned and offline (bob is online, he would not be pushed): her push is urgent, queued at once.
  const prefs = await carol.api.request('PUT', '/api/notification-preferences', {
    token: carol.token, json: { channels: { inApp: true, email: false, push: true }, pushEndpoint: 'https://push.example.test/carol' },
  });
  assert.equal(prefs.status, 200, prefs.text);
  const ws = await WsClient.connect(`ws://127.0.0.1:${port}/ws`, { token: bob.token });
  // The thread's entries are projected first: the traced message then has a batch of its own (a
  // batch of several writes is a trace of its own, linked to each: see the last assertions).
  const first = await alice.say(th.id, 'untraced');
  await waitFor('the projector to store the first message', async () => {
    const tl = await alice.timeline(th.id);
    return tl.status === 200 && tl.body.messages.some((m: { seq: string }) => m.seq === first.seq);
  }, 20_000, 100);
  // ...and so is the inbox.updated that projection appended (else it could share the next batch).
  await ws.waitFor((f) => f.type === 'inbox.updated' && compareSeq(f.seq as Seq, first.seq as Seq) > 0, 10_000, 'the first inbox.updated');
  await sleep(500);

  // The caller's own span: Chorus's spans must continue it.
  const traceId = crypto.randomBytes(16).toString('hex');
  const callerSpan = crypto.randomBytes(8).toString('hex');
  const r = await api.request('POST', '/api/messages', {
    token: alice.token, json: { threadId: th.id, body: 'traced @carol', mentions: ['carol'] }, headers: { traceparent: `00-${traceId}-${callerSpan}-01` },
  });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.headers['x-trace-id'], traceId, 'x-trace-id is still the caller\'s trace id');
  const seq = r.body.message.seq as string;
  await ws.waitFor((f) => f.type === 'message.created' && f.seq === seq, 10_000, 'the message frame');
  ws.send({ type: 'ack', seq });
  await waitFor('the projector to store the message', async () => {
    const tl = await alice.timeline(th.id);
    return tl.status === 200 && tl.body.messages.some((m: { seq: string }) => m.seq === seq);
  }, 20_000, 100);
  // bob's unread counter moves after the projection: that frame's fanout is part of the trace too.
  await ws.waitFor((f) => f.type === 'inbox.updated' && compareSeq(f.seq as Seq, seq as Seq) > 0, 10_000, 'bob\'s inbox.updated');
  await ws.close();
  await waitFor('carol\'s push notification to be sent', async () => {
    const x = await carol.api.get(`/api/notifications/explain?messageId=${r.body.message.id as string}`, carol.token);
    return x.status === 200 && (x.body.channels.push as { status: string } | undefined)?.status === 'sent';
  }, 20_000, 100);

  // SIGTERM flushes what the batch span processors still hold.
  notifications.kill('SIGTERM');
  assert.equal((await notifications.exited).code, 0, notifications.recentLogs());
  // The push provider got the send span's traceparent; one that echoes it on its delivery callback
  // continues the trace there (the local sink does not call back: the test plays the provider).
  const sent = await waitFor('the send span', async () => receiver.spans.find((s) => s.traceId === traceId && s.name === 'send push'), 10_000);
  const callback = JSON.stringify({ tenantId: t.id, notificationId: notificationIdOf(r.body.message.id as string, 'carol'), status: 'delivered' });
  const cb = await api.request('POST', '/api/providers/push/callback', {
    raw: callback, contentType: 'application/json',
    headers: { 'x-chorus-signature': sign(config.notify.push.callbackSecret!, callback), traceparent: `00-${traceId}-${sent.spanId}-01` },
  });
  assert.equal(cb.status, 204, cb.text);
  gateway.kill('SIGTERM');
  processor.kill('SIGTERM');
  assert.equal((await gateway.exited).code, 0, gateway.recentLogs());
  assert.equal((await processor.exited).code, 0, processor.recentLogs());
  assert.ok(receiver.requests.every((q) => q.path === '/v1/traces' && /json/.test(q.contentType)), JSON.stringify(receiver.requests));

  const ours = receiver.spans.filter((s) => s.traceId === traceId);
  const describe = () => JSON.stringify(ours.map((s) => [s.service, s.name, s.spanId, s.parentSpanId, s.links]), null, 1);
  const one = (service: string, name: string) => {
    const found = ours.filter((s) => s.service === service && s.name === name);
    assert.equal(found.length, 1, `one "${name}" span of ${service}: ${describe()}`);
    return found[0]!;
  };
  const request = one('chorus-gateway', 'POST /api/messages');
  assert.equal(request.parentSpanId, callerSpan, 'the request span continues the caller\'s traceparent');
  assert.equal(request.attributes['http.response.status_code'], 202);
  const append = one('chorus-gateway', 'append message.created');
  assert.equal(append.parentSpanId, request.spanId);
  const fanout = one('chorus-gateway', 'fanout message.created');
  assert.equal(fanout.parentSpanId, append.spanId, 'the fanout continues the entry\'s context');
  // The projector's batch that holds the entry links to its context and, being that write's only
  // entry, is its child; the database write is the batch's child.
  const batches = receiver.spans.filter((s) => s.service === 'chorus-processor-projector' && s.name === 'process projector'
    && s.links.some((l) => l.traceId === traceId && l.spanId === append.spanId));
  assert.equal(batches.length, 1, `one projector batch links to the entry: ${describe()}`);
  const ack = one('chorus-gateway', 'client ack');
  assert.equal(ack.parentSpanId, fanout.spanId, 'bob\'s ack closes the path: a child of the fanout');
  assert.equal(ack.attributes['enduser.id'], 'bob');
  const batch = batches[0]!;
  // A batch of this one write is its child; one that gathered other writes too (the 20 ms gather
  // window can catch a late entry of the first message) is a trace of its own, linked to each.
  if (batch.traceId === traceId) assert.equal(batch.parentSpanId, append.spanId, 'the batch of one write is that write\'s child');
  const db = receiver.spans.filter((s) => s.name === 'db projector_batch' && s.parentSpanId === batch.spanId);
  assert.equal(db.length, 1, `the batch's database write: ${describe()}`);
  assert.equal(db[0]!.service, 'chorus-processor-projector');
  assert.equal(db[0]!.traceId, batch.traceId);
  // What the batch appended (inbox.updated) carries the batch's context: its fanout is in that trace too.
  assert.ok(receiver.spans.some((s) => s.traceId === batch.traceId && s.service === 'chorus-gateway' && s.name === 'fanout inbox.updated'), describe());

  // message.created → notification job → provider: the intents' batch continues the entry, the push
  // job carries the batch's context, and the provider call made from the job is its child.
  const NOTIFY = 'chorus-processor-notify-intents+notify-push';
  const intents = one(NOTIFY, 'process notify-intents');
  assert.equal(intents.parentSpanId, append.spanId);
  const send = one(NOTIFY, 'send push');
  assert.equal(send.parentSpanId, intents.spanId, 'the provider call continues the job\'s context');
  assert.equal(send.attributes['chorus.attempt'], 1);
  const delivered = one('chorus-gateway', 'POST /api/providers/:channel/callback');
  assert.equal(delivered.parentSpanId, send.spanId, 'the delivery callback continues the provider call');
  const applied = ours.filter((s) => s.name === 'db notify_callback' && s.parentSpanId === delivered.spanId);
  assert.equal(applied.length, 1, describe());
});
