// The Socket.IO peer: the fanout workload as most Node teams would serve it. A cluster of N
// Socket.IO processes (websocket transport only, so no sticky sessions are needed), rooms per
// thread, @socket.io/redis-streams-adapter over one Redis, and a tiny HTTP API on the same port
// speaking just enough of Chorus's shape for the harness's generator (POST /dev/token,
// POST /api/threads, POST /api/messages → 202 { message: { seq } }). A message is checked against
// the thread's members, numbered (INCR, for the harness's ordering and loss checks) and emitted to
// the room through the adapter (XADD); it is not stored anywhere else — Chorus also persists it.
//
//   node dist/benchmarks/peers/socketio/server.js   (PORT, PEER_PROCESSES, PEER_REDIS_URL, PEER_SECRET)
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import http from 'node:http';
import { Redis } from 'ioredis';
import { Server, type Socket } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';

const PORT = Number(process.env['PORT'] ?? 18900);
const PROCESSES = Math.max(1, Number(process.env['PEER_PROCESSES'] ?? 1));
const REDIS_URL = process.env['PEER_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const SECRET = process.env['PEER_SECRET'] ?? 'peer-bench-secret';
const MAX_BODY = 64 * 1024;

function say(msg: string): void {
  process.stderr.write(`[peer ${process.pid}] ${msg}\n`);
}

function sign(tenant: string, user: string): string {
  const payload = Buffer.from(JSON.stringify({ t: tenant, u: user })).toString('base64url');
  return `${payload}.${crypto.createHmac('sha256', SECRET).update(payload).digest('base64url')}`;
}

function verify(token: string | undefined): { t: string; u: string } | null {
  if (!token) return null;
  const [payload, mac] = token.split('.');
  if (!payload || !mac) return null;
  const want = crypto.createHmac('sha256', SECRET).update(payload).digest();
  const got = Buffer.from(mac, 'base64url');
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) return null;
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { t: string; u: string };
}

const userKey = (t: string, u: string) => `peer:user:${t}:${u}`;
const threadKey = (id: string) => `peer:thread:${id}`;
const room = (id: string) => `th:${id}`;

function readJson(req: http.IncomingMessage): Promise<any> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) reject(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {});
      } catch (err) {
        reject(err as Error);
      }
    });
    req.on('error', reject);
  });
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function worker(): void {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const adapterRedis = new Redis(REDIS_URL);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
  io.adapter(createAdapter(adapterRedis, { onlyPlaintext: true }));

  io.use((socket, next) => {
    const who = verify((socket.handshake.auth as { token?: string }).token);
    if (!who) return next(new Error('unauthorized'));
    socket.data = who;
    next();
  });
  io.on('connection', (socket: Socket) => {
    const { t, u } = socket.data as { t: string; u: string };
    void (async () => {
      const threads = await redis.smembers(userKey(t, u));
      await socket.join(threads.map(room));
      // The head after joining: every message numbered later reaches this socket.
      const head = (await redis.get('peer:seq')) ?? '0';
      socket.emit('hello', { headSeq: `${head}-0` });
    })().catch((err: Error) => {
      say(`connection setup failed: ${err.message}`);
      socket.disconnect(true);
    });
  });

  httpServer.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    // socket.io answers its own path; everything else is ours.
    if (req.url?.startsWith('/socket.io/')) return;
    void handle(req, res).catch((err: Error) => {
      say(`${req.method} ${req.url}: ${err.message}`);
      if (!res.headersSent) reply(res, 500, { error: { code: 'internal' } });
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/readyz') return reply(res, redis.status === 'ready' ? 200 : 503, { ok: redis.status === 'ready' });
    if (req.method === 'POST' && path === '/dev/token') {
      const b = await readJson(req);
      return reply(res, 200, { token: sign(String(b.tenantId), String(b.userId)) });
    }
    const who = verify(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]);
    if (!who) return reply(res, 401, { error: { code: 'unauthorized' } });
    if (req.method === 'POST' && path === '/api/threads') {
      const b = await readJson(req);
      const id = `th_${crypto.randomBytes(9).toString('base64url')}`;
      const members = [who.u, ...((b.participantIds as string[]) ?? [])];
      const m = redis.multi().sadd(threadKey(id), ...members);
      for (const u of members) m.sadd(userKey(who.t, u), id);
      await m.exec();
      return reply(res, 201, { thread: { id, title: b.title, participantIds: members } });
    }
    if (req.method === 'POST' && path === '/api/messages') {
      const b = await readJson(req);
      const threadId = String(b.threadId);
      if (!(await redis.sismember(threadKey(threadId), who.u))) return reply(res, 403, { error: { code: 'forbidden' } });
      const n = await redis.incr('peer:seq');
      const message = {
        id: crypto.randomUUID(), threadId, senderId: who.u, body: b.body, clientMessageId: b.clientMessageId,
        seq: `${n}-0`, createdAt: new Date().toISOString(),
      };
      io.to(room(threadId)).emit('message.created', message);
      return reply(res, 202, { message });
    }
    reply(res, 404, { error: { code: 'not_found' } });
  }

  httpServer.listen(PORT, '127.0.0.1');
  process.on('SIGTERM', () => {
    void io.close();
    redis.disconnect();
    adapterRedis.disconnect();
    setTimeout(() => process.exit(0), 500).unref();
  });
}

if (cluster.isPrimary && PROCESSES > 1) {
  // Round-robin from the primary: Node 20 has no SO_REUSEPORT; websocket-only needs no stickiness.
  for (let i = 0; i < PROCESSES; i++) cluster.fork();
  cluster.on('exit', (w, code, signal) => say(`worker ${w.process.pid} exited (${signal ?? code})`));
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    setTimeout(() => process.exit(0), 1000).unref();
  });
} else {
  worker();
}
