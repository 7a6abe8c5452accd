// A latency-injecting TCP proxy (seed 6.1 #5, "Redis latency injection"): every chunk read on one
// side is written to the other after `delayMs` ± `jitterMs`, never before an earlier chunk of the
// same direction (TCP order holds; jitter only stretches gaps). The harness runs it as its own
// process between Chorus and Redis, so its CPU is not the coordinator's and its timers are not
// delayed by the coordinator's work.
//
//   node dist/benchmarks/impairment/proxy.js --listen 0 --target 127.0.0.1:6379 --delay-ms 20 --jitter-ms 5
//   (prints `listening <port>` on stdout once ready; SIGTERM stops it)
import net from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

export interface ProxyOptions {
  listenPort: number;
  targetHost: string;
  targetPort: number;
  /** Added to each direction. */
  delayMs: number;
  /** Uniform in [-jitter, +jitter], clamped at 0. */
  jitterMs: number;
}

export interface ProxyStats {
  connections: number;
  bytesUp: number;
  bytesDown: number;
}

/**
 * Pipes `from` into `to` with the delay; both sockets die together. One FIFO and one timer per
 * direction: separate setTimeouts per chunk may fire out of order when their expiries tie (Node
 * keeps one timer list per duration), and a reordered byte stream is a corrupted protocol.
 */
function delayedPipe(from: net.Socket, to: net.Socket, o: ProxyOptions, count: (n: number) => void): void {
  const queue: { due: number; chunk: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | null = null;
  let lastDue = 0;
  const flush = () => {
    timer = null;
    const now = Date.now();
    while (queue.length && (queue[0] as { due: number }).due <= now) {
      const { chunk } = queue.shift() as { due: number; chunk: Buffer | null };
      if (to.destroyed) continue;
      if (chunk) to.write(chunk);
      else to.end();
    }
    if (queue.length) timer = setTimeout(flush, (queue[0] as { due: number }).due - now);
  };
  const push = (chunk: Buffer | null) => {
    // Jitter stretches gaps but never overtakes an earlier chunk.
    lastDue = Math.max(lastDue, Date.now() + Math.max(0, o.delayMs + (Math.random() * 2 - 1) * o.jitterMs));
    queue.push({ due: lastDue, chunk });
    if (!timer) timer = setTimeout(flush, lastDue - Date.now());
  };
  from.on('data', (chunk: Buffer) => {
    count(chunk.length);
    push(chunk);
  });
  from.on('end', () => push(null));
  from.on('error', () => to.destroy());
  from.on('close', () => setTimeout(() => to.destroy(), Math.max(0, lastDue - Date.now()) + 10));
}

export function startProxy(o: ProxyOptions): Promise<{ server: net.Server; port: number; stats: ProxyStats }> {
  const stats: ProxyStats = { connections: 0, bytesUp: 0, bytesDown: 0 };
  const server = net.createServer((client) => {
    stats.connections++;
    client.setNoDelay(true);
    const upstream = net.connect(o.targetPort, o.targetHost);
    upstream.setNoDelay(true);
    delayedPipe(client, upstream, o, (n) => (stats.bytesUp += n));
    delayedPipe(upstream, client, o, (n) => (stats.bytesDown += n));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.listenPort, '127.0.0.1', () => resolve({ server, port: (server.address() as net.AddressInfo).port, stats }));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { listen: { type: 'string' }, target: { type: 'string' }, 'delay-ms': { type: 'string' }, 'jitter-ms': { type: 'string' } },
  });
  const [host, port] = (values.target ?? '127.0.0.1:6379').split(':');
  const o: ProxyOptions = {
    listenPort: Number(values.listen ?? 0), targetHost: host ?? '127.0.0.1', targetPort: Number(port ?? 6379),
    delayMs: Number(values['delay-ms'] ?? 20), jitterMs: Number(values['jitter-ms'] ?? 0),
  };
  const p = await startProxy(o);
  process.stdout.write(`listening ${p.port}\n`);
  const stop = () => {
    process.stdout.write(`stats ${JSON.stringify(p.stats)}\n`);
    p.server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: Error) => {
    process.stderr.write(`proxy: ${err.message}\n`);
    process.exit(2);
  });
}
