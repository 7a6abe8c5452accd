// HTTP side of the integration tests: an in-process gateway against the real Redis and Postgres of
// CHORUS_DATA_DIR, a small JSON client over node:http (full control of headers and framing, so 413,
// 415 and chunked bodies can be exercised), per-user clients for the contract's endpoints, the
// persist processor as a child process, and polling helpers. Every answer is checked against
// docs/openapi.yaml (spec.ts): one the spec does not describe fails the request.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { loadConfig, type Config } from '../../config/index.js';
import { createSql } from '../../core/db.js';
import { migrate } from '../../core/migrate.js';
import { createLogger } from '../../core/logger.js';
import { createAuthenticator, type Authenticator } from '../../core/auth.js';
import { createRedis, type RedisClient } from '../../core/redis.js';
import { rangeAfter } from '../../core/stream-commands.js';
import { ZERO_SEQ } from '../../core/seq.js';
import type { StreamEvent } from '../../core/events/index.js';
import { startGateway, type Gateway } from '../../gateway/server.js';
import { REPO_ROOT, spawnRole, uniqueTenant, type RoleProcess } from './env.js';
import { responseProblem } from './spec.js';

export const log = createLogger({ role: 'test', level: 'warn' });

/** The configuration every test uses: the environment only (CHORUS_DATA_DIR and friends). */
export const config: Config = loadConfig();

