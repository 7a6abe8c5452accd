// Idle cost with many tenants (issue 12, move 6): gives N tenants one thread and one message each,
// lets the stack settle, then samples the CPU of every Chorus process (gateways, processors, Redis,
// Postgres) while nothing is sent. The figure to read is the total as a share of one core: the cost
// of background loops (reads, claims, lag, trims) that must not grow with the number of tenants.
//
//   node dist/benchmarks/idle-tenants.js --url http://127.0.0.1:8080 [--tenants 1000] [--settle-s 30] [--measure-s 60]
//
// Chorus must run with its /dev/token limit off (CHORUS_RATE_DEV_TOKEN_PER_S=0). Exit code 0 when the
// total is within --max-pct (default 3, the bound), 1 above it, 2 when it could not run.
import { parseArgs } from 'node:util';
import { HttpClient, devToken, mapLimit } from './lib/http-client.js';
import { ProcSampler } from './lib/proc-sampler.js';
import { discoverChorus } from './lib/procs.js';
import { sleep } from '../core/backoff.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' }, tenants: { type: 'string', default: '1000' },
      'settle-s': { type: 'string', default: '30' }, 'measure-s': { type: 'string', default: '60' },
      'max-pct': { type: 'string', default: '3' }, prefix: { type: 'string', default: `idle${Date.now().toString(36)}` },
    },
  });
  const url = values.url as string;
  const n = Number(values.tenants);
  const say = (l: string) => process.stderr.write(`${l}\n`);
  const client = new HttpClient({ baseUrl: url, maxSockets: 32 });
  const port = Number(new URL(url).port || 80);
  if (!discoverChorus(port).targets.length) {
    say(`no Chorus gateway on port ${port}`);
    return 2;
  }

  const t0 = Date.now();
  await mapLimit(Array.from({ length: n }, (_, i) => i), 16, async (i) => {
    const tenant = `${values.prefix}-t${i}`;
    const token = await devToken(client, tenant, 'u0');
    const thread = await client.request('POST', '/api/threads', { title: 'idle', participantIds: ['u1'] }, token);
    if (thread.status !== 201) throw new Error(`POST /api/threads ${tenant}: ${thread.status} ${JSON.stringify(thread.body)}`);
    const msg = await client.request('POST', '/api/messages', { threadId: thread.body.thread.id, body: 'hello' }, token);
    if (msg.status !== 202) throw new Error(`POST /api/messages ${tenant}: ${msg.status} ${JSON.stringify(msg.body)}`);
  });
  say(`${n} tenants created in ${((Date.now() - t0) / 1000).toFixed(1)} s; settling ${values['settle-s']} s`);
  await sleep(Number(values['settle-s']) * 1000);

  const sampler = new ProcSampler(() => discoverChorus(port).targets);
  sampler.start();
  await sleep(Number(values['measure-s']) * 1000);
  const report = sampler.stop();
  const seconds = Number(values['measure-s']);
  const total = report.processes.reduce((a, p) => a + p.cpuSeconds, 0);
  const pct = (total / seconds) * 100;
  process.stdout.write(`| process | CPU s in ${seconds} s | % of one core |\n|---|---|---|\n`);
  for (const p of report.processes) process.stdout.write(`| ${p.label} | ${p.cpuSeconds} | ${((p.cpuSeconds / seconds) * 100).toFixed(2)} |\n`);
  process.stdout.write(`| **total** | ${total.toFixed(1)} | **${pct.toFixed(2)}** |\n\n`);
  process.stdout.write(`${n} idle tenants: ${pct.toFixed(2)}% of one core (bound ${values['max-pct']}%); machine ${report.machine.avgBusyPct}% busy on average\n`);
  client.agent.destroy();
  return pct <= Number(values['max-pct']) ? 0 : 1;
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`idle-tenants: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(2);
});
