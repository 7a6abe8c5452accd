// End-of-run reconciliation: every message accepted with 202 into a thread must have reached every
// participant's client exactly once, from the client's first head on (and, for a client that left
// on a ramp-down, up to shortly before it left). Pure: inputs are the merged accepted table and what
// the clients recorded; unit-tested in benchmarks/test/ledger.unit.test.ts.
import type { AcceptedTable, LedgerResult, LostSample } from '../lib/ipc.js';
import { posAfter, type SeqPos } from '../lib/seq-order.js';

export interface LedgerClient {
  tenant: string;
  userId: string;
  threads: number[];
  firstHead: SeqPos | null;
  leftAtMs: number;
  received: number[];
  resumed: boolean;
  gaveUp: boolean;
  resyncs: number;
}

export interface LedgerOptions {
  leaveGraceMs: number;
  sampleLimit: number;
}

/** Rows of the accepted table grouped by thread. */
export function rowsByThread(t: AcceptedTable): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (let i = 0; i < t.key.length; i++) {
    const th = t.thread[i] as number;
    let rows = m.get(th);
    if (!rows) m.set(th, (rows = []));
    rows.push(i);
  }
  return m;
}

export function reconcile(clients: LedgerClient[], accepted: AcceptedTable, uncertain: Float64Array, opts: LedgerOptions): LedgerResult {
  const byThread = rowsByThread(accepted);
  const known = new Set<number>(accepted.key);
  for (const k of uncertain) known.add(k);
  const r: LedgerResult = {
    clientsChecked: 0, clientsNeverConnected: 0, clientsGaveUp: 0, clientsResynced: 0,
    expected: 0, delivered: 0, lost: 0, duplicates: 0, unexpected: 0,
    resumedClients: 0, resumedExpected: 0, resumedLost: 0, lostSamples: [],
  };
  for (const c of clients) {
    if (!c.firstHead) {
      r.clientsNeverConnected++;
      continue;
    }
    r.clientsChecked++;
    if (c.gaveUp) r.clientsGaveUp++;
    if (c.resyncs) r.clientsResynced++;
    if (c.resumed) r.resumedClients++;
    const counts = new Map<number, number>();
    for (const k of c.received) counts.set(k, (counts.get(k) ?? 0) + 1);
    for (const [k, n] of counts) {
      if (n > 1) r.duplicates += n - 1;
      if (!known.has(k)) r.unexpected++;
    }
    const until = c.leftAtMs ? c.leftAtMs - opts.leaveGraceMs : Infinity;
    for (const th of c.threads) {
      for (const row of byThread.get(th) ?? []) {
        const ms = accepted.seqMs[row] as number;
        if (!posAfter(ms, accepted.seqN[row] as number, c.firstHead) || ms >= until) continue;
        r.expected++;
        if (c.resumed) r.resumedExpected++;
        const key = accepted.key[row] as number;
        if (counts.has(key)) {
          r.delivered++;
          continue;
        }
        r.lost++;
        if (c.resumed) r.resumedLost++;
        if (r.lostSamples.length < opts.sampleLimit) {
          const sample: LostSample = { tenant: c.tenant, user: c.userId, threadIndex: th, key, seq: `${ms}-${accepted.seqN[row]}` };
          r.lostSamples.push(sample);
        }
      }
    }
  }
  return r;
}

export function mergeLedgers(ls: LedgerResult[], sampleLimit: number): LedgerResult {
  const out: LedgerResult = {
    clientsChecked: 0, clientsNeverConnected: 0, clientsGaveUp: 0, clientsResynced: 0,
    expected: 0, delivered: 0, lost: 0, duplicates: 0, unexpected: 0,
    resumedClients: 0, resumedExpected: 0, resumedLost: 0, lostSamples: [],
  };
  for (const l of ls) {
    for (const k of Object.keys(out) as (keyof LedgerResult)[]) {
      if (k !== 'lostSamples') (out[k] as number) += l[k] as number;
    }
    out.lostSamples.push(...l.lostSamples.slice(0, Math.max(0, sampleLimit - out.lostSamples.length)));
  }
  return out;
}

/** Concatenates the accepted tables of all generators. */
export function mergeAccepted(ts: AcceptedTable[]): AcceptedTable {
  const n = ts.reduce((a, t) => a + t.key.length, 0);
  const out: AcceptedTable = { key: new Float64Array(n), thread: new Int32Array(n), seqMs: new Float64Array(n), seqN: new Float64Array(n) };
  let o = 0;
  for (const t of ts) {
    out.key.set(t.key, o);
    out.thread.set(t.thread, o);
    out.seqMs.set(t.seqMs, o);
    out.seqN.set(t.seqN, o);
    o += t.key.length;
  }
  return out;
}

/** A growable accepted table for the sender side. */
export class AcceptedLog {
  private key: number[] = [];
  private thread: number[] = [];
  private seqMs: number[] = [];
  private seqN: number[] = [];

  add(key: number, thread: number, seqMs: number, seqN: number): void {
    this.key.push(key);
    this.thread.push(thread);
    this.seqMs.push(seqMs);
    this.seqN.push(seqN);
  }

  get size(): number {
    return this.key.length;
  }

  table(): AcceptedTable {
    return { key: Float64Array.from(this.key), thread: Int32Array.from(this.thread), seqMs: Float64Array.from(this.seqMs), seqN: Float64Array.from(this.seqN) };
  }
}