/** Applies the migrations (idempotent, under an advisory lock). */
export async function migrateDb(config: Config): Promise<void> {
  const sql = createSql(config, { max: 1, app: 'chorus-test-migrate' });
  try {
    await migrate(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export interface TestGateway {
  gateway: Gateway;
  port: number;
  api: Api;
  /** ws://127.0.0.1:<port>/ws */
  wsUrl: string;
  close(): Promise<void>;
}

/** Starts a gateway in this process on a free port. */
export async function startTestGateway(config: Config, overrides: Partial<Config> = {}): Promise<TestGateway> {
  const gateway = await startGateway({ ...config, port: 0, ...overrides }, log);
  const host = config.host;
  let closed = false;
  return {
    gateway,
    port: gateway.port,
    api: new Api(`http://${host}:${gateway.port}`),
    wsUrl: `ws://${host}:${gateway.port}/ws`,
    async close() {
      if (closed) return;
      closed = true;
      await gateway.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface Reply<T = any> {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON when the response was JSON, else undefined. */
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string;
  /** Serialized as JSON with content-type application/json. */
  json?: unknown;
  /** Sent as is (with `contentType` if given). */
  raw?: string | Buffer;
  contentType?: string;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
  headers?: Record<string, string>;
  /** Fail instead of hanging when the server never answers (default 10 s). */
  timeoutMs?: number;
  /** Connect from this local address (e.g. another 127.x.y.z, to be another client of the gateway). */
  localAddress?: string;
}

export class Api {
  constructor(readonly baseUrl: string) {}

  request(method: string, urlPath: string, o: RequestOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token !== undefined) headers['authorization'] = `Bearer ${o.token}`;
    let payload: Buffer | undefined;
    if (o.json !== undefined) {
      payload = Buffer.from(JSON.stringify(o.json));
      headers['content-type'] = o.contentType ?? 'application/json';
    } else if (o.raw !== undefined) {
      payload = Buffer.isBuffer(o.raw) ? o.raw : Buffer.from(o.raw);
      if (o.contentType) headers['content-type'] = o.contentType;
    }
    if (payload && !o.chunked) headers['content-length'] = String(payload.length);
    const url = new URL(urlPath, this.baseUrl);
    return new Promise((resolve, reject) => {
      let settled = false;
      const req = http.request(url, { method, headers, agent: false, localAddress: o.localAddress }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => { if (!settled) { settled = true; reject(err); } });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          const text = Buffer.concat(chunks).toString('utf8');
          let body: any;
          const contentType = res.headers['content-type'];
          if (/json/.test(String(contentType ?? '')) && text) body = JSON.parse(text);
          const status = res.statusCode ?? 0;
          // Every answer a test sees is held against docs/openapi.yaml (test/support/spec.ts).
          const problem = responseProblem(method, url.pathname, status, contentType, body);
          if (problem) reject(new Error(`${method} ${url.pathname} → ${status}: docs/openapi.yaml does not describe this answer: ${problem}\nbody: ${text.slice(0, 600)}`));
          else resolve({ status, headers: res.headers, body, text });
        });
      });
      // The server may answer (413) and close before the whole body was written: the reply wins.
      req.on('error', (err) => { if (!settled) { settled = true; reject(err); } });
      req.setTimeout(o.timeoutMs ?? 10_000, () => {
        req.destroy(new Error(`${method} ${urlPath}: no answer within ${o.timeoutMs ?? 10_000} ms`));
      });
      if (payload && o.chunked) {
        // Several chunks, so that the server sees a body without a length, arriving in pieces.
        const step = 16 * 1024;
        for (let i = 0; i < payload.length; i += step) req.write(payload.subarray(i, i + step));
        req.end();
      } else req.end(payload);
    });
  }

  get(p: string, token?: string): Promise<Reply> { return this.request('GET', p, { token }); }
  post(p: string, token: string | undefined, json?: unknown): Promise<Reply> { return this.request('POST', p, { token, json }); }
  patch(p: string, token: string | undefined, json?: unknown): Promise<Reply> { return this.request('PATCH', p, { token, json }); }
  del(p: string, token?: string): Promise<Reply> { return this.request('DELETE', p, { token }); }
}

/** The contract's error body: exactly `{"error":{"code":"snake_case","message":"…"}}` (details allowed). */
export function assertError(r: Reply, status: number, code?: string): void {
  assert.equal(r.status, status, `expected ${status}${code ? ` ${code}` : ''}, got ${r.status}: ${r.text}`);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.deepEqual(Object.keys(r.body ?? {}), ['error'], `error body shape: ${r.text}`);
  const e = r.body.error as Record<string, unknown>;
  assert.equal(typeof e['code'], 'string');
  assert.match(e['code'] as string, /^[a-z][a-z0-9_]*$/);
  assert.equal(typeof e['message'], 'string');
  assert.ok((e['message'] as string).length > 0);
  for (const k of Object.keys(e)) assert.ok(['code', 'message', 'details'].includes(k), `unexpected error field ${k}`);
  if (code) assert.equal(e['code'], code, r.text);
}

// ---------------------------------------------------------------------------------------------
// Users

export interface ThreadBody { id: string; title: string | null; createdAt: string; participantIds: string[] }
export interface MessageBody {
  id: string; threadId: string; senderId: string; body: string; createdAt: string; seq: string;
  clientMessageId?: string; mentions: string[]; attachmentIds: string[]; editedAt?: string;
}

/** One user of one tenant, speaking the contract's endpoints with their token. */
export class User {
  constructor(readonly api: Api, readonly tenantId: string, readonly userId: string, readonly token: string) {}

  createThread(participantIds: string[], title?: string | null): Promise<Reply<{ thread: ThreadBody }>> {
    return this.api.post('/api/threads', this.token, title === undefined ? { participantIds } : { title, participantIds });
  }
  getThread(threadId: string): Promise<Reply<{ thread: ThreadBody }>> {
    return this.api.get(`/api/threads/${encodeURIComponent(threadId)}`, this.token);
  }
  addParticipant(threadId: string, userId: string): Promise<Reply> {
    return this.api.post(`/api/threads/${encodeURIComponent(threadId)}/participants`, this.token, { userId });
  }
  removeParticipant(threadId: string, userId: string): Promise<Reply> {
    return this.api.del(`/api/threads/${encodeURIComponent(threadId)}/participants/${encodeURIComponent(userId)}`, this.token);
  }
  post(input: Record<string, unknown>): Promise<Reply<{ message: MessageBody }>> {
    return this.api.post('/api/messages', this.token, input);
  }
  edit(messageId: string, body: string): Promise<Reply<{ message: MessageBody }>> {
    return this.api.patch(`/api/messages/${encodeURIComponent(messageId)}`, this.token, { body });
  }
  remove(messageId: string): Promise<Reply> {
    return this.api.del(`/api/messages/${encodeURIComponent(messageId)}`, this.token);
  }
  timeline(threadId: string, query = ''): Promise<Reply<{ messages: MessageBody[]; nextCursor: string | null }>> {
    return this.api.get(`/api/threads/${encodeURIComponent(threadId)}/messages${query ? `?${query}` : ''}`, this.token);
  }

  /** Creates a thread and returns it, failing the test unless the answer is 201. */
  async thread(participantIds: string[], title?: string): Promise<ThreadBody> {
    const r = await this.createThread(participantIds, title);
    assert.equal(r.status, 201, r.text);
    return r.body.thread;
  }
  /** Posts a message and returns it, failing the test unless the answer is 202. */
  async say(threadId: string, body: string, extra: Record<string, unknown> = {}): Promise<MessageBody> {
    const r = await this.post({ threadId, body, ...extra });
    assert.equal(r.status, 202, r.text);
    return r.body.message;
  }
}

/** Makes users of one tenant with locally signed tokens. */
export class Tenant {
  readonly id: string;
  constructor(readonly api: Api, readonly auth: Authenticator, prefix = 't') {
    this.id = uniqueTenant(prefix);
  }
  async user(userId: string, opts: { admin?: boolean } = {}): Promise<User> {
    const token = await this.auth.sign({ tenantId: this.id, userId, admin: opts.admin });
    return new User(this.api, this.id, userId, token);
  }
  /** The same user as seen through another gateway. */
  on(api: Api, u: User): User {
    return new User(api, u.tenantId, u.userId, u.token);
  }
}

export { createAuthenticator };

// ---------------------------------------------------------------------------------------------
// Stream and polling

export function testRedis(config: Config): RedisClient {
  const r = createRedis(config, { name: 'test' });
  r.on('error', (err) => log.warn({ err }, 'test redis error'));
  return r;
}

/** Every entry of a tenant's stream, oldest first. */
export function streamOf(r: RedisClient, tenantId: string): Promise<StreamEvent[]> {
  return rangeAfter(r, tenantId, ZERO_SEQ, '+', 100_000);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `fn` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 5000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------
// The persist processor (Postgres projections behind the timeline)

export const PERSIST_ENTRY = path.join(REPO_ROOT, 'dist', 'processors', 'main.js');

/**
 * Spawns `node dist/processors/main.js persist` with this process's environment and waits until it
 * has projected a probe message (so the tests' 5 s visibility windows measure the steady state, not
 * the processor's start-up).
 */
export async function startPersist(config: Config, api: Api, auth: Authenticator): Promise<RoleProcess> {
  if (!fs.existsSync(PERSIST_ENTRY)) {
    throw new Error(`${PERSIST_ENTRY} does not exist: the persist processor (processors/main.ts) is not built yet`);
  }
  const proc = spawnRole(['processors/main', 'persist', '--consumers', '1'], { CHORUS_DATA_DIR: config.dataDir, LOG_LEVEL: 'warn' });
  try {
    const t = new Tenant(api, auth, 'probe');
    const u = await t.user('probe');
    const th = await u.thread([]);
    const m = await u.say(th.id, 'probe');
    await waitFor('the persist processor to project a probe message', async () => {
      const r = await u.timeline(th.id);
      return r.status === 200 && r.body.messages.some((x) => x.id === m.id);
    }, 20_000, 100);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`${String(err)}\nprocessor output:\n${proc.recentLogs()}`);
  }
  return proc;
}

export async function stopRole(p: RoleProcess | undefined): Promise<void> {
  if (!p) return;
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
  await p.exited;
  clearTimeout(timer);
}
