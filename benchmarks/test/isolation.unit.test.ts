import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildWorld } from '../lib/world.js';
import { loadProfile, ProfileError, validateProfile, type WorldSpec } from '../lib/profile.js';
import { seededRng, WeightedPicker } from '../lib/rng.js';
import { baselineProfile, isolationVerdict, type RunFigures } from '../coordinator/isolation.js';

const SPEC: WorldSpec = { tenants: 10, users: 1000, participantsPerThread: 10, threadsPerUser: 2, hotTenant: { share: 0.375 } };

test('a silent hot tenant keeps its users and threads but gets no send weight; the others keep theirs', () => {
  const loud = buildWorld(SPEC, 2, 'b', 'x');
  const silent = buildWorld({ ...SPEC, hotTenant: { share: 0.375, silent: true } }, 2, 'b', 'x');
  assert.equal(silent.users.length, loud.users.length);
  assert.equal(silent.threads.length, loud.threads.length);
  assert.equal(silent.users.filter((u) => u.tenant === 0).length, 375);
  for (let i = 0; i < loud.threads.length; i++) {
    const [a, b] = [loud.threads[i]!, silent.threads[i]!];
    assert.deepEqual({ ...b, weight: 0 }, { ...a, weight: 0 }, 'same thread, participants, creator and sender');
    if (a.tenant === 0) {
      assert.ok(a.weight > 0);
      assert.equal(b.weight, 0);
    } else assert.equal(b.weight, a.weight);
  }
  const total = silent.threads.reduce((acc, t) => acc + t.weight, 0);
  assert.ok(Math.abs(total - 0.625) < 1e-9);
});

test('zero-weight threads are never picked; a generator owning only those sends nothing', () => {
  const w = buildWorld({ ...SPEC, hotTenant: { share: 0.375, silent: true } }, 2, 'b', 'x');
  const picker = new WeightedPicker(w.threads, (t) => t.weight);
  const rng = seededRng(42);
  const perTenant = new Array<number>(10).fill(0);
  const n = 200_000;
  for (let i = 0; i < n; i++) {
    const t = picker.pick(rng);
    assert.ok(t);
    perTenant[t.tenant]!++;
  }
  assert.equal(perTenant[0], 0);
  // Each other tenant gets about a ninth of the events.
  for (let t = 1; t < 10; t++) assert.ok(Math.abs(perTenant[t]! / n - 1 / 9) < 0.01, `tenant ${t}: ${perTenant[t]}`);
  // All weights zero: no pick (and no division by a zero total).
  assert.equal(new WeightedPicker(w.threads.filter((t) => t.tenant === 0), (t) => t.weight).pick(rng), undefined);
  // Edge draws: the first and the last draw still land on weighted threads.
  assert.notEqual(picker.pick(() => 0)?.tenant, 0);
  assert.notEqual(picker.pick(() => 1 - 2 ** -32)?.tenant, 0);
});

test('hotTenant.silent must be a boolean', () => {
  const p = loadProfile('hot-tenant');
  assert.throws(() => validateProfile({ ...p, world: { ...p.world, hotTenant: { share: 0.375, silent: 'yes' } } }), ProfileError);
  assert.doesNotThrow(() => validateProfile({ ...p, world: { ...p.world, hotTenant: { share: 0.375, silent: false } } }));
});

test('the baseline profile: same world, tenant 0 silent, every rate × (1 - share)', () => {
  const hot = loadProfile('hot-tenant');
  const before = JSON.stringify(hot);
  const base = baselineProfile(hot);
  assert.equal(JSON.stringify(hot), before, 'the hot profile is left untouched');
  assert.equal(base.name, 'hot-tenant-baseline');
  assert.equal(base.world.hotTenant?.silent, true);
  assert.equal(base.world.hotTenant?.share, hot.world.hotTenant?.share);
  assert.deepEqual({ ...base.world, hotTenant: undefined, seed: undefined }, { ...hot.world, hotTenant: undefined, seed: undefined });
  assert.equal(base.world.seed, 'hot-tenant', 'the same connect order as the hot run');
  assert.equal(base.stages.length, hot.stages.length);
  const share = hot.world.hotTenant!.share;
  for (let i = 0; i < hot.stages.length; i++) {
    const [h, b] = [hot.stages[i]!, base.stages[i]!];
    assert.equal(b.messagesPerMin, Math.round(h.messagesPerMin! * (1 - share)));
    assert.deepEqual({ ...b, messagesPerMin: 0 }, { ...h, messagesPerMin: 0 });
  }
  assert.equal(base.stages.find((s) => s.name === 'skewed')?.messagesPerMin, 1250);
  assert.deepEqual(base.thresholds, hot.thresholds);
  // Per other-tenant thread, the absolute rate is the same: rate × weight / total weight.
  const perThread = (p: typeof hot) => {
    const w = buildWorld(p.world, 2, 'b', 'x');
    const total = w.threads.reduce((a, t) => a + t.weight, 0);
    const t1 = w.threads.find((t) => t.tenant === 1)!;
    return (p.stages[1]!.messagesPerMin! * t1.weight) / total;
  };
  assert.ok(Math.abs(perThread(base) - perThread(hot)) < 1e-9);
  assert.throws(() => baselineProfile(base), ProfileError, 'already silent');
  assert.throws(() => baselineProfile(loadProfile('smoke')), ProfileError, 'no hot tenant');
});

test('the verdict: ratio within the limit and integrity in both runs', () => {
  const lat = (p99: number) => ({ count: 1000, min: 1, mean: p99 / 3, p50: p99 / 4, p90: p99 / 2, p95: p99 / 1.5, p99, p999: p99 * 2, max: p99 * 3 });
  const run = (p99: number | null, integrityFailures: string[] = []): RunFigures => ({
    report: 'r.json', profile: 'p', reportOk: true, integrityOk: !integrityFailures.length, integrityFailures, othersMessagesPerMin: [7500],
    others: p99 === null ? null : lat(p99), hot: null, sent: 1, delivered: 1, lost: 0, duplicated: 0, reordered: 0, connectSuccessRate: 1,
    machineBusyPct: 50, machinePeakBusyPct: 80, loadavgStart: [0, 0, 0], loadavgEnd: [1, 1, 1], chorusCpuPct: 30, generatorCpuPct: 10,
  });
  assert.deepEqual(isolationVerdict(run(100), run(150)), { ok: true, ratio: 1.5, reasons: [] });
  const slow = isolationVerdict(run(100), run(151));
  assert.equal(slow.ok, false);
  assert.ok(Math.abs(slow.ratio! - 1.51) < 1e-9);
  assert.equal(isolationVerdict(run(100), run(120, ['messages_lost count==0: observed 3'])).ok, false);
  assert.equal(isolationVerdict(run(100, ['seq_reordered count==0: observed 1']), run(120)).ok, false);
  assert.deepEqual(isolationVerdict(run(null), run(120)).ratio, null);
  assert.equal(isolationVerdict(run(null), run(120)).ok, false);
});
