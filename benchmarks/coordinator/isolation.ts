// `npm run bench -- hot-tenant-isolation`: the seed's isolation criterion, "the other tenants' p99
// within 1.5x of their p99 without the hot tenant". Two runs of the same world: first a baseline
// where tenant 0 is silent (its clients connect, its threads exist, it sends nothing) at the rate the
// nine others get in the hot profile, then the hot-tenant profile itself. The others' absolute rate
// is the same in both, so the only difference is tenant 0's traffic.
import fs from 'node:fs';
import path from 'node:path';
import { loadProfile, ProfileError, validateProfile, type Profile } from '../lib/profile.js';
import type { LatencySummary } from '../lib/histogram.js';
import { sleepMs } from '../lib/clock.js';
import type { Report } from '../report/model.js';
import { stamp } from '../report/write.js';
import { runBench } from './bench.js';

export const ISOLATION_SCHEMA = 'chorus-bench-isolation/1';
/** others' p99 with the hot tenant / without it. */
export const ISOLATION_LIMIT = 1.5;
/** The thresholds that must hold in both runs for the comparison to mean anything. */
export const INTEGRITY_METRICS = ['ws_connect_success', 'messages_lost', 'messages_duplicated', 'seq_reordered'] as const;
/** Pause between the runs so the first one's tail (processors, GC, load average) does not weigh on the second. */
const SETTLE_MS = 15_000;

export interface IsolationOptions {
  scale: number;
  outDir: string;
  url?: string;
  /** A fresh private stack for each run. */
  spawn?: boolean;
  workers?: number;
  say: (line: string) => void;
}

/**
 * The hot profile without tenant 0's messages: same world (tenant 0 silent, weights of the others
 * unchanged) and every stage's rate × (1 − share), so that the nine others get exactly the absolute
 * rate they get in the hot profile (senders pick threads by weight over the total that is left).
 */
export function baselineProfile(hot: Profile): Profile {
  const ht = hot.world.hotTenant;
  if (!ht) throw new ProfileError(`profile ${hot.name} has no world.hotTenant: nothing to isolate`);
  if (ht.silent) throw new ProfileError(`profile ${hot.name}: the hot tenant is already silent`);
  if (hot.rateSearch) throw new ProfileError(`profile ${hot.name}: a rate search has no fixed rate to compare at`);
  const p = structuredClone(hot);
  const keep = 1 - ht.share;
  p.name = `${hot.name}-baseline`;
  p.description = `Baseline of ${hot.name}: the same world with tenant 0 silent, every rate × ${keep} (the other tenants' share). ${hot.description}`;
  p.world.hotTenant = { ...ht, silent: true };
  // The same connect order as the hot run (the world is seeded by this, else by the profile's name).
  p.world.seed = hot.world.seed ?? hot.name;
  p.stages = p.stages.map((s) => (s.messagesPerMin === undefined ? s : { ...s, messagesPerMin: Math.round(s.messagesPerMin * keep) }));
  return validateProfile(p);
}

export interface RunFigures {
  report: string;
  profile: string;
  /** Every threshold of the profile held (latency included; informative here). */
  reportOk: boolean;
  integrityOk: boolean;
  integrityFailures: string[];
  /** Messages per minute into the other tenants over the judged (non-warmup) stages. */
  othersMessagesPerMin: number[];
  others: LatencySummary | null;
  hot: LatencySummary | null;
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  connectSuccessRate: number | null;
  machineBusyPct: number;
  machinePeakBusyPct: number;
  loadavgStart: number[];
  loadavgEnd: number[];
  chorusCpuPct: number | null;
  generatorCpuPct: number | null;
}

function trend(r: Report, key: string): LatencySummary | null {
  const m = r.metrics[key];
  if (m?.type !== 'trend' || !m.count) return null;
  const { count, min, mean, p50, p90, p95, p99, p999, max } = m;
  return { count, min, mean, p50, p90, p95, p99, p999, max };
}

export function integrityOf(r: Report): string[] {
  const failures: string[] = [];
  for (const metric of INTEGRITY_METRICS) {
    const results = r.thresholds.filter((t) => t.metric === metric);
    if (!results.length) failures.push(`${metric}: no threshold in the profile`);
    for (const t of results) if (!t.ok) failures.push(`${metric} ${t.expression}: observed ${t.observed ?? '–'}`);
  }
  return failures;
}

