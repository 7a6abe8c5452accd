// The one place that reads the environment. Everything else receives a typed, validated Config.
// Every option has its documented default here; README's configuration table mirrors this file.
import path from 'node:path';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import { z } from 'zod';
import { ConfigError, devSecretsPath, loadDevSecrets, requireStrongSecret, type DevSecrets } from './secrets.js';

export { ConfigError } from './secrets.js';

const bool = z
  .string()
  .transform((v) => v === '1' || v.toLowerCase() === 'true' || v.toLowerCase() === 'yes');
const int = (def: number) => z.coerce.number().int().nonnegative().default(def);

const EnvSchema = z.object({
  NODE_ENV: z.string().default('development'),
  HOST: z.string().default('127.0.0.1'),
  PORT: int(8080),
  CHORUS_DATA_DIR: z.string().default('.data'),
  REDIS_URL: z.string().optional(),
  REDIS_CLUSTER_NODES: z.string().optional(),
  CHORUS_REDIS_COMMAND_TIMEOUT_MS: int(3000),
  CHORUS_HTTP_TIMEOUT_MS: int(10_000),
  DATABASE_URL: z.string().optional(),
  CHORUS_DEV_AUTH: bool.optional(),
  LOG_LEVEL: z.string().default('info'),
  /** Port of the /metrics endpoint of a processor process (0 = none); npm start assigns one per role. */
  CHORUS_METRICS_PORT: int(0),
  /** /metrics access (core/metrics-access.ts): a bearer token, and addresses served without one. */
  CHORUS_METRICS_TOKEN: z.string().min(16).optional(),
  CHORUS_METRICS_ALLOW: z.string().optional(),

  // identity
  JWT_ALGORITHMS: z.string().default('HS256'),
  JWT_SECRET: z.string().optional(),
  JWT_SECRETS: z.string().optional(),
  JWT_PUBLIC_KEY: z.string().optional(),
  JWT_JWKS_URL: z.string().optional(),
  JWT_JWKS: z.string().optional(),
  JWT_ISSUER: z.string().default('chorus'),
  JWT_AUDIENCE: z.string().default('chorus'),
  JWT_CLOCK_TOLERANCE_S: int(5),
  JWT_CACHE_SIZE: int(10000),
  JWT_CACHE_TTL_S: int(60),

  // write path
  CHORUS_IDEMPOTENCY_TTL_S: int(24 * 3600),
  CHORUS_MESSAGE_META_TTL_S: int(24 * 3600),
  CHORUS_MAX_BODY_BYTES: int(64 * 1024),
  CHORUS_MAX_PARTICIPANTS: int(1000),

  // streams and processors
  CHORUS_STREAM_RETENTION_MS: int(24 * 3600 * 1000),
  CHORUS_STREAM_MAX_LEN: int(1_000_000),
  CHORUS_PROCESSOR_BATCH: int(200),
  CHORUS_PROCESSOR_BLOCK_MS: int(1000),
  CHORUS_PROCESSOR_GATHER_MS: int(20),
  CHORUS_CLAIM_IDLE_MS: int(15_000),
  CHORUS_CLAIM_INTERVAL_MS: int(2_000),
  CHORUS_MAX_DELIVERIES: int(5),
  CHORUS_TENANT_POLL_MS: int(2_000),

  // gateway
  CHORUS_GATEWAYS: int(1),
  CHORUS_NODE_ARGS: z.string().default(''),
  CHORUS_BACKGROUND_NICE: int(5),
  CHORUS_HEARTBEAT_INTERVAL_MS: int(25_000),
  CHORUS_WS_MAX_PAYLOAD: int(16 * 1024),
  CHORUS_WS_SOFT_BUFFER: int(256 * 1024),
  CHORUS_WS_HARD_BUFFER: int(1024 * 1024),
  CHORUS_WS_IDLE_TIMEOUT_S: int(120),
  CHORUS_REPLAY_MAX_EVENTS: int(50_000),
  CHORUS_REPLAY_CACHE_EVENTS: int(20_000),
  CHORUS_DRAIN_WINDOW_MS: int(5_000),
  CHORUS_ALLOWED_ORIGINS: z.string().default('*'),
  CHORUS_MAX_CONN_PER_USER: int(50),
  CHORUS_MAX_CONN_PER_TENANT: int(20_000),
  CHORUS_WS_FRAMES_PER_S: int(50),
  CHORUS_WS_FRAMES_BURST: int(100),

  // rate limits (token buckets in Redis, shared by all gateways; rate 0 disables)
  CHORUS_RATE_MSG_USER_PER_S: int(20),
  CHORUS_RATE_MSG_USER_BURST: int(40),
  CHORUS_RATE_MSG_TENANT_PER_S: int(1000),
  CHORUS_RATE_MSG_TENANT_BURST: int(2000),
  CHORUS_RATE_EMIT_USER_PER_S: int(5),
  CHORUS_RATE_EMIT_USER_BURST: int(10),
  CHORUS_RATE_EMIT_TENANT_PER_S: int(500),
  CHORUS_RATE_EMIT_TENANT_BURST: int(1000),
  CHORUS_RATE_PRESENCE_USER_PER_S: int(10),
  CHORUS_RATE_PRESENCE_USER_BURST: int(20),
  CHORUS_RATE_DEV_TOKEN_PER_S: int(5),
  CHORUS_RATE_DEV_TOKEN_BURST: int(50),

  // typing indicators: on by default; switched off for a while when the fanout budget is exceeded
  CHORUS_TYPING_ENABLED: bool.optional(),
  CHORUS_TYPING_BUDGET_PER_S: int(5000),

  // presence (docs/presence.md): state TTL, coalescing, sharded fanout, batching, summary-mode backstop
  CHORUS_PRESENCE_SHARDS: int(64),
  CHORUS_PRESENCE_SHARDS_BY_TENANT: z.string().default(''),
  CHORUS_PRESENCE_TTL_S: int(75),
  CHORUS_PRESENCE_COALESCE_MS: int(5_000),
  CHORUS_PRESENCE_DEDUPE_TTL_S: int(60),
  CHORUS_PRESENCE_BATCH_MAX: int(100),
  CHORUS_PRESENCE_BATCH_MS: int(200),
  CHORUS_PRESENCE_SUMMARY_THRESHOLD: int(20_000),
  CHORUS_PRESENCE_SUMMARY_RECOVERY: int(2_000),
  CHORUS_PRESENCE_SUMMARY_INTERVAL_MS: int(1_000),
  CHORUS_PRESENCE_SWEEP_INTERVAL_MS: int(1_000),
  CHORUS_PRESENCE_LOAD_WINDOW_MS: int(60_000),
  CHORUS_PRESENCE_RECONCILE_MS: int(30_000),
  CHORUS_PRESENCE_DRAIN_GRACE_MS: int(15_000),
  CHORUS_PRESENCE_MAX_USER_IDS: int(200),

  // read models: unread counter reconciliation (docs/read-models.md)
  CHORUS_RECONCILE_INTERVAL_MS: int(900_000),
  CHORUS_RECONCILE_THRESHOLD: int(0),

  // attachments (docs/attachments.md): storage, limits, scanning, thumbnails
  CHORUS_STORAGE: z.enum(['local', 's3']).default('local'),
  CHORUS_PUBLIC_URL: z.string().url().optional(),
  CHORUS_OBJECT_URL_SECRET: z.string().min(16).optional(),
  CHORUS_S3_BUCKET: z.string().optional(),
  CHORUS_S3_REGION: z.string().default('us-east-1'),
  CHORUS_S3_ENDPOINT: z.string().url().optional(),
  CHORUS_S3_FORCE_PATH_STYLE: bool.optional(),
  CHORUS_S3_PREFIX: z.string().default(''),
  CHORUS_ATTACHMENT_MAX_BYTES: int(25 * 1024 * 1024),
  CHORUS_ATTACHMENT_TYPES: z.string().default('image/png,image/jpeg,image/gif,image/webp,application/pdf,application/zip,text/plain'),
  CHORUS_UPLOAD_URL_TTL_S: int(900),
  CHORUS_DOWNLOAD_URL_TTL_S: int(300),
  CHORUS_CLAMD_SOCKET: z.string().optional(),
  CHORUS_CLAMD_TIMEOUT_MS: int(60_000),
  CHORUS_CLAMAV_DB_DIR: z.string().optional(),
  CHORUS_SCAN_THREADS: int(2),
  CHORUS_THUMB_THREADS: int(1),
  CHORUS_THUMB_MAX_PIXELS: int(40_000_000),
  CHORUS_THUMB_SIZE: int(320),
  CHORUS_THUMB_HEAP_MB: int(64),

  // notifications (docs/notifications.md): retries, digests, circuit breakers, providers, callbacks
  CHORUS_NOTIFY_RETRY_BASE_MS: int(250),
  CHORUS_NOTIFY_RETRY_FACTOR: z.coerce.number().min(1).default(2),
  CHORUS_NOTIFY_RETRY_CAP_MS: int(30_000),
  CHORUS_NOTIFY_MAX_ATTEMPTS: int(8),
  CHORUS_NOTIFY_DIGEST_WINDOW_MS: int(15 * 60_000),
  CHORUS_NOTIFY_TICK_MS: int(250),
  CHORUS_NOTIFY_CONCURRENCY: int(16),
  CHORUS_NOTIFY_SEND_TIMEOUT_MS: int(20_000),
  CHORUS_NOTIFY_STREAM_RETENTION_MS: int(3600_000),
  CHORUS_NOTIFY_BREAKER_THRESHOLD: int(5),
  CHORUS_NOTIFY_BREAKER_OPEN_MS: int(15_000),
  CHORUS_NOTIFY_ALERT_AFTER_MS: int(60_000),
  CHORUS_SMTP_URL: z.string().optional(),
  CHORUS_SMTP_POOL: int(16),
  CHORUS_EMAIL_FROM: z.string().default('Chorus <notifications@chorus.invalid>'),
  CHORUS_PUSH_GATEWAY_URL: z.string().url().optional(),
  CHORUS_EMAIL_CALLBACK_SECRET: z.string().min(16).optional(),
  CHORUS_PUSH_CALLBACK_SECRET: z.string().min(16).optional(),
});

