// The SDK (client/) in integration tests: a ChorusClient for a test user with the `ws` package as
// its WebSocket, recording everything it emits, and a ledger helper that compares what the server
// accepted with what the SDK delivered. Also a "load balancer" WebSocket class that sends each new
// connection to whichever gateway is current, for drain tests.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { ChorusClient, type ChorusClientOptions, type StreamEvent, type SyncSnapshot, type WebSocketConstructor } from '../../client/index.js';
import { waitFor, type TestGateway, type User } from './api.js';

/** What the client emitted, in order (events and snapshots interleaved as they came). */
export type Emitted = { kind: 'event'; event: StreamEvent } | { kind: 'snapshot'; snapshot: SyncSnapshot };

export interface SdkHandle {
  client: ChorusClient;
  emitted: Emitted[];
  /** Ids of `message.created` events emitted, in order. */
  created(threadId?: string): string[];
  stop(): void;
}

export function sdkFor(gw: TestGateway, u: User | (() => string | Promise<string>), o: Partial<ChorusClientOptions> = {}): SdkHandle {
  const client = new ChorusClient({
    baseUrl: gw.api.baseUrl,
    token: typeof u === 'function' ? u : () => u.token,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    backoff: { baseMs: 50, capMs: 500 },
    ...o,
  });
  const emitted: Emitted[] = [];
  client.on('event', (event) => emitted.push({ kind: 'event', event }));
  client.on('snapshot', (snapshot) => emitted.push({ kind: 'snapshot', snapshot }));
  return {
    client,
    emitted,
    created: (threadId) => emitted.flatMap((e) => e.kind === 'event' && e.event.type === 'message.created'
      && (threadId === undefined || (e.event.data as { threadId: string }).threadId === threadId) ? [(e.event.data as { id: string }).id] : []),
    stop: () => client.stop(),
  };
}

/** Waits until the SDK emitted every id of `ledger`, then asserts it emitted exactly those, in order. */
export async function assertLedger(h: SdkHandle, threadId: string, ledger: { id: string; seq: string }[], timeoutMs = 20_000): Promise<void> {
  const want = [...ledger].sort((a, b) => cmp(a.seq, b.seq)).map((m) => m.id);
  const wanted = new Set(want);
  await waitFor(`the SDK to emit all ${want.length} acknowledged messages`, async () => {
    const got = new Set(h.created(threadId));
    return want.every((id) => got.has(id));
  }, timeoutMs, 50);
  const got = h.created(threadId).filter((id) => wanted.has(id));
  assert.equal(new Set(got).size, got.length, 'no message emitted twice');
  assert.deepEqual(got, want, 'every acknowledged message, once, in seq order');
  const seqs = h.emitted.flatMap((e) => (e.kind === 'event' ? [e.event.seq] : []));
  assert.equal(new Set(seqs).size, seqs.length, 'no seq emitted twice');
}

function cmp(a: string, b: string): number {
  const [am, an] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bn] = b.split('-').map(BigInt) as [bigint, bigint];
  return am !== bm ? (am < bm ? -1 : 1) : an === bn ? 0 : an < bn ? -1 : 1;
}

/** A WebSocket class whose new connections go to `target()`'s port, as a load balancer would. */
export function balancedWebSocket(target: () => TestGateway): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string) {
      const u = new URL(url);
      u.port = String(target().port);
      super(u.toString());
    }
  } as unknown as WebSocketConstructor;
}