export function runFigures(r: Report, file: string): RunFigures {
  const share = r.profile.definition.world.hotTenant;
  const othersShare = share ? 1 - share.share : 1;
  const failures = integrityOf(r);
  const counter = (k: string) => (r.metrics[k]?.type === 'counter' ? (r.metrics[k] as { count: number }).count : 0);
  return {
    report: path.basename(file), profile: r.profile.name, reportOk: r.ok, integrityOk: !failures.length, integrityFailures: failures,
    othersMessagesPerMin: r.stages.filter((s) => !s.warmup && s.messagesPerMin > 0).map((s) => Math.round(s.messagesPerMin * (share?.silent ? 1 : othersShare))),
    others: trend(r, 'message_e2e_others'), hot: trend(r, 'message_e2e_hot'),
    sent: r.http.sent, delivered: r.delivery.delivered, lost: r.delivery.lost, duplicated: r.delivery.duplicates, reordered: counter('seq_reordered'),
    connectSuccessRate: r.connections.successRate,
    machineBusyPct: r.machine.avgBusyPct, machinePeakBusyPct: r.machine.peakBusyPct,
    loadavgStart: r.run.host.loadavgStart, loadavgEnd: r.run.host.loadavgEnd,
    chorusCpuPct: r.figures['chorus_cpu_pct'] ?? null, generatorCpuPct: r.figures['generator_cpu_pct'] ?? null,
  };
}

export interface IsolationVerdict {
  ok: boolean;
  /** others' p99 in the hot run / in the baseline; null when either run measured no other-tenant delivery. */
  ratio: number | null;
  reasons: string[];
}

export function isolationVerdict(baseline: RunFigures, hot: RunFigures, limit = ISOLATION_LIMIT): IsolationVerdict {
  const reasons: string[] = [];
  const b = baseline.others;
  const h = hot.others;
  const ratio = b && h && b.p99 > 0 ? h.p99 / b.p99 : null;
  if (ratio === null) reasons.push('no other-tenant deliveries measured in one of the runs: no ratio');
  else if (ratio > limit) reasons.push(`others' p99 ${h?.p99} ms with the hot tenant is ${ratio.toFixed(2)}x the ${b?.p99} ms without (limit ${limit}x)`);
  for (const [name, f] of [['baseline', baseline], ['hot', hot]] as const) {
    for (const x of f.integrityFailures) reasons.push(`${name} run: ${x}`);
  }
  return { ok: !reasons.length, ratio, reasons };
}

const fmt = (v: number | null | undefined, d = 1) => (v === null || v === undefined ? '–' : Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(d));

export function renderIsolation(at: Date, baseline: RunFigures, hot: RunFigures, v: IsolationVerdict, notes: string[]): string {
  const lat = (s: LatencySummary | null, k: keyof LatencySummary) => fmt(s ? s[k] : null);
  const ratio = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null || !b ? '–' : (a / b).toFixed(2));
  const rows: [string, string, string, string][] = [
    ["others' e2e deliveries measured", fmt(baseline.others?.count ?? 0), fmt(hot.others?.count ?? 0), ratio(hot.others?.count, baseline.others?.count)],
    ["others' e2e p50 (ms)", lat(baseline.others, 'p50'), lat(hot.others, 'p50'), ratio(hot.others?.p50, baseline.others?.p50)],
    ["others' e2e p95 (ms)", lat(baseline.others, 'p95'), lat(hot.others, 'p95'), ratio(hot.others?.p95, baseline.others?.p95)],
    ["**others' e2e p99 (ms)**", lat(baseline.others, 'p99'), lat(hot.others, 'p99'), `**${v.ratio === null ? '–' : v.ratio.toFixed(2)}** (limit ${ISOLATION_LIMIT})`],
    ["others' e2e max (ms)", lat(baseline.others, 'max'), lat(hot.others, 'max'), ''],
    ['hot tenant e2e p99 (ms)', lat(baseline.hot, 'p99'), lat(hot.hot, 'p99'), ''],
    ["others' msg/min (judged stages)", baseline.othersMessagesPerMin.map((x) => fmt(x)).join(', '), hot.othersMessagesPerMin.map((x) => fmt(x)).join(', '), ''],
    ['messages sent (all tenants, whole run)', fmt(baseline.sent), fmt(hot.sent), ''],
    ['delivered / lost / duplicated / reordered', `${fmt(baseline.delivered)} / ${baseline.lost} / ${baseline.duplicated} / ${baseline.reordered}`, `${fmt(hot.delivered)} / ${hot.lost} / ${hot.duplicated} / ${hot.reordered}`, ''],
    ['connect success', fmt(baseline.connectSuccessRate, 4), fmt(hot.connectSuccessRate, 4), ''],
    ['integrity thresholds (connect, lost, dup, reorder)', baseline.integrityOk ? 'held' : '**breached**', hot.integrityOk ? 'held' : '**breached**', ''],
    ["all of the profile's thresholds", baseline.reportOk ? 'held' : 'breached', hot.reportOk ? 'held' : 'breached', ''],
    ['machine busy % (avg / peak)', `${fmt(baseline.machineBusyPct)} / ${fmt(baseline.machinePeakBusyPct)}`, `${fmt(hot.machineBusyPct)} / ${fmt(hot.machinePeakBusyPct)}`, ''],
    ['Chorus / generator CPU % (avg)', `${fmt(baseline.chorusCpuPct)} / ${fmt(baseline.generatorCpuPct)}`, `${fmt(hot.chorusCpuPct)} / ${fmt(hot.generatorCpuPct)}`, ''],
    ['load average at start (1/5/15 min)', baseline.loadavgStart.map((x) => x.toFixed(2)).join(' / '), hot.loadavgStart.map((x) => x.toFixed(2)).join(' / '), ''],
    ['load average at end (1/5/15 min)', baseline.loadavgEnd.map((x) => x.toFixed(2)).join(' / '), hot.loadavgEnd.map((x) => x.toFixed(2)).join(' / '), ''],
    ['report', baseline.report, hot.report, ''],
  ];
  return [
    `# Hot-tenant isolation — ${v.ok ? 'PASS' : 'FAIL'} (${at.toISOString()})`, '',
    `Criterion: the other tenants' e2e p99 with the hot tenant ≤ ${ISOLATION_LIMIT}x their p99 without it, and in both runs no loss, duplicate or reordering and the connect-success threshold held.`, '',
    '| figure | baseline (tenant 0 silent) | hot (tenant 0 sending) | hot/baseline |', '|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`), '',
    ...(v.reasons.length ? ['Why it failed:', '', ...v.reasons.map((x) => `- ${x}`), ''] : []),
    'How to read it:', '',
    ...notes.map((x) => `- ${x}`), '',
  ].join('\n');
}

