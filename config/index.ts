// The one place that reads the environment. Everything else receives a typed, validated Config,
// loaded once by an entry point (*/main.ts, ops/, benchmarks/, tests). The variables, their parsing,
// defaults, bounds and documentation are the table of config/options.ts; this file turns the parsed
// variables into the Config shape, whose type is derived from it (no interface to keep in step).
import path from 'node:path';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import { z } from 'zod';
import { ConfigError, devSecretsPath, loadDevSecrets, requireStrongSecret, type DevSecrets } from './secrets.js';
import { parseEnv, type Env } from './options.js';

export { ConfigError } from './secrets.js';

/** An HMAC key (HS256/384/512) and the kid tokens name it by. */
export interface HmacKey { kid: string; secret: string }
/** A JSON Web Key Set. */
export interface Jwks { keys: Record<string, unknown>[] }
/**
 * Who may read /metrics (gateway and processor roles): a request with `Authorization: Bearer <token>`,
 * or from an address of `allow` (IPs or CIDRs; loopback outside production, none in production).
 */
export interface MetricsAccess { token?: string; allow: string[] }

function shortSocketDir(dataDir: string): string {
  const preferred = path.join(path.resolve(dataDir), 'run');
  // sun_path is 108 bytes; leave room for "/.s.PGSQL.5432" and "redis.sock".
  if (preferred.length <= 80) return preferred;
  const h = crypto.createHash('sha1').update(path.resolve(dataDir)).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `chorus-${h}`);
}

/** What the section builders share: the environment kind, paths, and the dev secrets (read on first need). */
interface Context { production: boolean; dataDir: string; socketDir: string; dev: () => DevSecrets; devSecretsRead: () => boolean }