export interface Config {
  env: string;
  production: boolean;
  host: string;
  port: number;
  dataDir: string;
  /** Directory for the unix sockets of the local Redis and Postgres (kept short: sun_path is 108 bytes). */
  socketDir: string;
  logLevel: string;
  /** /metrics port of non-gateway roles (0: not served). */
  metricsPort: number;
  /**
   * Who may read /metrics (gateway and processor roles): a request with `Authorization: Bearer <token>`,
   * or from an address of `allow` (IPs or CIDRs; loopback outside production, none in production).
   */
  metricsAccess: { token?: string; allow: string[] };
  /** Extra node arguments for every role the supervisor starts (e.g. --cpu-prof). */
  roleNodeArgs: string[];
  /** Niceness of the roles off the realtime path (processors, workers); 0 keeps them at normal priority. */
  backgroundNice: number;
  devAuth: boolean;
  /** The dev secrets file of the data dir when a secret came from it (never in production). */
  devSecretsFile?: string;
  redis: { url?: string; clusterNodes?: string[]; socketPath: string; commandTimeoutMs: number };
  /** A request still unanswered after this answers 503 dependency_unavailable (never hangs). */
  httpTimeoutMs: number;
  database: { url?: string; socketDir: string; port: number; user: string; database: string };
  jwt: {
    algorithms: string[];
    /**
     * HMAC keys (HS256/384/512) by kid; the first is the current one (signs dev tokens). A token names
     * its key in its `kid` header; a token without one is checked with the key of kid `default`.
     */
    hmacKeys: { kid: string; secret: string }[];
    /** At most one asymmetric key source: a PEM public key, a remote JWKS, or a local JWKS. */
    publicKey?: string;
    jwksUrl?: string;
    jwks?: { keys: Record<string, unknown>[] };
    issuer: string;
    audience: string;
    clockToleranceS: number;
    /** Verified tokens remembered per process (0: verify every request) and for how long at most. */
    cacheSize: number;
    cacheTtlS: number;
  };
  ingest: { idempotencyTtlS: number; messageMetaTtlS: number; maxBodyBytes: number; maxParticipants: number };
  streams: { retentionMs: number; maxLen: number };
  processors: {
    batch: number;
    blockMs: number;
    /** After a read that did not fill a batch, wait this long before the next read, so batches form under load. */
    gatherMs: number;
    claimIdleMs: number;
    claimIntervalMs: number;
    maxDeliveries: number;
    tenantPollMs: number;
  };
  gateway: {
    processes: number;
    heartbeatIntervalMs: number;
    maxPayload: number;
    softBuffer: number;
    hardBuffer: number;
    idleTimeoutS: number;
    replayMaxEvents: number;
    /** Recent events kept per hosted tenant so resuming connections share one copy. */
    replayCacheEvents: number;
    drainWindowMs: number;
    allowedOrigins: string[] | '*';
    maxConnPerUser: number;
    maxConnPerTenant: number;
    /** Per-connection frame bucket (local): over it frames get `rate_limited`, a flood closes 1008. */
    framesPerS: number;
    framesBurst: number;
    typingEnabled: boolean;
    typingBudgetPerS: number;
  };
  /** Presence state, coalescing and fanout (docs/presence.md). */
  presence: {
    /** Shards per tenant (shardId = fnv1a(userId) % shards); per-tenant overrides in shardsByTenant. */
    shards: number;
    shardsByTenant: Record<string, number>;
    /** A connection counts as online this long after its last heartbeat (or connect). */
    ttlMs: number;
    /** Changes other than offline<->online are published at most once per user per window. */
    coalesceMs: number;
    /** Lifetime of the `tenant:user:version` idempotency key of a published update. */
    dedupeTtlMs: number;
    /** A presence.batch frame holds at most batchMax users (≤ 100) and waits at most batchMs. */
    batchMax: number;
    batchMs: number;
    /** Pending updates of this gateway above which subscribers get presence.summary; below recovery they catch up. */
    summaryThreshold: number;
    summaryRecovery: number;
    summaryIntervalMs: number;
    sweepIntervalMs: number;
    /** Window over which updates per shard are counted for the rebalance suggestion. */
    loadWindowMs: number;
    /** How often a gateway re-reads the state of the users it watches (repairs lost pub/sub messages). */
    reconcileMs: number;
    /** A connection closed by a draining gateway stays online this long, so a reconnect elsewhere is no flap. */
    drainGraceMs: number;
    /** GET /api/presence accepts at most this many userIds. */
    maxUserIds: number;
  };
  /** Unread counters are recomputed every intervalMs; rows off by more than threshold are healed. */
  readModels: { reconcileIntervalMs: number; reconcileThreshold: number };
  /** The attachment pipeline (docs/attachments.md). */
  attachments: {
    /** Largest upload in bytes (declared size and PUT body). */
    maxBytes: number;
    /** Declared content types that may be uploaded; the real type must match (magic bytes). */
    allowedTypes: string[];
    uploadUrlTtlS: number;
    downloadUrlTtlS: number;
    storage: {
      kind: 'local' | 's3';
      /** Local store root: <dataDir>/objects. */
      localDir: string;
      /** Base of the signed URLs of the local store (the gateway serves /objects/...). */
      publicUrl: string;
      /** HMAC secret of the local store's signed URLs (the dev secrets file's outside production, unless set). */
      urlSecret: string;
      s3: { bucket: string; region: string; endpoint?: string; forcePathStyle: boolean; prefix: string };
    };
    clamd: {
      /** clamd's unix socket: CHORUS_CLAMD_SOCKET, else the local clamd's under socketDir. */
      socketPath: string;
      /** True when the stack starts its own clamd (ops/local-clamd.ts): CHORUS_CLAMD_SOCKET unset. */
      local: boolean;
      timeoutMs: number;
      /** Signature database override; default /var/lib/clamav when it holds one, else the test signatures. */
      databaseDir?: string;
    };
    scanThreads: number;
    thumbnails: { threads: number; maxPixels: number; size: number; heapMb: number };
  };
  /** The notification pipeline (docs/notifications.md). */
  notify: {
    /** Retries of a failed provider call: backoffDelay(attempt, retry) up to maxAttempts, then the dead letters. */
    retry: { baseMs: number; factor: number; capMs: number; maxAttempts: number };
    /** Low-priority notifications of a user and channel are sent together once per window. */
    digestWindowMs: number;
    /** How often each consumer moves due retries back onto its queue and closes due digests. */
    tickMs: number;
    /** Jobs read per batch and sent in parallel per consumer. */
    concurrency: number;
    /** A provider call taking longer fails (transient); the in-flight lease lasts 1.5 × this + 1 s. */
    sendTimeoutMs: number;
    /** Acknowledged jobs are trimmed from the channel queues after this long. */
    streamRetentionMs: number;
    /** Consecutive transient failures that open a provider's breaker, how long it stays open, and when an open breaker raises the alert. */
    breaker: { threshold: number; openMs: number; alertAfterMs: number };
    email: {
      /** Breaker and metrics name of the provider. */
      provider: string;
      /** CHORUS_SMTP_URL (smtp[s]://user:pass@host:port); unset: the local SMTP sink on socketPath. */
      url?: string;
      socketPath: string;
      local: boolean;
      pool: number;
      from: string;
      /** HMAC-SHA256 secret of the provider's status callbacks (undefined in production unless set: callbacks refused). */
      callbackSecret?: string;
    };
    push: {
      provider: string;
      /** CHORUS_PUSH_GATEWAY_URL (http[s]); unset: the local push sink on socketPath. */
      url?: string;
      socketPath: string;
      local: boolean;
      callbackSecret?: string;
    };
  };
  rateLimits: {
    messageUser: { rate: number; burst: number };
    messageTenant: { rate: number; burst: number };
    emitUser: { rate: number; burst: number };
    emitTenant: { rate: number; burst: number };
    /** GET /api/presence per user (no tenant bucket). */
    presenceReadUser: { rate: number; burst: number };
    /** POST /dev/token per client address (IPv6: per /64). */
    devTokenClient: { rate: number; burst: number };
  };
}

