// The one place that reads the environment. Everything else receives a typed, validated Config.
// Every option has its documented default here; README's configuration table mirrors this file.
import path from 'node:path';
import crypto from 'node:crypto';
import os from 'node:os';
import { z } from 'zod';

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
  DATABASE_URL: z.string().optional(),
  CHORUS_DEV_AUTH: bool.optional(),
  LOG_LEVEL: z.string().default('info'),

  // identity
  JWT_ALGORITHMS: z.string().default('HS256'),
  JWT_SECRET: z.string().optional(),
  JWT_PUBLIC_KEY: z.string().optional(),
  JWT_JWKS_URL: z.string().optional(),
  JWT_ISSUER: z.string().default('chorus'),
  JWT_AUDIENCE: z.string().default('chorus'),
  JWT_CLOCK_TOLERANCE_S: int(5),

  // write path
  CHORUS_IDEMPOTENCY_TTL_S: int(24 * 3600),
  CHORUS_MESSAGE_META_TTL_S: int(7 * 24 * 3600),
  CHORUS_MAX_BODY_BYTES: int(64 * 1024),
  CHORUS_MAX_PARTICIPANTS: int(1000),

  // streams and processors
  CHORUS_STREAM_RETENTION_MS: int(24 * 3600 * 1000),
  CHORUS_STREAM_MAX_LEN: int(1_000_000),
  CHORUS_PROCESSOR_BATCH: int(200),
  CHORUS_PROCESSOR_BLOCK_MS: int(1000),
  CHORUS_CLAIM_IDLE_MS: int(15_000),
  CHORUS_CLAIM_INTERVAL_MS: int(2_000),
  CHORUS_MAX_DELIVERIES: int(5),
  CHORUS_TENANT_POLL_MS: int(2_000),

  // gateway
  CHORUS_GATEWAYS: int(1),
  CHORUS_HEARTBEAT_INTERVAL_MS: int(25_000),
  CHORUS_WS_MAX_PAYLOAD: int(16 * 1024),
  CHORUS_WS_SOFT_BUFFER: int(256 * 1024),
  CHORUS_WS_HARD_BUFFER: int(1024 * 1024),
  CHORUS_WS_IDLE_TIMEOUT_S: int(120),
  CHORUS_REPLAY_MAX_EVENTS: int(50_000),
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

  // typing indicators: on by default; switched off for a while when the fanout budget is exceeded
  CHORUS_TYPING_ENABLED: bool.optional(),
  CHORUS_TYPING_BUDGET_PER_S: int(5000),
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
  devAuth: boolean;
  redis: { url?: string; clusterNodes?: string[]; socketPath: string };
  database: { url?: string; socketDir: string; port: number; user: string; database: string };
  jwt: {
    algorithms: string[];
    secret?: string;
    publicKey?: string;
    jwksUrl?: string;
    issuer: string;
    audience: string;
    clockToleranceS: number;
  };
  ingest: { idempotencyTtlS: number; messageMetaTtlS: number; maxBodyBytes: number; maxParticipants: number };
  streams: { retentionMs: number; maxLen: number };
  processors: {
    batch: number;
    blockMs: number;
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
  rateLimits: {
    messageUser: { rate: number; burst: number };
    messageTenant: { rate: number; burst: number };
    emitUser: { rate: number; burst: number };
    emitTenant: { rate: number; burst: number };
  };
}

/** The dev-only HS256 secret: stable per data dir so tokens survive restarts, never used in production. */
function devSecret(dataDir: string): string {
  return crypto.createHash('sha256').update(`chorus-dev-secret:${path.resolve(dataDir)}`).digest('hex');
}

function shortSocketDir(dataDir: string): string {
  const preferred = path.join(path.resolve(dataDir), 'run');
  // sun_path is 108 bytes; leave room for "/.s.PGSQL.5432" and "redis.sock".
  if (preferred.length <= 80) return preferred;
  const h = crypto.createHash('sha1').update(path.resolve(dataDir)).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `chorus-${h}`);
}

export class ConfigError extends Error {}

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
  let secret = e.JWT_SECRET;
  if (!secret && algorithms.includes('HS256')) {
    if (production) throw new ConfigError('JWT_SECRET is required for HS256 in production');
    secret = devSecret(dataDir);
  }
  const origins = e.CHORUS_ALLOWED_ORIGINS.trim();
  return {
    env: e.NODE_ENV,
    production,
    host: e.HOST,
    port: e.PORT,
    dataDir,
    socketDir,
    logLevel: e.LOG_LEVEL,
    devAuth: e.CHORUS_DEV_AUTH ?? !production,
    redis: {
      url: e.REDIS_URL,
      clusterNodes: e.REDIS_CLUSTER_NODES?.split(',').map((s) => s.trim()).filter(Boolean),
      socketPath: path.join(socketDir, 'redis.sock'),
    },
    database: { url: e.DATABASE_URL, socketDir, port: 5432, user: 'chorus', database: 'chorus' },
    jwt: {
      algorithms,
      secret,
      publicKey: e.JWT_PUBLIC_KEY,
      jwksUrl: e.JWT_JWKS_URL,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      clockToleranceS: e.JWT_CLOCK_TOLERANCE_S,
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
      drainWindowMs: e.CHORUS_DRAIN_WINDOW_MS,
      allowedOrigins: origins === '*' ? '*' : origins.split(',').map((s) => s.trim()).filter(Boolean),
      maxConnPerUser: e.CHORUS_MAX_CONN_PER_USER,
      maxConnPerTenant: e.CHORUS_MAX_CONN_PER_TENANT,
      framesPerS: e.CHORUS_WS_FRAMES_PER_S,
      framesBurst: Math.max(1, e.CHORUS_WS_FRAMES_BURST),
      typingEnabled: e.CHORUS_TYPING_ENABLED ?? true,
      typingBudgetPerS: e.CHORUS_TYPING_BUDGET_PER_S,
    },
    rateLimits: {
      messageUser: { rate: e.CHORUS_RATE_MSG_USER_PER_S, burst: Math.max(1, e.CHORUS_RATE_MSG_USER_BURST) },
      messageTenant: { rate: e.CHORUS_RATE_MSG_TENANT_PER_S, burst: Math.max(1, e.CHORUS_RATE_MSG_TENANT_BURST) },
      emitUser: { rate: e.CHORUS_RATE_EMIT_USER_PER_S, burst: Math.max(1, e.CHORUS_RATE_EMIT_USER_BURST) },
      emitTenant: { rate: e.CHORUS_RATE_EMIT_TENANT_PER_S, burst: Math.max(1, e.CHORUS_RATE_EMIT_TENANT_BURST) },
    },
  };
}