const KID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** JWT_SECRETS `kid:secret,kid:secret` (the first signs), or JWT_SECRET as the one key of kid `default`. */
function hmacKeys(e: Env, algorithms: string[], c: Context): HmacKey[] {
  if (e.JWT_SECRET !== undefined && e.JWT_SECRETS !== undefined) throw new ConfigError('set JWT_SECRET or JWT_SECRETS, not both');
  let keys: HmacKey[] = [];
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
function localJwks(v: string | undefined): Jwks | undefined {
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

function attachmentsConfig(e: Env, c: Context) {
  if (e.CHORUS_STORAGE === 's3' && !e.CHORUS_S3_BUCKET) throw new ConfigError('CHORUS_STORAGE=s3 needs CHORUS_S3_BUCKET');
  if (e.CHORUS_STORAGE === 'local' && c.production && !e.CHORUS_OBJECT_URL_SECRET) {
    throw new ConfigError('CHORUS_OBJECT_URL_SECRET is required for local object storage in production');
  }
  if (c.production && e.CHORUS_OBJECT_URL_SECRET !== undefined) requireStrongSecret('CHORUS_OBJECT_URL_SECRET', e.CHORUS_OBJECT_URL_SECRET);
  const host = ['0.0.0.0', '::', ''].includes(e.HOST) ? '127.0.0.1' : e.HOST.includes(':') ? `[${e.HOST}]` : e.HOST;
  // Outside production an unset secret comes from the dev secrets file (S3 never uses it: not read then).
  const urlSecret = e.CHORUS_OBJECT_URL_SECRET ?? (c.production || e.CHORUS_STORAGE !== 'local' ? '' : c.dev().objectUrl);
  return {
    /** Largest upload in bytes (declared size and PUT body). */
    maxBytes: e.CHORUS_ATTACHMENT_MAX_BYTES,
    /** Declared content types that may be uploaded; the real type must match (magic bytes). */
    allowedTypes: e.CHORUS_ATTACHMENT_TYPES.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean),
    uploadUrlTtlS: e.CHORUS_UPLOAD_URL_TTL_S,
    downloadUrlTtlS: e.CHORUS_DOWNLOAD_URL_TTL_S,
    storage: {
      kind: e.CHORUS_STORAGE,
      /** Local store root: <dataDir>/objects. */
      localDir: path.join(c.dataDir, 'objects'),
      /** Base of the signed URLs of the local store (the gateway serves /objects/...). */
      publicUrl: (e.CHORUS_PUBLIC_URL ?? `http://${host}:${e.PORT}`).replace(/\/+$/, ''),
      /** HMAC secret of the local store's signed URLs (the dev secrets file's outside production, unless set). */
      urlSecret,
      s3: {
        bucket: e.CHORUS_S3_BUCKET ?? '', region: e.CHORUS_S3_REGION, endpoint: e.CHORUS_S3_ENDPOINT,
        forcePathStyle: e.CHORUS_S3_FORCE_PATH_STYLE ?? !!e.CHORUS_S3_ENDPOINT, prefix: e.CHORUS_S3_PREFIX,
      },
    },
    clamd: {
      /** clamd's unix socket: CHORUS_CLAMD_SOCKET, else the local clamd's under socketDir. */
      socketPath: e.CHORUS_CLAMD_SOCKET ?? path.join(c.socketDir, 'clamd', 'clamd.sock'),
      /** True when the stack starts its own clamd (ops/local-clamd.ts): CHORUS_CLAMD_SOCKET unset. */
      local: !e.CHORUS_CLAMD_SOCKET,
      timeoutMs: e.CHORUS_CLAMD_TIMEOUT_MS,
      /** Signature database override; default /var/lib/clamav when it holds one, else the test signatures. */
      databaseDir: e.CHORUS_CLAMAV_DB_DIR,
    },
    scanThreads: e.CHORUS_SCAN_THREADS,
    thumbnails: {
      threads: e.CHORUS_THUMB_THREADS,
      maxPixels: e.CHORUS_THUMB_MAX_PIXELS,
      size: e.CHORUS_THUMB_SIZE,
      heapMb: e.CHORUS_THUMB_HEAP_MB,
    },
  };
}

function notifyConfig(e: Env, c: Context) {
  // Production: unset means callbacks are refused, set means strong enough. Elsewhere unset means the dev secrets file's.
  const callbackSecret = (variable: string, value: string | undefined, dev: () => string) => {
    if (c.production && value !== undefined) requireStrongSecret(variable, value);
    return value ?? (c.production ? undefined : dev());
  };
  return {
    /** Retries of a failed provider call: backoffDelay(attempt, retry) up to maxAttempts, then the dead letters. */
    retry: {
      baseMs: e.CHORUS_NOTIFY_RETRY_BASE_MS,
      factor: e.CHORUS_NOTIFY_RETRY_FACTOR,
      capMs: e.CHORUS_NOTIFY_RETRY_CAP_MS,
      maxAttempts: e.CHORUS_NOTIFY_MAX_ATTEMPTS,
    },
    /** Low-priority notifications of a user and channel are sent together once per window. */
    digestWindowMs: e.CHORUS_NOTIFY_DIGEST_WINDOW_MS,
    /** How often each consumer moves due retries back onto its queue and closes due digests. */
    tickMs: e.CHORUS_NOTIFY_TICK_MS,
    /** Jobs read per batch and sent in parallel per consumer. */
    concurrency: e.CHORUS_NOTIFY_CONCURRENCY,
    /** A provider call taking longer fails (transient); the in-flight lease lasts 1.5 × this + 1 s. */
    sendTimeoutMs: e.CHORUS_NOTIFY_SEND_TIMEOUT_MS,
    /** Acknowledged jobs are trimmed from the channel queues after this long. */
    streamRetentionMs: e.CHORUS_NOTIFY_STREAM_RETENTION_MS,
    /** Consecutive transient failures that open a provider's breaker, how long it stays open, and when an open breaker raises the alert. */
    breaker: {
      threshold: e.CHORUS_NOTIFY_BREAKER_THRESHOLD,
      openMs: e.CHORUS_NOTIFY_BREAKER_OPEN_MS,
      alertAfterMs: e.CHORUS_NOTIFY_ALERT_AFTER_MS,
    },
    email: {
      /** Breaker and metrics name of the provider. */
      provider: 'smtp',
      /** CHORUS_SMTP_URL (smtp[s]://user:pass@host:port); unset: the local SMTP sink on socketPath. */
      url: e.CHORUS_SMTP_URL,
      socketPath: path.join(c.socketDir, 'notify', 'smtp.sock'),
      local: !e.CHORUS_SMTP_URL,
      pool: e.CHORUS_SMTP_POOL,
      from: e.CHORUS_EMAIL_FROM,
      /** HMAC-SHA256 secret of the provider's status callbacks (undefined in production unless set: callbacks refused). */
      callbackSecret: callbackSecret('CHORUS_EMAIL_CALLBACK_SECRET', e.CHORUS_EMAIL_CALLBACK_SECRET, () => c.dev().emailCallback),
    },
    push: {
      provider: 'push-gateway',
      /** CHORUS_PUSH_GATEWAY_URL (http[s]); unset: the local push sink on socketPath. */
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
function metricsAccessConfig(token: string | undefined, allow: string | undefined, production: boolean): MetricsAccess {
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

/**
 * OpenTelemetry traces: on when an OTLP endpoint is set (and OTEL_SDK_DISABLED is not). The URL is
 * resolved here as the OTLP spec says: the traces endpoint as it is, else the base plus /v1/traces.
 */
function tracingConfig(e: Env) {
  const base = e.OTEL_EXPORTER_OTLP_ENDPOINT;
  const url = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base === undefined ? undefined : `${base.replace(/\/+$/, '')}/v1/traces`);
  return {
    /** Where spans are exported; undefined: tracing off (no SDK loaded, no span made). */
    url: e.OTEL_SDK_DISABLED ? undefined : url,
    protocol: e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL,
    sampler: e.OTEL_TRACES_SAMPLER,
    /** Ratio of the traceidratio samplers (1 when unset). */
    ratio: e.OTEL_TRACES_SAMPLER_ARG ?? 1,
    /** OTEL_SERVICE_NAME; unset: the entry point names its role. */
    serviceName: e.OTEL_SERVICE_NAME,
  };
}

/** The Config of a valid, parsed environment. Its type is the Config type. */
function build(e: Env, c: Context, algorithms: string[]) {
  const jwtKeys = hmacKeys(e, algorithms, c);
  const attachments = attachmentsConfig(e, c);
  const notify = notifyConfig(e, c);
  const origins = e.CHORUS_ALLOWED_ORIGINS.trim();
  return {
    env: e.NODE_ENV,
    production: c.production,
    host: e.HOST,
    port: e.PORT,
    dataDir: c.dataDir,
    /** Directory for the unix sockets of the local Redis and Postgres (kept short: sun_path is 108 bytes). */
    socketDir: c.socketDir,
    logLevel: e.LOG_LEVEL,
    /** This process's own /metrics port (0: not served; a gateway also serves it on `port`). */
    metricsPort: e.CHORUS_METRICS_PORT,
    /** The `node` label of every series; unset: the entry point uses `<hostname>:<role>` (core/metrics.ts nodeName). */
    nodeName: e.CHORUS_NODE_NAME,
    /** Bounded `tenant` label: top-N tenants by traffic over a sliding window keep their id (core/tenant-label.ts). */
    tenantLabels: { top: e.CHORUS_METRICS_TENANTS, windowMs: e.CHORUS_METRICS_TENANT_WINDOW_S * 1000 },
    /** Time one Redis command in N (0: none). */
    redisLatencySample: e.CHORUS_REDIS_LATENCY_SAMPLE,
    /** Write one noisy success log line in N (0: none). */
    logSample: e.CHORUS_LOG_SAMPLE,
    metricsAccess: metricsAccessConfig(e.CHORUS_METRICS_TOKEN, e.CHORUS_METRICS_ALLOW, c.production),
    devAuth: e.CHORUS_DEV_AUTH ?? !c.production,
    /** The dev secrets file of the data dir when a secret came from it (never in production). */
    devSecretsFile: c.devSecretsRead() ? devSecretsPath(c.dataDir) : undefined,
    redis: {
      url: e.REDIS_URL,
      clusterNodes: e.REDIS_CLUSTER_NODES?.split(',').map((s) => s.trim()).filter(Boolean),
      socketPath: path.join(c.socketDir, 'redis.sock'),
      commandTimeoutMs: e.CHORUS_REDIS_COMMAND_TIMEOUT_MS,
    },
    /** A request still unanswered after this answers 503 dependency_unavailable (never hangs). */
    httpTimeoutMs: e.CHORUS_HTTP_TIMEOUT_MS,
    /** Extra node arguments for every role the supervisor starts (e.g. --cpu-prof). */
    roleNodeArgs: e.CHORUS_NODE_ARGS.split(/\s+/).filter(Boolean),
    /** Niceness of the roles off the realtime path (processors, workers); 0 keeps them at normal priority. */
    backgroundNice: e.CHORUS_BACKGROUND_NICE,
    database: { url: e.DATABASE_URL, socketDir: c.socketDir, port: 5432, user: 'chorus', database: 'chorus' },
    jwt: {
      algorithms,
      /**
       * HMAC keys (HS256/384/512) by kid; the first is the current one (signs dev tokens). A token names
       * its key in its `kid` header; a token without one is checked with the key of kid `default`.
       */
      hmacKeys: jwtKeys,
      /** At most one asymmetric key source: a PEM public key, a remote JWKS, or a local JWKS. */
      publicKey: e.JWT_PUBLIC_KEY || undefined,
      jwksUrl: e.JWT_JWKS_URL || undefined,
      jwks: localJwks(e.JWT_JWKS),
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      clockToleranceS: e.JWT_CLOCK_TOLERANCE_S,
      /** Verified tokens remembered per process (0: verify every request) and for how long at most. */
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
      batch: e.CHORUS_PROCESSOR_BATCH,
      blockMs: e.CHORUS_PROCESSOR_BLOCK_MS,
      /** After a read that did not fill a batch, wait this long before the next read, so batches form under load. */
      gatherMs: e.CHORUS_PROCESSOR_GATHER_MS,
      claimIdleMs: e.CHORUS_CLAIM_IDLE_MS,
      claimIntervalMs: e.CHORUS_CLAIM_INTERVAL_MS,
      maxDeliveries: e.CHORUS_MAX_DELIVERIES,
      tenantPollMs: e.CHORUS_TENANT_POLL_MS,
    },
    gateway: {
      processes: e.CHORUS_GATEWAYS,
      heartbeatIntervalMs: e.CHORUS_HEARTBEAT_INTERVAL_MS,
      maxPayload: e.CHORUS_WS_MAX_PAYLOAD,
      softBuffer: e.CHORUS_WS_SOFT_BUFFER,
      hardBuffer: Math.max(e.CHORUS_WS_HARD_BUFFER, e.CHORUS_WS_SOFT_BUFFER),
      idleTimeoutS: e.CHORUS_WS_IDLE_TIMEOUT_S,
      replayMaxEvents: e.CHORUS_REPLAY_MAX_EVENTS,
      /** Recent events kept per hosted tenant so resuming connections share one copy. */
      replayCacheEvents: e.CHORUS_REPLAY_CACHE_EVENTS,
      drainWindowMs: e.CHORUS_DRAIN_WINDOW_MS,
      allowedOrigins: origins === '*' ? ('*' as const) : origins.split(',').map((s) => s.trim()).filter(Boolean),
      maxConnPerUser: e.CHORUS_MAX_CONN_PER_USER,
      maxConnPerTenant: e.CHORUS_MAX_CONN_PER_TENANT,
      /** Per-connection frame bucket (local): over it frames get `rate_limited`, a flood closes 1008. */
      framesPerS: e.CHORUS_WS_FRAMES_PER_S,
      framesBurst: e.CHORUS_WS_FRAMES_BURST,
      typingEnabled: e.CHORUS_TYPING_ENABLED ?? true,
      typingBudgetPerS: e.CHORUS_TYPING_BUDGET_PER_S,
    },
    /** Presence state, coalescing and fanout (docs/presence.md). */
    presence: {
      /** Shards per tenant (shardId = fnv1a(userId) % shards); per-tenant overrides in shardsByTenant. */
      shards: e.CHORUS_PRESENCE_SHARDS,
      shardsByTenant: parseShardOverrides(e.CHORUS_PRESENCE_SHARDS_BY_TENANT),
      /** A connection counts as online this long after its last heartbeat (or connect). */
      ttlMs: e.CHORUS_PRESENCE_TTL_S * 1000,
      /** Changes other than offline<->online are published at most once per user per window. */
      coalesceMs: e.CHORUS_PRESENCE_COALESCE_MS,
      /** Lifetime of the `tenant:user:version` idempotency key of a published update. */
      dedupeTtlMs: e.CHORUS_PRESENCE_DEDUPE_TTL_S * 1000,
      /** A presence.batch frame holds at most batchMax users (≤ 100) and waits at most batchMs. */
      batchMax: e.CHORUS_PRESENCE_BATCH_MAX,
      batchMs: e.CHORUS_PRESENCE_BATCH_MS,
      /** Pending updates of this gateway above which subscribers get presence.summary; below recovery they catch up. */
      summaryThreshold: e.CHORUS_PRESENCE_SUMMARY_THRESHOLD,
      summaryRecovery: Math.min(e.CHORUS_PRESENCE_SUMMARY_RECOVERY, e.CHORUS_PRESENCE_SUMMARY_THRESHOLD),
      summaryIntervalMs: e.CHORUS_PRESENCE_SUMMARY_INTERVAL_MS,
      sweepIntervalMs: e.CHORUS_PRESENCE_SWEEP_INTERVAL_MS,
      /** Window over which updates per shard are counted for the rebalance suggestion. */
      loadWindowMs: e.CHORUS_PRESENCE_LOAD_WINDOW_MS,
      /** How often a gateway re-reads the state of the users it watches (repairs lost pub/sub messages). */
      reconcileMs: e.CHORUS_PRESENCE_RECONCILE_MS,
      /** A connection closed by a draining gateway stays online this long, so a reconnect elsewhere is no flap. */
      drainGraceMs: e.CHORUS_PRESENCE_DRAIN_GRACE_MS,
      /** GET /api/presence accepts at most this many userIds. */
      maxUserIds: e.CHORUS_PRESENCE_MAX_USER_IDS,
    },
    /** Unread counters are recomputed every intervalMs; rows off by more than threshold are healed. */
    readModels: { reconcileIntervalMs: e.CHORUS_RECONCILE_INTERVAL_MS, reconcileThreshold: e.CHORUS_RECONCILE_THRESHOLD },
    /** The attachment pipeline (docs/attachments.md). */
    attachments,
    /** The notification pipeline (docs/notifications.md). */
    notify,
    rateLimits: {
      messageUser: { rate: e.CHORUS_RATE_MSG_USER_PER_S, burst: e.CHORUS_RATE_MSG_USER_BURST },
      messageTenant: { rate: e.CHORUS_RATE_MSG_TENANT_PER_S, burst: e.CHORUS_RATE_MSG_TENANT_BURST },
      emitUser: { rate: e.CHORUS_RATE_EMIT_USER_PER_S, burst: e.CHORUS_RATE_EMIT_USER_BURST },
      emitTenant: { rate: e.CHORUS_RATE_EMIT_TENANT_PER_S, burst: e.CHORUS_RATE_EMIT_TENANT_BURST },
      /** GET /api/presence per user (no tenant bucket). */
      presenceReadUser: { rate: e.CHORUS_RATE_PRESENCE_USER_PER_S, burst: e.CHORUS_RATE_PRESENCE_USER_BURST },
      /** POST /dev/token per client address (IPv6: per /64). */
      devTokenClient: { rate: e.CHORUS_RATE_DEV_TOKEN_PER_S, burst: e.CHORUS_RATE_DEV_TOKEN_BURST },
    },
    /** OpenTelemetry traces (docs/operations.md, "Traces"). */
    tracing: tracingConfig(e),
  };
}

/** The configuration every part of Chorus receives from its entry point. */
export type Config = ReturnType<typeof build>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = parseEnv(env);
  if (!parsed.ok) {
    const details = parsed.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${details}`);
  }
  const e = parsed.env;
  const production = e.NODE_ENV === 'production';
  const dataDir = path.resolve(e.CHORUS_DATA_DIR);
  const socketDir = shortSocketDir(dataDir);
  const algorithms = e.JWT_ALGORITHMS.split(',').map((s) => s.trim()).filter(Boolean);
  if (algorithms.some((a) => a.toLowerCase() === 'none')) throw new ConfigError('JWT_ALGORITHMS must not contain "none"');
  const asymmetric = (['JWT_PUBLIC_KEY', 'JWT_JWKS_URL', 'JWT_JWKS'] as const).filter((k) => e[k] !== undefined && e[k].trim() !== '');
  if (asymmetric.length > 1) throw new ConfigError(`set one asymmetric key source, not ${asymmetric.join(' and ')}`);
  // The dev secrets file is read (or created) only when some secret is not configured, never in production.
  const devFile: { secrets?: DevSecrets } = {};
  const c: Context = {
    production, dataDir, socketDir,
    dev: () => (devFile.secrets ??= loadDevSecrets(dataDir)),
    devSecretsRead: () => devFile.secrets !== undefined,
  };
  return build(e, c, algorithms);
}