export async function runIsolation(o: IsolationOptions): Promise<{ ok: boolean; text: string; file: string }> {
  const hotProfile = loadProfile('hot-tenant');
  const base = baselineProfile(hotProfile);
  const share = hotProfile.world.hotTenant?.share ?? 0;
  const judged = hotProfile.stages.filter((s) => !s.warmup && s.messagesPerMin);
  const othersRate = judged.map((s) => `${fmt(Math.round((s.messagesPerMin ?? 0) * (1 - share)))} msg/min in ${s.name}`).join(', ');
  const common = { scale: o.scale, url: o.url, spawn: o.spawn, workers: o.workers, outDir: o.outDir, say: o.say };

  o.say(`== baseline: ${base.name} (tenant 0 silent, rates × ${1 - share}) ==`);
  const baseline = await runBench({ ...common, profile: base, notes: ['hot-tenant isolation: baseline run (tenant 0 silent)'] });
  o.say(`settling ${SETTLE_MS / 1000} s before the hot run…`);
  await sleepMs(SETTLE_MS);
  o.say(`== hot: ${hotProfile.name} (tenant 0 takes ${share * 100}% of the messages) ==`);
  const hot = await runBench({ ...common, profile: hotProfile, notes: ['hot-tenant isolation: hot run'] });

  const b = runFigures(baseline.report, baseline.files.json);
  const h = runFigures(hot.report, hot.files.json);
  const v = isolationVerdict(b, h);
  const notes = [
    `Same world in both runs: ${hotProfile.world.users.toLocaleString('en-US')} clients in ${hotProfile.world.tenants} tenants, tenant 0 holding ${share * 100}% of them; the same users and threads are created and every client connects in both runs (tenant 0's too).`,
    `Same absolute message rate for the ${hotProfile.world.tenants - 1} other tenants in both runs (${othersRate}, spread evenly over them): the baseline runs the profile's rates × ${1 - share} with tenant 0's send weight at 0; the hot run the profile as is, tenant 0 taking ${share * 100}% of the total.`,
    "The only difference is tenant 0's traffic, so the others' p99 ratio is what the hot tenant costs them. Warmup stages are left out of every latency figure.",
    'Both runs share the machine: compare their machine busy % and load average before trusting a ratio (a busy box inflates both p99s, unevenly). Run it on a quiet machine.',
    `The baseline runs first, then the hot run after a ${SETTLE_MS / 1000} s pause${o.spawn ? ', each against its own freshly spawned stack' : ` against the same Chorus (${o.url ?? 'the default URL'}); the hot run finds the baseline's threads already stored`}.`,
    `Scale ${o.scale} (durations only; rates unchanged). The full reports (thresholds, per-tenant latency, stages) are the two files named above.`,
  ];
  const at = new Date();
  const text = renderIsolation(at, b, h, v, notes);
  fs.mkdirSync(o.outDir, { recursive: true });
  const file = path.join(path.resolve(o.outDir), `hot-tenant-isolation-${stamp(at)}.md`);
  fs.writeFileSync(file, text);
  fs.writeFileSync(file.replace(/\.md$/, '.json'), JSON.stringify({
    schema: ISOLATION_SCHEMA, ok: v.ok, at: at.toISOString(), limit: ISOLATION_LIMIT, ratio: v.ratio, reasons: v.reasons,
    baseline: b, hot: h, notes,
  }, null, 2) + '\n');
  return { ok: v.ok, text, file };
}
