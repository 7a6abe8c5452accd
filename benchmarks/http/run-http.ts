// Runs one HTTP scenario with autocannon and writes <scenario>-<timestamp>.json/.md. Fails (ok:
// false) on any 5xx or transport error; throughput and latency are reported, not judged.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import autocannon from 'autocannon';
import { HttpClient } from '../lib/http-client.js';
import { HTTP_SCENARIOS, type ScenarioParams } from './scenarios.js';
import { stamp } from '../report/write.js';
import { compareFigures, renderDeltas } from '../report/baseline.js';

export interface HttpReport {
  schema: 'chorus-bench-http/1';
  ok: boolean;
  scenario: string;
  description: string;
  params: ScenarioParams;
  run: { id: string; startedAt: string; url: string; node: string; cores: number; loadavgStart: number[] };
  result: {
    requestsPerS: { mean: number; p50: number; min: number; max: number };
    latencyMs: { mean: number; p50: number; p90: number; p99: number; p999: number; max: number };
    total: number;
    status: Record<string, number>;
    non2xx: number;
    errors: number;
    timeouts: number;
  };
  figures: Record<string, number>;
}

export function isHttpScenario(name: string): boolean {
  return name in HTTP_SCENARIOS;
}

export async function runHttpScenario(o: { name: string; url: string; scale: number; outDir: string; baseline?: string; say: (l: string) => void }): Promise<{ ok: boolean; report: HttpReport; text: string; files: string[] }> {
  const sc = HTTP_SCENARIOS[o.name];
  if (!sc) throw new Error(`unknown HTTP scenario ${o.name}`);
  const params = { ...sc.params, durationS: Math.max(3, Math.round(sc.params.durationS * o.scale)) };
  const runId = `h${Date.now().toString(36)}${crypto.randomBytes(2).toString('hex')}`;
  const startedAt = new Date();
  const loadavgStart = os.loadavg();
  const client = new HttpClient({ baseUrl: o.url });
  o.say(`${sc.name}: setting up (${sc.description})`);
  const requests = await sc.setup(client, runId).finally(() => client.close());
  o.say(`${sc.name}: ${params.connections} connections, ${params.durationS} s, pipelining ${params.pipelining}`);
  const r = await autocannon({ url: o.url, connections: params.connections, duration: params.durationS, pipelining: params.pipelining, timeout: 10, requests });
  const status: Record<string, number> = {};
  for (const [code, v] of Object.entries(r.statusCodeStats ?? {})) status[code] = v.count;
  const fivexx = Object.entries(status).filter(([c]) => c.startsWith('5')).reduce((a, [, n]) => a + n, 0);
  const report: HttpReport = {
    schema: 'chorus-bench-http/1',
    ok: fivexx === 0 && r.errors === 0,
    scenario: sc.name, description: sc.description, params,
    run: { id: runId, startedAt: startedAt.toISOString(), url: o.url, node: process.version, cores: os.cpus().length, loadavgStart },
    result: {
      requestsPerS: { mean: r.requests.mean, p50: r.requests.p50, min: r.requests.min, max: r.requests.max },
      latencyMs: { mean: r.latency.mean, p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, p999: r.latency.p99_9, max: r.latency.max },
      total: r.requests.total, status, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts,
    },
    figures: { rps_mean: r.requests.mean, latency_p50_ms: r.latency.p50, latency_p99_ms: r.latency.p99, non2xx: r.non2xx, errors: r.errors },
  };
  let text = [
    `# Chorus HTTP benchmark: ${sc.name} — ${report.ok ? 'PASS' : 'FAIL'}`, '',
    `${sc.description}. autocannon, closed loop: ${params.connections} connections × ${params.durationS} s, pipelining ${params.pipelining}; target ${o.url}; ${startedAt.toISOString()}.`, '',
    '| req/s mean | req/s p50 | latency p50 ms | p90 | p99 | p99.9 | max | requests | non-2xx | errors | timeouts |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    `| ${r.requests.mean} | ${r.requests.p50} | ${r.latency.p50} | ${r.latency.p90} | ${r.latency.p99} | ${r.latency.p99_9} | ${r.latency.max} | ${r.requests.total} | ${r.non2xx} | ${r.errors} | ${r.timeouts} |`,
    '', `Status codes: ${JSON.stringify(status)}`, '',
  ].join('\n');
  if (o.baseline) {
    const b = JSON.parse(fs.readFileSync(o.baseline, 'utf8')) as HttpReport;
    text += '\n' + renderDeltas(compareFigures(report.figures, b.figures), path.basename(o.baseline));
  }
  fs.mkdirSync(o.outDir, { recursive: true });
  const base = path.join(path.resolve(o.outDir), `${sc.name}-${stamp(startedAt)}`);
  fs.writeFileSync(`${base}.json`, JSON.stringify(report, null, 1) + '\n');
  fs.writeFileSync(`${base}.md`, text);
  return { ok: report.ok, report, text, files: [`${base}.json`, `${base}.md`] };
}