function shortSocketDir(dataDir: string): string {
  const preferred = path.join(path.resolve(dataDir), 'run');
  // sun_path is 108 bytes; leave room for "/.s.PGSQL.5432" and "redis.sock".
  if (preferred.length <= 80) return preferred;
  const h = crypto.createHash('sha1').update(path.resolve(dataDir)).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `chorus-${h}`);
}

type Env = z.infer<typeof EnvSchema>;
/** What the section builders share: the environment kind, paths, and the dev secrets (read on first need). */
interface Context { production: boolean; dataDir: string; socketDir: string; dev: () => DevSecrets }

const KID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** JWT_SECRETS `kid:secret,kid:secret` (the first signs), or JWT_SECRET as the one key of kid `default`. */
function hmacKeys(e: Env, algorithms: string[], c: Context): Config['jwt']['hmacKeys'] {
  if (e.JWT_SECRET !== undefined && e.JWT_SECRETS !== undefined) throw new ConfigError('set JWT_SECRET or JWT_SECRETS, not both');
  let keys: Config['jwt']['hmacKeys'] = [];
  if (e.JWT_SECRETS !== undefined) {
    for (const part of e.JWT_SECRETS.split(',').map((s) => s.trim()).filter(Boolean)) {
      const at = part.indexOf(':');
      const kid = part.slice(0, at);
      const secret = part.slice(at + 1);
      if (at < 0 || !KID_RE.test(kid) || !secret) throw new ConfigError(`JWT_SECRETS: "${kid || part.slice(0, 8)}…" is not kid:secret (kid ^[A-Za-z0-9._-]{1,64}$)`);
      if (keys.some((k) => k.kid === kid)) throw new ConfigError(`JWT_SECRETS: kid "${kid}" appears twice`);
      keys.push({ kid, secret });
    }
    if (!keys.length) throw new ConfigError('JWT_SECRETS is set but names no kid:secret');
  } else if (e.JWT_SECRET) keys = [{ kid: 'default', secret: e.JWT_SECRET }];
  else if (algorithms.some((a) => a.startsWith('HS'))) {
    if (c.production) throw new ConfigError('JWT_SECRET (or JWT_SECRETS) is required in production while JWT_ALGORITHMS allows HS256');
    keys = [{ kid: 'default', secret: c.dev().jwt }];
  }
  if (c.production) {
    for (const k of keys) requireStrongSecret(e.JWT_SECRETS !== undefined ? `JWT_SECRETS (kid "${k.kid}")` : 'JWT_SECRET', k.secret);
  }
  return keys;
}

