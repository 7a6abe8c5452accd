// A small JSON client over node:http with a keep-alive agent: cheaper per request than fetch, and it
// can bind a source address (each generator uses its own 127.0.0.x). Never throws for HTTP statuses;
// a transport failure or timeout comes back as status 0 with `error` set.
import http from 'node:http';
import { backoffDelay, sleep } from '../../core/backoff.js';

export interface HttpResult {
  status: number;
  body: any;
  error?: string;
}

export interface HttpClientOptions {
  baseUrl: string;
  localAddress?: string;
  maxSockets?: number;
  timeoutMs?: number;
}

export class HttpClient {
  readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly timeoutMs: number;

  constructor(private readonly opts: HttpClientOptions) {
    const u = new URL(opts.baseUrl);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 256, keepAliveMsecs: 10_000 });
  }

  request(method: string, path: string, body?: unknown, token?: string): Promise<HttpResult> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    if (token) headers['authorization'] = `Bearer ${token}`;
    return new Promise((resolve) => {
      let settled = false;
      const done = (r: HttpResult) => {
        if (!settled) {
          settled = true;
          resolve(r);
        }
      };
      const req = http.request(
        { host: this.host, port: this.port, method, path, headers, agent: this.agent, localAddress: this.opts.localAddress },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => done({ status: 0, body: null, error: err.message }));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = null;
            if (text && String(res.headers['content-type'] ?? '').includes('json')) {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = { unparsable: text.slice(0, 200) };
              }
            }
            done({ status: res.statusCode ?? 0, body: parsed ?? text });
          });
        },
      );
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`timeout after ${this.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => done({ status: 0, body: null, error: err.code ?? err.message }));
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs `fn` over `items` with at most `concurrency` at a time. */
export async function mapLimit<T, R>(items: T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  });
  await Promise.all(lanes);
  return out;
}

/** POST /dev/token with retries on 429/503/transport errors (setup is not measured). */
export async function devToken(client: HttpClient, tenantId: string, userId: string, ttlSeconds = 6 * 3600): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const r = await client.request('POST', '/dev/token', { tenantId, userId, ttlSeconds });
    if (r.status === 200 && typeof r.body?.token === 'string') return r.body.token as string;
    const retryable = r.status === 0 || r.status === 429 || r.status === 503;
    if (!retryable || attempt >= 8) throw new Error(`POST /dev/token ${tenantId}/${userId}: ${r.status} ${r.error ?? JSON.stringify(r.body).slice(0, 200)}`);
    await sleep(backoffDelay(attempt, { baseMs: 100, capMs: 5000 }));
  }
}
