// The machine-readable report (benchmarks/results/<profile>-<timestamp>.json). `figures` is the
// flat list of headline numbers that --baseline compares release over release.
import type { LatencySummary } from '../lib/histogram.js';
import type { LedgerResult } from '../lib/ipc.js';
import type { Profile } from '../lib/profile.js';
import type { ThresholdResult } from '../lib/thresholds.js';
import type { SamplerReport } from '../lib/proc-sampler.js';
import type { ServerView } from '../lib/server-metrics.js';
import type { TimelinePoint } from '../coordinator/timeline.js';
import type { RateStep } from '../coordinator/drive.js';

export const REPORT_SCHEMA = 'chorus-bench/1';

export interface StageReport {
  name: string;
  startS: number;
  durationS: number;
  warmup: boolean;
  messagesPerMin: number;
  connections: number;
  presencePerS: number;
  sent: number;
  accepted: number;
  received: number;
  http5xx: number;
  http429: number;
  httpErrors: number;
  droppedIterations: number;
  e2e: LatencySummary;
}

export type MetricReport =
  | ({ type: 'trend' } & LatencySummary)
  | { type: 'rate'; rate: number | null; passes: number; total: number }
  | { type: 'counter'; count: number };

export interface Report {
  schema: typeof REPORT_SCHEMA;
  ok: boolean;
  profile: { name: string; version: number; description: string; scale: number; definition: Profile };
  run: {
    id: string;
    startedAt: string;
    finishedAt: string;
    durationS: number;
    url: string;
    spawned: boolean;
    generators: number;
    gitCommit: string | null;
    node: string;
    host: { cores: number; memTotalMb: number; loadavgStart: number[]; loadavgEnd: number[] };
    setupS: number;
    notes: string[];
  };
  world: { tenants: string[]; users: number; threads: number; participantsPerThread: number; threadsPerUser: number; hotTenant: string | null };
  stages: StageReport[];
  metrics: Record<string, MetricReport>;
  thresholds: ThresholdResult[];
  delivery: LedgerResult;
  connections: {
    attempts: number;
    ok: number;
    failed: number;
    successRate: number | null;
    failures: Record<string, number>;
    closeCodes: Record<string, number>;
    unexpectedDisconnects: number;
    stormDrops: number;
    resumes: number;
    resumedHello: number;
    replayedEvents: number;
    resyncRequired: number;
    gaveUp: number;
  };
  http: { sent: number; accepted: number; status: Record<string, number>; http5xx: number; http429: number; http4xx: number; transportErrors: number; droppedIterations: number };
  frames: { byType: Record<string, number>; errors: Record<string, number>; heartbeatsSent: number; presenceTransitionsSent: number; counters: Record<string, number> };
  tenants: { perTenant: Record<string, LatencySummary>; hot: LatencySummary | null; others: LatencySummary | null };
  server: ServerView & { gateways: number };
  processes: SamplerReport['processes'];
  machine: SamplerReport['machine'];
  processSeries: SamplerReport['series'];
  timeline: TimelinePoint[];
  rateSearch: { steps: RateStep[]; kneePerS: number | null } | null;
  figures: Record<string, number>;
}