/** JWT_JWKS: a JSON Web Key Set inline (`{"keys":[…]}`) or the path of a file holding one. */
function localJwks(v: string | undefined): Config['jwt']['jwks'] {
  if (v === undefined || !v.trim()) return undefined;
  let text = v.trim();
  if (!text.startsWith('{')) {
    try {
      text = fs.readFileSync(text, 'utf8');
    } catch (err) {
      throw new ConfigError(`JWT_JWKS: cannot read the file ${v}: ${(err as Error).message}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`JWT_JWKS is not valid JSON: ${(err as Error).message}`);
  }
  const jwks = z.object({ keys: z.array(z.object({ kty: z.string() }).passthrough()).min(1) }).safeParse(parsed);
  if (!jwks.success) throw new ConfigError('JWT_JWKS must be a JSON Web Key Set: {"keys":[{"kty":…,"kid":…},…]} with at least one key');
  return jwks.data;
}

function attachmentsConfig(e: Env, c: Context): Config['attachments'] {
  if (e.CHORUS_STORAGE === 's3' && !e.CHORUS_S3_BUCKET) throw new ConfigError('CHORUS_STORAGE=s3 needs CHORUS_S3_BUCKET');
  if (e.CHORUS_STORAGE === 'local' && c.production && !e.CHORUS_OBJECT_URL_SECRET) {
    throw new ConfigError('CHORUS_OBJECT_URL_SECRET is required for local object storage in production');
  }
  if (c.production && e.CHORUS_OBJECT_URL_SECRET !== undefined) requireStrongSecret('CHORUS_OBJECT_URL_SECRET', e.CHORUS_OBJECT_URL_SECRET);
  const host = ['0.0.0.0', '::', ''].includes(e.HOST) ? '127.0.0.1' : e.HOST.includes(':') ? `[${e.HOST}]` : e.HOST;
  // Outside production an unset secret comes from the dev secrets file (S3 never uses it: not read then).
  const urlSecret = e.CHORUS_OBJECT_URL_SECRET ?? (c.production || e.CHORUS_STORAGE !== 'local' ? '' : c.dev().objectUrl);
  return {
    maxBytes: Math.max(1, e.CHORUS_ATTACHMENT_MAX_BYTES),
    allowedTypes: e.CHORUS_ATTACHMENT_TYPES.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean),
    uploadUrlTtlS: Math.max(10, e.CHORUS_UPLOAD_URL_TTL_S),
    downloadUrlTtlS: Math.max(10, e.CHORUS_DOWNLOAD_URL_TTL_S),
    storage: {
      kind: e.CHORUS_STORAGE,
      localDir: path.join(c.dataDir, 'objects'),
      publicUrl: (e.CHORUS_PUBLIC_URL ?? `http://${host}:${e.PORT}`).replace(/\/+$/, ''),
      urlSecret,
      s3: {
        bucket: e.CHORUS_S3_BUCKET ?? '', region: e.CHORUS_S3_REGION, endpoint: e.CHORUS_S3_ENDPOINT,
        forcePathStyle: e.CHORUS_S3_FORCE_PATH_STYLE ?? !!e.CHORUS_S3_ENDPOINT, prefix: e.CHORUS_S3_PREFIX,
      },
    },
    clamd: {
      socketPath: e.CHORUS_CLAMD_SOCKET ?? path.join(c.socketDir, 'clamd', 'clamd.sock'),
      local: !e.CHORUS_CLAMD_SOCKET,
      timeoutMs: Math.max(1000, e.CHORUS_CLAMD_TIMEOUT_MS),
      databaseDir: e.CHORUS_CLAMAV_DB_DIR,
    },
    scanThreads: Math.max(1, e.CHORUS_SCAN_THREADS),
    thumbnails: {
      threads: Math.max(1, e.CHORUS_THUMB_THREADS),
      maxPixels: Math.max(1, e.CHORUS_THUMB_MAX_PIXELS),
      size: Math.min(2048, Math.max(16, e.CHORUS_THUMB_SIZE)),
      heapMb: Math.max(16, e.CHORUS_THUMB_HEAP_MB),
    },
  };
}

function notifyConfig(e: Env, c: Context): Config['notify'] {
  // Production: unset means callbacks are refused, set means strong enough. Elsewhere unset means the dev secrets file's.
  const callbackSecret = (variable: string, value: string | undefined, dev: () => string) => {
    if (c.production && value !== undefined) requireStrongSecret(variable, value);
    return value ?? (c.production ? undefined : dev());
  };
  return {
    retry: {
      baseMs: Math.max(1, e.CHORUS_NOTIFY_RETRY_BASE_MS),
      factor: e.CHORUS_NOTIFY_RETRY_FACTOR,
      capMs: Math.max(1, e.CHORUS_NOTIFY_RETRY_CAP_MS),
      maxAttempts: Math.max(1, e.CHORUS_NOTIFY_MAX_ATTEMPTS),
    },
    digestWindowMs: Math.max(100, e.CHORUS_NOTIFY_DIGEST_WINDOW_MS),
    tickMs: Math.max(10, e.CHORUS_NOTIFY_TICK_MS),
    concurrency: Math.min(256, Math.max(1, e.CHORUS_NOTIFY_CONCURRENCY)),
    sendTimeoutMs: Math.max(100, e.CHORUS_NOTIFY_SEND_TIMEOUT_MS),
    streamRetentionMs: Math.max(1000, e.CHORUS_NOTIFY_STREAM_RETENTION_MS),
    breaker: {
      threshold: Math.max(1, e.CHORUS_NOTIFY_BREAKER_THRESHOLD),
      openMs: Math.max(10, e.CHORUS_NOTIFY_BREAKER_OPEN_MS),
      alertAfterMs: e.CHORUS_NOTIFY_ALERT_AFTER_MS,
    },
    email: {
      provider: 'smtp',
      url: e.CHORUS_SMTP_URL,
      socketPath: path.join(c.socketDir, 'notify', 'smtp.sock'),
      local: !e.CHORUS_SMTP_URL,
      pool: Math.max(1, e.CHORUS_SMTP_POOL),
      from: e.CHORUS_EMAIL_FROM,
      callbackSecret: callbackSecret('CHORUS_EMAIL_CALLBACK_SECRET', e.CHORUS_EMAIL_CALLBACK_SECRET, () => c.dev().emailCallback),
    },
    push: {
      provider: 'push-gateway',
      url: e.CHORUS_PUSH_GATEWAY_URL,
      socketPath: path.join(c.socketDir, 'notify', 'push.sock'),
      local: !e.CHORUS_PUSH_GATEWAY_URL,
      callbackSecret: callbackSecret('CHORUS_PUSH_CALLBACK_SECRET', e.CHORUS_PUSH_CALLBACK_SECRET, () => c.dev().pushCallback),
    },
  };
}

/** `acme:128,small:8` → {acme: 128, small: 8}: presence shard counts of tenants that differ from the default. */
function parseShardOverrides(v: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_-]{1,64}):(\d{1,5})$/.exec(part);
    if (!m || Number(m[2]) < 1) throw new ConfigError(`CHORUS_PRESENCE_SHARDS_BY_TENANT: "${part}" is not tenant:shards`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** CHORUS_METRICS_ALLOW: comma-separated IPs or CIDRs; unset means loopback, except in production (none). */
function metricsAccessConfig(token: string | undefined, allow: string | undefined, production: boolean): Config['metricsAccess'] {
  if (production && token !== undefined) requireStrongSecret('CHORUS_METRICS_TOKEN', token);
  const entries = allow === undefined ? (production ? [] : ['127.0.0.1', '::1']) : allow.split(',').map((s) => s.trim()).filter(Boolean);
  for (const a of entries) {
    const [ip, bits, extra] = a.split('/');
    const family = net.isIP(ip ?? '');
    const max = family === 6 ? 128 : 32;
    if (!family || extra !== undefined || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= max))) {
      throw new ConfigError(`CHORUS_METRICS_ALLOW: "${a}" is not an IP address or CIDR`);
    }
  }
  return { token, allow: entries };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${details}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const dataDir = path.resolve(e.CHORUS_DATA_DIR);
  const socketDir = shortSocketDir(dataDir);
  const algorithms = e.JWT_ALGORITHMS.split(',').map((s) => s.trim()).filter(Boolean);
  if (algorithms.some((a) => a.toLowerCase() === 'none')) throw new ConfigError('JWT_ALGORITHMS must not contain "none"');
  const asymmetric = (['JWT_PUBLIC_KEY', 'JWT_JWKS_URL', 'JWT_JWKS'] as const).filter((k) => e[k] !== undefined && e[k].trim() !== '');
  if (asymmetric.length > 1) throw new ConfigError(`set one asymmetric key source, not ${asymmetric.join(' and ')}`);
  // The dev secrets file is read (or created) only when some secret is not configured, never in production.
  const devFile: { secrets?: DevSecrets } = {};
  const c: Context = { production, dataDir, socketDir, dev: () => (devFile.secrets ??= loadDevSecrets(dataDir)) };
  const jwtKeys = hmacKeys(e, algorithms, c);
  const attachments = attachmentsConfig(e, c);
  const notify = notifyConfig(e, c);
  const origins = e.CHORUS_ALLOWED_ORIGINS.trim();
  return {
    env: e.NODE_ENV,
    production,
    host: e.HOST,
    port: e.PORT,
    dataDir,
    socketDir,
    logLevel: e.LOG_LEVEL,
    metricsPort: e.CHORUS_METRICS_PORT,
    metricsAccess: metricsAccessConfig(e.CHORUS_METRICS_TOKEN, e.CHORUS_METRICS_ALLOW, production),
    devAuth: e.CHORUS_DEV_AUTH ?? !production,
    devSecretsFile: devFile.secrets ? devSecretsPath(dataDir) : undefined,
    redis: {
      url: e.REDIS_URL,
      clusterNodes: e.REDIS_CLUSTER_NODES?.split(',').map((s) => s.trim()).filter(Boolean),
      socketPath: path.join(socketDir, 'redis.sock'),
      commandTimeoutMs: Math.max(100, e.CHORUS_REDIS_COMMAND_TIMEOUT_MS),
    },
    httpTimeoutMs: Math.max(100, e.CHORUS_HTTP_TIMEOUT_MS),
    roleNodeArgs: e.CHORUS_NODE_ARGS.split(/\s+/).filter(Boolean),
    backgroundNice: Math.min(19, Math.max(0, e.CHORUS_BACKGROUND_NICE)),
    database: { url: e.DATABASE_URL, socketDir, port: 5432, user: 'chorus', database: 'chorus' },
    jwt: {
      algorithms,
      hmacKeys: jwtKeys,
      publicKey: e.JWT_PUBLIC_KEY || undefined,
      jwksUrl: e.JWT_JWKS_URL || undefined,
      jwks: localJwks(e.JWT_JWKS),
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      clockToleranceS: e.JWT_CLOCK_TOLERANCE_S,
      cacheSize: e.JWT_CACHE_SIZE,
      cacheTtlS: e.JWT_CACHE_TTL_S,
    },
    ingest: {
      idempotencyTtlS: e.CHORUS_IDEMPOTENCY_TTL_S,
      messageMetaTtlS: e.CHORUS_MESSAGE_META_TTL_S,
      maxBodyBytes: e.CHORUS_MAX_BODY_BYTES,
      maxParticipants: e.CHORUS_MAX_PARTICIPANTS,
    },
    streams: { retentionMs: e.CHORUS_STREAM_RETENTION_MS, maxLen: e.CHORUS_STREAM_MAX_LEN },
    processors: {
      batch: Math.max(1, e.CHORUS_PROCESSOR_BATCH),
      blockMs: e.CHORUS_PROCESSOR_BLOCK_MS,
      gatherMs: Math.min(1000, e.CHORUS_PROCESSOR_GATHER_MS),
      claimIdleMs: e.CHORUS_CLAIM_IDLE_MS,
      claimIntervalMs: Math.max(50, e.CHORUS_CLAIM_INTERVAL_MS),
      maxDeliveries: Math.max(1, e.CHORUS_MAX_DELIVERIES),
      tenantPollMs: Math.max(100, e.CHORUS_TENANT_POLL_MS),
    },
    gateway: {
      processes: Math.max(1, e.CHORUS_GATEWAYS),
      heartbeatIntervalMs: e.CHORUS_HEARTBEAT_INTERVAL_MS,
      maxPayload: e.CHORUS_WS_MAX_PAYLOAD,
      softBuffer: e.CHORUS_WS_SOFT_BUFFER,
      hardBuffer: Math.max(e.CHORUS_WS_HARD_BUFFER, e.CHORUS_WS_SOFT_BUFFER),
      idleTimeoutS: e.CHORUS_WS_IDLE_TIMEOUT_S,
      replayMaxEvents: e.CHORUS_REPLAY_MAX_EVENTS,
      replayCacheEvents: e.CHORUS_REPLAY_CACHE_EVENTS,
      drainWindowMs: e.CHORUS_DRAIN_WINDOW_MS,
      allowedOrigins: origins === '*' ? '*' : origins.split(',').map((s) => s.trim()).filter(Boolean),
      maxConnPerUser: e.CHORUS_MAX_CONN_PER_USER,
      maxConnPerTenant: e.CHORUS_MAX_CONN_PER_TENANT,
      framesPerS: e.CHORUS_WS_FRAMES_PER_S,
      framesBurst: Math.max(1, e.CHORUS_WS_FRAMES_BURST),
      typingEnabled: e.CHORUS_TYPING_ENABLED ?? true,
      typingBudgetPerS: e.CHORUS_TYPING_BUDGET_PER_S,
    },
    presence: {
      shards: Math.max(1, e.CHORUS_PRESENCE_SHARDS),
      shardsByTenant: parseShardOverrides(e.CHORUS_PRESENCE_SHARDS_BY_TENANT),
      ttlMs: Math.max(1, e.CHORUS_PRESENCE_TTL_S) * 1000,
      coalesceMs: e.CHORUS_PRESENCE_COALESCE_MS,
      dedupeTtlMs: Math.max(1, e.CHORUS_PRESENCE_DEDUPE_TTL_S) * 1000,
      batchMax: Math.min(100, Math.max(1, e.CHORUS_PRESENCE_BATCH_MAX)),
      batchMs: Math.max(1, e.CHORUS_PRESENCE_BATCH_MS),
      summaryThreshold: Math.max(1, e.CHORUS_PRESENCE_SUMMARY_THRESHOLD),
      summaryRecovery: Math.min(e.CHORUS_PRESENCE_SUMMARY_RECOVERY, Math.max(1, e.CHORUS_PRESENCE_SUMMARY_THRESHOLD)),
      summaryIntervalMs: Math.max(100, e.CHORUS_PRESENCE_SUMMARY_INTERVAL_MS),
      sweepIntervalMs: Math.max(50, e.CHORUS_PRESENCE_SWEEP_INTERVAL_MS),
      loadWindowMs: Math.max(1000, e.CHORUS_PRESENCE_LOAD_WINDOW_MS),
      reconcileMs: Math.max(1000, e.CHORUS_PRESENCE_RECONCILE_MS),
      drainGraceMs: e.CHORUS_PRESENCE_DRAIN_GRACE_MS,
      maxUserIds: Math.max(1, e.CHORUS_PRESENCE_MAX_USER_IDS),
    },
    readModels: { reconcileIntervalMs: Math.max(1000, e.CHORUS_RECONCILE_INTERVAL_MS), reconcileThreshold: e.CHORUS_RECONCILE_THRESHOLD },
    attachments,
    notify,
    rateLimits: {
      messageUser: { rate: e.CHORUS_RATE_MSG_USER_PER_S, burst: Math.max(1, e.CHORUS_RATE_MSG_USER_BURST) },
      messageTenant: { rate: e.CHORUS_RATE_MSG_TENANT_PER_S, burst: Math.max(1, e.CHORUS_RATE_MSG_TENANT_BURST) },
      emitUser: { rate: e.CHORUS_RATE_EMIT_USER_PER_S, burst: Math.max(1, e.CHORUS_RATE_EMIT_USER_BURST) },
      emitTenant: { rate: e.CHORUS_RATE_EMIT_TENANT_PER_S, burst: Math.max(1, e.CHORUS_RATE_EMIT_TENANT_BURST) },
      presenceReadUser: { rate: e.CHORUS_RATE_PRESENCE_USER_PER_S, burst: Math.max(1, e.CHORUS_RATE_PRESENCE_USER_BURST) },
      devTokenClient: { rate: e.CHORUS_RATE_DEV_TOKEN_PER_S, burst: Math.max(1, e.CHORUS_RATE_DEV_TOKEN_BURST) },
    },
  };
}
