// `npm run bench -- <profile> [options]` (node dist/benchmarks/run.js): a websocket profile from
// benchmarks/profiles/ or an HTTP scenario (http-send, http-timeline). Chorus must be running
// (`npm start`) unless --spawn is given. Exit code: 0 all thresholds held, 1 a threshold was
// breached (listed), 2 the harness could not run (Chorus down, bad arguments…).
import { parseArgs } from 'node:util';
import { runBench, DEFAULT_URL, RESULTS_DIR } from './coordinator/bench.js';
import { isHttpScenario, runHttpScenario } from './http/run-http.js';
import { isReady, spawnStack, type SpawnedStack } from './lib/stack.js';
import { runCleanups } from './lib/cleanup.js';
import { runPeerComparison } from './peers/compare.js';
import { runImpairment } from './impairment/run-impairment.js';
import { runIsolation } from './coordinator/isolation.js';

const USAGE = `usage: npm run bench -- <profile|http-scenario> [options]

  profiles (benchmarks/profiles/*.json): smoke, steady, steady-10x, burst, hot-tenant, reconnect-storm, max, cost
  http scenarios (autocannon): http-send, http-timeline
  peer                 Chorus (--spawn) then a Socket.IO peer, same profile (profiles/peer.json): Chorus/peer ratios
                       [--clients N (default 2000; 10000 for the 10k run)] [--processes N (default 2)]
  impairment           private Chorus with Redis behind a latency proxy and slow notification sinks
                       [--delay-ms 20] [--jitter-ms 5] [--sink-delay-ms 5000]
  hot-tenant-isolation hot-tenant with tenant 0 silent (the nine others at the same absolute rate), then
                       hot-tenant as is: PASS when the others' p99 is within 1.5x and integrity held in both
                       [--scale F] [--spawn: a fresh stack per run | --url URL] [--workers N] [--out DIR]

  --url URL            Chorus to measure (default ${DEFAULT_URL}); start it first with \`npm start\`
  --spawn              start a private Chorus (node dist/ops/stack.js, free port, temp data dir) and stop it after
  --keep-data          with --spawn: keep the temp data dir
  --scale F            multiply every duration by F (e.g. 0.1 turns 35 min into 3.5 min); rates unchanged
  --baseline FILE      an earlier report (.json): print per-figure deltas
  --out DIR            where reports go (default benchmarks/results)
  --workers N          at least N generator processes (default: as the profile needs, ≤ 9,000 clients each)
  --pids 1,2,3         sample these pids as "the Chorus processes" instead of discovering them
  --tenant-prefix P    tenant ids P-t0, P-t1… (default bench)
`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string' }, spawn: { type: 'boolean' }, 'keep-data': { type: 'boolean' }, scale: { type: 'string' },
      baseline: { type: 'string' }, out: { type: 'string' }, workers: { type: 'string' }, pids: { type: 'string' },
      'tenant-prefix': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      clients: { type: 'string' }, processes: { type: 'string' },
      'delay-ms': { type: 'string' }, 'jitter-ms': { type: 'string' }, 'sink-delay-ms': { type: 'string' },
    },
  });
  const name = positionals[0];
  if (values.help || !name) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const scale = values.scale ? Number(values.scale) : 1;
  if (!(scale > 0)) throw new Error('--scale must be a positive number');
  const say = (l: string) => process.stderr.write(`${l}\n`);
  const outDir = values.out ?? RESULTS_DIR;

  const workers = values.workers ? Number(values.workers) : undefined;
  if (name === 'peer') {
    const r = await runPeerComparison({
      scale, outDir, workers, say, clients: Number(values.clients ?? 2000), processes: Number(values.processes ?? 2),
    });
    process.stdout.write(r.text);
    say(`comparison: ${r.file}`);
    return r.ok ? 0 : 1;
  }
  if (name === 'hot-tenant-isolation') {
    const r = await runIsolation({ scale, outDir, workers, say, url: values.url, spawn: values.spawn });
    process.stdout.write(r.text);
    say(`isolation: ${r.file}`);
    say(r.ok ? 'PASS: other tenants isolated from the hot one' : 'FAIL: see the isolation report');
    return r.ok ? 0 : 1;
  }
  if (name === 'impairment') {
    const r = await runImpairment({
      scale, outDir, workers, say, baseline: values.baseline, delayMs: Number(values['delay-ms'] ?? 20),
      jitterMs: Number(values['jitter-ms'] ?? 5), sinkDelayMs: Number(values['sink-delay-ms'] ?? 5000),
    });
    process.stdout.write(r.files.text);
    say(`notification attempts seen by the sinks: ${JSON.stringify(r.attempts)}`);
    say(`reports: ${r.files.json}, ${r.files.markdown}, ${r.files.html}`);
    const breached = r.report.thresholds.filter((t) => !t.ok);
    for (const t of breached) say(`  ${t.metric} ${t.expression}: observed ${t.observed ?? '–'}${t.note ? ` (${t.note})` : ''}`);
    say(breached.length ? `FAIL: ${breached.length} threshold(s) breached` : 'PASS: every threshold held');
    return breached.length ? 1 : 0;
  }

  if (isHttpScenario(name)) {
    let stack: SpawnedStack | null = null;
    try {
      if (values.spawn) stack = await spawnStack({ logDir: outDir, keepData: values['keep-data'] });
      const url = (stack?.url ?? values.url ?? DEFAULT_URL).replace(/\/$/, '');
      if (!(await isReady(url))) {
        say(`Chorus is not ready at ${url} (GET /readyz): start it with \`npm start\` or pass --spawn`);
        return 2;
      }
      const r = await runHttpScenario({ name, url, scale, outDir, baseline: values.baseline, say });
      process.stdout.write(r.text);
      say(`reports: ${r.files.join(', ')}`);
      return r.ok ? 0 : 1;
    } finally {
      await stack?.stop();
    }
  }

  const outcome = await runBench({
    profile: name, scale, url: values.url, outDir, baseline: values.baseline, spawn: values.spawn, keepData: values['keep-data'],
    workers,
    pids: values.pids ? values.pids.split(',').map(Number).filter((n) => n > 0) : undefined,
    tenantPrefix: values['tenant-prefix'], say,
  });
  process.stdout.write(outcome.files.text);
  say(`reports: ${outcome.files.json}, ${outcome.files.markdown}, ${outcome.files.html}`);
  const breached = outcome.report.thresholds.filter((t) => !t.ok);
  if (breached.length) {
    say(`FAIL: ${breached.length} threshold(s) breached:`);
    for (const t of breached) say(`  ${t.metric} ${t.expression}: observed ${t.observed ?? '–'}${t.note ? ` (${t.note})` : ''}`);
    return 1;
  }
  say('PASS: every threshold held');
  return 0;
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`\n${sig}: stopping what the harness started…\n`);
    void runCleanups().finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench: ${err.message}\n`);
    void runCleanups().finally(() => process.exit(2));
  },
);
