// Messages between the coordinator (run.ts) and the generator processes (generator/worker.ts).
// The channel uses `serialization: 'advanced'`, so typed arrays cross it without JSON.
import type { Profile, ReconnectSpec } from './profile.js';

/** Messages accepted with 202, one column per field (index i is one message). */
export interface AcceptedTable {
  key: Float64Array;
  thread: Int32Array;
  seqMs: Float64Array;
  seqN: Float64Array;
}

export interface InitMsg {
  type: 'init';
  workerIndex: number;
  workers: number;
  profile: Profile;
  url: string;
  runId: string;
  tenantPrefix: string;
  localAddress: string;
  /** Drive a peer (benchmarks/peers/) instead of Chorus; absent: Chorus. */
  peer?: 'socketio';
}

export interface StageMsg {
  type: 'stage';
  index: number;
  name: string;
  startUs: number;
  durationUs: number;
  /** Total rate of all generators; each sends its interleaved share. */
  messagesPerS: number;
  presencePerS: number;
  /** This generator's client count at the end of the stage. */
  connections: number;
  reconnect?: ReconnectSpec;
  warmup: boolean;
}

export type ToWorker =
  | InitMsg
  | { type: 'threads'; ids: string[] }
  | StageMsg
  | { type: 'stop' }
  | { type: 'collect' }
  | { type: 'reconcile'; accepted: AcceptedTable; uncertain: Float64Array }
  | { type: 'shutdown' };

/** Cumulative counters a generator reports every second. */
export interface TickCounters {
  sent: number;
  accepted: number;
  http5xx: number;
  http429: number;
  http4xx: number;
  httpErrors: number;
  droppedIterations: number;
  inflight: number;
  received: number;
  live: number;
  connecting: number;
  connectOk: number;
  connectFail: number;
  disconnects: number;
  presenceSent: number;
  presenceReceived: number;
}

export interface WorkerResult {
  histograms: Record<string, string>;
  counters: Record<string, number>;
  httpStatus: Record<string, number>;
  connectFailures: Record<string, number>;
  closeCodes: Record<string, number>;
  errorFrames: Record<string, number>;
  framesByType: Record<string, number>;
  accepted: AcceptedTable;
  uncertain: Float64Array;
}

export interface LostSample {
  tenant: string;
  user: string;
  threadIndex: number;
  key: number;
  seq: string;
}

export interface LedgerResult {
  clientsChecked: number;
  clientsNeverConnected: number;
  clientsGaveUp: number;
  clientsResynced: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicates: number;
  unexpected: number;
  /** Clients that dropped and resumed with lastSeq (reconnect storm, 4008, drains) and what they lost. */
  resumedClients: number;
  resumedExpected: number;
  resumedLost: number;
  lostSamples: LostSample[];
}

export type FromWorker =
  | { type: 'created'; threads: [number, string][]; tokens: number; setupMs: number }
  | { type: 'ready' }
  | { type: 'tick'; atUs: number; e2e: string; counters: TickCounters }
  | { type: 'stopped' }
  | { type: 'collected'; result: WorkerResult }
  | { type: 'reconciled'; ledger: LedgerResult }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; msg: string }
  | { type: 'fatal'; error: string };
