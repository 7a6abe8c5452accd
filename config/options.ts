// Every environment variable Chorus reads, each once: its parser and validation, its default, the
// bounds its value is raised or lowered to, its section and its documentation. The environment
// schema, the defaults (ENV_SCHEMA.parse({})) and the option tables of docs/configuration.md
// (config/doc.ts, `npm run docs:config`) are derived from this table; config/index.ts turns the
// parsed values into the typed Config the rest of the code receives.
import { z } from 'zod';

/** One variable. `shown` is the default as the documentation shows it. */
export interface Option<S extends z.ZodType = z.ZodType> {
  schema: S;
  shown: string;
  doc: string;
  /** Integers below `min` or above `max` are raised or lowered to it (after validation). */
  min?: number;
  max?: number;
}

export type Sectioned<S extends z.ZodType = z.ZodType> = Option<S> & { section: string };

const bool = z
  .string()
  .transform((v) => v === '1' || v.toLowerCase() === 'true' || v.toLowerCase() === 'yes');

/** A non-negative integer with a default; `note` follows the default in the docs (`65536` (64 KiB)). */
function int(def: number, doc: string, o: { min?: number; max?: number; note?: string } = {}) {
  return { schema: z.coerce.number().int().nonnegative().default(def), shown: `\`${def}\`${o.note ? ` (${o.note})` : ''}`, doc, min: o.min, max: o.max };
}

function text(def: string, doc: string, o: { shown?: string } = {}) {
  return { schema: z.string().default(def), shown: o.shown ?? (def === '' ? 'empty' : `\`${def}\``), doc };
}

/** A variable without a default value: undefined when unset (what that means is in `shown`). */
function unset<S extends z.ZodType>(schema: S, doc: string, shown = 'unset') {
  return { schema: schema.optional(), shown, doc };
}

function custom<S extends z.ZodType>(schema: S, shown: string, doc: string) {
  return { schema, shown, doc };
}

/** Options of one section of docs/configuration.md, in the order of its table. */
function section<T extends Record<string, Option>>(title: string, options: T): { [K in keyof T]: T[K] & { section: string } } {
  return Object.fromEntries(Object.entries(options).map(([k, o]) => [k, { ...o, section: title }])) as { [K in keyof T]: T[K] & { section: string } };
}

const running = section('Running', {
  NODE_ENV: text('development', '`production` turns off dev auth by default, requires `JWT_SECRET` (or `JWT_SECRETS`) when HS256 is allowed and `CHORUS_OBJECT_URL_SECRET` with the local store, checks the strength of every HMAC secret, and never reads or writes the dev secrets file ([secrets.md](secrets.md)).'),
  HOST: text('127.0.0.1', 'Interface to listen on (`0.0.0.0` for all).'),
  PORT: int(8080, 'HTTP API and websocket, one port.'),
  CHORUS_DATA_DIR: text('.data', 'Where the local Redis, Postgres, ClamAV and object storage keep their files. Resolved to an absolute path. Two stacks with different `PORT` and `CHORUS_DATA_DIR` run side by side. Unix sockets of the local Redis and Postgres live in `<dir>/run`, or in `$TMPDIR/chorus-<hash>` when that path would be too long for a socket.'),
  REDIS_URL: unset(z.string(), 'Use this Redis (`redis://…`, `rediss://…`) instead of starting a local one.'),
  REDIS_CLUSTER_NODES: unset(z.string(), 'Use this Redis Cluster instead: comma-separated `host:port` seed nodes (port defaults to 6379). Takes precedence over `REDIS_URL`.'),
  CHORUS_REDIS_COMMAND_TIMEOUT_MS: int(3000, 'A Redis command (other than blocking reads) not answered within this fails, so a lost Redis turns into 503 `dependency_unavailable` instead of a hanging request (at least 100).', { min: 100 }),
  CHORUS_HTTP_TIMEOUT_MS: int(10_000, 'Deadline of one HTTP API request, counted from after authentication: still unanswered then → 503 `dependency_unavailable` with `Retry-After: 1` (a write may still land; clients retry idempotently). At least 100. Not applied to the signed `/objects` URLs.', { min: 100 }),
  DATABASE_URL: unset(z.string(), 'Use this Postgres (`postgres://…`) instead of starting a local one.'),
  CHORUS_DEV_AUTH: unset(bool, 'Enables `POST /dev/token`. `1`, `true`, `yes` enable it; any other value disables it.', '`1` unless `NODE_ENV=production`, then `0`'),
  LOG_LEVEL: text('info', 'pino level: `trace`, `debug`, `info`, `warn`, `error`, `fatal`, `silent`.'),
  CHORUS_METRICS_PORT: int(0, 'Port of this process\'s own `/metrics` endpoint. Processor roles have no HTTP API and serve `/metrics` only there; a gateway serves it on `PORT` too, but gateways sharing `PORT` answer a scrape of it at random, so each also serves it here when set. Listens on `HOST`. `npm start` sets it per copy: `PORT + 100 + 10·n + copy` for the n-th role of `ops/roles.ts` (gateways 8180, 8181, …; processors 8190, attachments 8200, notifications 8210 with the default `PORT`).', { note: 'none' }),
  CHORUS_NODE_NAME: unset(z.string().min(1).max(120), 'The `node` label on every metric series of this process. `npm start` gives each copy of each role `<CHORUS_NODE_NAME or hostname>:<role>[#copy]`; a process started alone uses the value as is.', '`<hostname>:<role>` (the entry point\'s role, e.g. `gateway`)'),
  CHORUS_METRICS_TENANTS: int(20, 'How many tenants keep their id in the `tenant` label of metrics: the top N by traffic over the last `CHORUS_METRICS_TENANT_WINDOW_S`; every other tenant is counted as `other`. Bounds the series per metric to N + 1. `0`: every tenant is `other`.', { max: 1000 }),
  CHORUS_METRICS_TENANT_WINDOW_S: int(300, 'Sliding window of the top-N tenant ranking (`CHORUS_METRICS_TENANTS`): the ranking is recomputed every half window from the traffic of the last whole window (at least 10).', { min: 10 }),
  CHORUS_REDIS_LATENCY_SAMPLE: int(16, 'Redis command latency (`chorus_redis_command_duration_seconds`) times one command in N per connection: `1` times every command, `0` none.'),
  CHORUS_LOG_SAMPLE: int(100, 'Noisy success logs (websocket connects and disconnects, dropped best-effort events, processor batches) are written once in N per kind; failures and security events (auth failures, refused upgrades, cross-tenant attempts) are always written. `1` writes every line, `0` none of the sampled ones.'),
  CHORUS_METRICS_TOKEN: unset(z.string().min(16), 'Operator token for `/metrics` (gateway and processor roles), at least 16 characters (in production as strong as every other secret: `openssl rand -hex 32`): a request with `Authorization: Bearer <token>` is served from any address.'),
  CHORUS_METRICS_ALLOW: unset(z.string(), 'Comma-separated IPs or CIDRs (`10.0.0.0/8`) whose requests to `/metrics` are served without a token (the peer address of the TCP connection; no proxy header is trusted). An invalid entry stops start-up. See **Metrics access** below.', '`127.0.0.1,::1` outside production; empty in production'),
});

const identity = section('Identity (JWT)', {
  JWT_ALGORITHMS: text('HS256', 'Comma-separated list of accepted algorithms, e.g. `RS256,ES256`. Tokens signed otherwise are refused (401). `none` is rejected at start.'),
  JWT_SECRET: unset(z.string(), 'The HS256/384/512 key, of kid `default`. When neither it nor `JWT_SECRETS` is set and `JWT_ALGORITHMS` allows an HS algorithm: outside production, the random secret of `<CHORUS_DATA_DIR>/secrets.json` ([secrets.md](secrets.md)); in production, start fails. In production it must pass the strength rule (at least 32 bytes, not one piece repeated, at least 128 bits by character frequency).', 'dev secrets file (dev only)'),
  JWT_SECRETS: unset(z.string(), 'Several HMAC keys by kid for rotation: `kid:secret,kid:secret,…` (kid `^[A-Za-z0-9._-]{1,64}$`, secrets without commas; hex or base64url). The first is the current key (dev tokens are signed with it and name it in `kid`); a token\'s `kid` header picks the key it is checked with, an unknown kid is 401, a token without `kid` uses the key of kid `default` if there is one. Exclusive with `JWT_SECRET`; every secret passes the strength rule in production.'),
  JWT_PUBLIC_KEY: unset(z.string(), 'PEM (SPKI) public key for the first asymmetric algorithm in `JWT_ALGORITHMS`.'),
  JWT_JWKS_URL: unset(z.string(), 'A remote JWKS endpoint for asymmetric tokens (fetched and cached by jose). At most one of `JWT_PUBLIC_KEY`, `JWT_JWKS`, `JWT_JWKS_URL` may be set.'),
  JWT_JWKS: unset(z.string(), 'A local JSON Web Key Set for asymmetric tokens: the JSON itself (`{"keys":[…]}`) or the path of a file holding it, read once at start. The token\'s `kid` picks the key (an unknown kid is 401).'),
  JWT_ISSUER: text('chorus', 'Required `iss` claim.'),
  JWT_AUDIENCE: text('chorus', 'Required `aud` claim.'),
  JWT_CLOCK_TOLERANCE_S: int(5, 'Seconds of clock skew tolerated on `exp`, `nbf` and `iat` (a token whose `iat` is later than now plus this is 401).'),
  JWT_CACHE_SIZE: int(10000, 'Verified tokens each process remembers (keyed by the whole token), so a client\'s repeated requests skip signature verification. `0` verifies every request.'),
  JWT_CACHE_TTL_S: int(60, 'Longest time a verified token is remembered; never past its `exp` (plus tolerance). Lower it when a key rotation must take effect faster.'),
});

const writePath = section('Write path', {
  CHORUS_IDEMPOTENCY_TTL_S: int(24 * 3600, 'How long a `clientMessageId` is remembered: a retry within this time returns the first message.', { note: '24 h' }),
  CHORUS_MESSAGE_META_TTL_S: int(24 * 3600, 'How long Redis keeps a message\'s metadata (edit/delete authorization on the write path, notification facts). A cache: past it, Postgres answers. Kept to the replay window (`CHORUS_STREAM_RETENTION_MS`) so that Redis memory is bounded by the retention, not by the message count.', { note: '24 h' }),
  CHORUS_MAX_BODY_BYTES: int(64 * 1024, 'Largest accepted HTTP request body; larger → 413 `payload_too_large`.', { note: '64 KiB' }),
  CHORUS_MAX_PARTICIPANTS: int(1000, 'Most participants a thread may have.'),
});

const streams = section('Streams and processors', {
  CHORUS_STREAM_RETENTION_MS: int(24 * 3600 * 1000, 'Age after which tenant stream entries may be trimmed: the websocket replay window (older `lastSeq` → `resync.required`). Postgres keeps every event in `event_archive`.', { note: '24 h' }),
  CHORUS_STREAM_MAX_LEN: int(1_000_000, 'Upper bound on entries kept per tenant stream (also bounds the replay window).'),
  CHORUS_PROCESSOR_BATCH: int(200, 'Entries per XREADGROUP batch (at least 1).', { min: 1 }),
  CHORUS_PROCESSOR_BLOCK_MS: int(1000, 'How long a consumer blocks waiting for new entries.'),
  CHORUS_PROCESSOR_GATHER_MS: int(20, 'After a read that did not fill a batch, a consumer waits this long (at most 1000) before its next read, so that batches form under load: each batch costs a read, an ack and a transaction whatever its size. Adds at most this much to projection lag; `0` reads again at once.', { max: 1000 }),
  CHORUS_CLAIM_IDLE_MS: int(15_000, 'A delivered but unacknowledged entry idle this long is claimed by another consumer (XAUTOCLAIM).'),
  CHORUS_CLAIM_INTERVAL_MS: int(2_000, 'How often consumers look for such entries (at least 50).', { min: 50 }),
  CHORUS_MAX_DELIVERIES: int(5, 'Deliveries after which an entry is dead-lettered to `chorus:{t}:dlq:<group>` (at least 1).', { min: 1 }),
  CHORUS_TENANT_POLL_MS: int(2_000, 'How often processors and gateways re-read the tenant registry (at least 100); new tenants are also announced by pub/sub.', { min: 100 }),
});

const gateway = section('Gateway (HTTP and websocket)', {
  CHORUS_GATEWAYS: int(1, 'Gateway processes the supervisor starts on the shared port (SO_REUSEPORT; 1 to 10: each also serves `/metrics` on its own port, `PORT + 100 + copy`, below the processor roles\' ports).', { min: 1, max: 10 }),
  CHORUS_NODE_ARGS: text('', 'Extra `node` arguments (space-separated) for every role the supervisor starts, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a running stack (Node refuses those in `NODE_OPTIONS`).'),
  CHORUS_BACKGROUND_NICE: int(5, 'Niceness (0–19) the supervisor gives the roles off the realtime path (`processors`, `attachments`, `notifications`): on a busy machine the gateways and Redis get the CPU first, and projections and notifications catch up with what is left (watch their lag: `chorus_processor_lag_entries`, `chorus_processor_event_age_seconds`). `0` runs them at normal priority.', { min: 0, max: 19 }),
  CHORUS_HEARTBEAT_INTERVAL_MS: int(25_000, 'Announced to clients as `hello.heartbeatIntervalMs`: how often to send `presence.heartbeat`.'),
  CHORUS_WS_MAX_PAYLOAD: int(16 * 1024, 'Largest client websocket frame; larger → `error` `frame_too_large` (a flood of them → close 1009). A frame over max(4 × this, 64 KiB) closes the connection at once with 1009; one over 16 × that (1 MiB by default) is dropped by uWS itself without a close frame (1006).', { note: '16 KiB' }),
  CHORUS_WS_SOFT_BUFFER: int(256 * 1024, 'Per-connection buffered bytes above which best-effort events are dropped; important events are dropped above twice this.', { note: '256 KiB' }),
  CHORUS_WS_HARD_BUFFER: int(1024 * 1024, 'Per-connection buffered bytes that a critical event may not take the buffer past: the connection is closed with 4008 instead (the client resumes with `lastSeq`). Raised to the soft buffer if smaller.', { note: '1 MiB' }),
  CHORUS_WS_IDLE_TIMEOUT_S: int(120, 'A websocket from which nothing (not even a pong to the server\'s automatic pings) arrives for this long is closed.'),
  CHORUS_REPLAY_MAX_EVENTS: int(50_000, 'Most events replayed to one resuming connection; a longer gap gets `resync.required` `gap_too_old`. Also the most live events buffered for a connection while its replay is read (beyond it: close 4008).'),
  CHORUS_REPLAY_CACHE_EVENTS: int(20_000, 'Recent events a gateway keeps in memory per hosted tenant: resuming connections read their replay from this one shared copy instead of each reading Redis (a reconnect storm costs one read). `0` disables the cache.'),
  CHORUS_DRAIN_WINDOW_MS: int(5_000, 'On SIGTERM a gateway stops accepting (upgrades → 503), sends `reconnect` to every socket and closes them with 1001 spread over this window.'),
  CHORUS_ALLOWED_ORIGINS: text('*', 'Comma-separated list of browser `Origin`s allowed to open a websocket and to read HTTP API answers (CORS); `*` allows any. A websocket upgrade or CORS preflight with another `Origin` → 403 `origin_not_allowed`; other HTTP answers to it carry no `Access-Control-Allow-Origin`.'),
  CHORUS_MAX_CONN_PER_USER: int(50, 'Websocket connections one user may hold on one gateway; more → 429 `too_many_connections`.'),
  CHORUS_MAX_CONN_PER_TENANT: int(20_000, 'Websocket connections one tenant may hold on one gateway; more → 429 `too_many_connections`.'),
  CHORUS_WS_FRAMES_PER_S: int(50, 'Client frames per second per connection (token bucket, local to the connection); over it → `error` `rate_limited`, and a flood closes with 1008. `0` disables.'),
  CHORUS_WS_FRAMES_BURST: int(100, 'Burst of that bucket (at least 1).', { min: 1 }),
});

const rateLimits = section('Rate limits', {
  CHORUS_RATE_MSG_USER_PER_S: int(20, 'Message writes (`POST /api/messages`, `PATCH`/`DELETE /api/messages/:id`) per second per user. Read marks (`POST /api/threads/:id/read`) use the same four message numbers in buckets of their own, so reading never eats the sending budget.'),
  CHORUS_RATE_MSG_USER_BURST: int(40, 'Burst of the user\'s message bucket.', { min: 1 }),
  CHORUS_RATE_MSG_TENANT_PER_S: int(1000, 'Message writes per second per tenant.'),
  CHORUS_RATE_MSG_TENANT_BURST: int(2000, 'Burst of the tenant\'s message bucket.', { min: 1 }),
  CHORUS_RATE_EMIT_USER_PER_S: int(5, 'Websocket emits (`typing`) per second per user. `presence.heartbeat` frames use the two user emit numbers in a bucket of their own (no tenant bucket).'),
  CHORUS_RATE_EMIT_USER_BURST: int(10, 'Burst of the user\'s emit bucket.', { min: 1 }),
  CHORUS_RATE_EMIT_TENANT_PER_S: int(500, 'Websocket emits per second per tenant.'),
  CHORUS_RATE_EMIT_TENANT_BURST: int(1000, 'Burst of the tenant\'s emit bucket.', { min: 1 }),
  CHORUS_RATE_PRESENCE_USER_PER_S: int(10, 'Presence reads (`GET /api/presence`) per second per user, in a bucket of their own (no tenant bucket). Checked after the `userIds` validation (400 first).'),
  CHORUS_RATE_PRESENCE_USER_BURST: int(20, 'Burst of the user\'s presence-read bucket.', { min: 1 }),
  CHORUS_RATE_DEV_TOKEN_PER_S: int(5, '`POST /dev/token` (only served with dev auth on) per second per client address: the peer address of the connection (no proxy header is trusted), IPv6 addresses by their /64. Checked before the body is validated. Over it → 429 `rate_limited` with `Retry-After`. `0` turns it off (the benchmark harness does for the stacks it starts).'),
  CHORUS_RATE_DEV_TOKEN_BURST: int(50, 'Burst of a client address\'s dev-token bucket.', { min: 1 }),
});

const typing = section('Typing indicators', {
  CHORUS_TYPING_ENABLED: unset(bool, 'Default of the runtime `typing` flag (`1`, `true`, `yes` enable; anything else disables). The flag in Redis (`chorus:flags`, field `typing`, set with `npm run chorus -- flag typing on\\|off`), refreshed every 2 s, overrides it for every gateway. While off, `typing` frames get `error` `feature_disabled`.', '`1`'),
  CHORUS_TYPING_BUDGET_PER_S: int(5000, 'Typing frames one gateway may fan out per second **for one tenant**; a tenant above it has typing suspended on that gateway for 30 s (its `typing` frames get `feature_disabled`, its fanout stops; logged with `tenant_id`, counted in `chorus_ws_events_dropped_total{reason="typing_budget"}`). Other tenants are not affected: one tenant cannot switch typing off for its neighbours. The global switch is the `typing` flag above.'),
});

const presence = section('Presence', {
  CHORUS_PRESENCE_SHARDS: int(64, 'Shards (pub/sub channels `chorus:presence:{tenant}:<shard>`) per tenant; a user\'s shard is `fnv1a(userId) % N` (at least 1).', { min: 1 }),
  CHORUS_PRESENCE_SHARDS_BY_TENANT: text('', 'Per-tenant shard counts that differ from the default: `acme:128,small:8` (each `tenant:N`, N ≥ 1; anything else stops the start).'),
  CHORUS_PRESENCE_TTL_S: int(75, 'A connection counts as online this long after its last `presence.heartbeat` (or its connect), in seconds (at least 1).', { min: 1 }),
  CHORUS_PRESENCE_COALESCE_MS: int(5_000, 'Changes other than offline ↔ not-offline are published at most once per user per window (the latest state wins).'),
  CHORUS_PRESENCE_DEDUPE_TTL_S: int(60, 'Lifetime of the `tenant:user:version` idempotency key that suppresses duplicate publishes (at least 1).', { min: 1 }),
  CHORUS_PRESENCE_BATCH_MAX: int(100, 'Users per `presence.batch` frame (clamped to 1–100).', { min: 1, max: 100 }),
  CHORUS_PRESENCE_BATCH_MS: int(200, 'Longest wait of an update before its batch leaves (at least 1).', { min: 1 }),
  CHORUS_PRESENCE_SUMMARY_THRESHOLD: int(20_000, 'Presence queue depth of a gateway above which its affected subscribers get `presence.summary` instead of per-user updates (at least 1).', { min: 1 }),
  CHORUS_PRESENCE_SUMMARY_RECOVERY: int(2_000, 'Depth below which (for one summary interval) the gateway leaves summary mode and sends catch-up batches (at most the threshold).'),
  CHORUS_PRESENCE_SUMMARY_INTERVAL_MS: int(1_000, 'Period of `presence.summary`, and the shortest summary mode (at least 100).', { min: 100 }),
  CHORUS_PRESENCE_SWEEP_INTERVAL_MS: int(1_000, 'Round of the expiry sweeper (and the length of a shard\'s sweep lease; at least 50).', { min: 50 }),
  CHORUS_PRESENCE_LOAD_WINDOW_MS: int(60_000, 'Window over which publishes per shard are counted for `chorus_presence_shard_load` and the rebalance suggestion (at least 1000).', { min: 1000 }),
  CHORUS_PRESENCE_RECONCILE_MS: int(30_000, 'How often a gateway re-reads the state of the users its subscribers watch, repairing lost pub/sub messages (at least 1000).', { min: 1000 }),
  CHORUS_PRESENCE_DRAIN_GRACE_MS: int(15_000, 'Connections closed by a draining gateway stay online this long, so a reconnect elsewhere causes no offline/online flap.'),
  CHORUS_PRESENCE_MAX_USER_IDS: int(200, 'Most ids in one `GET /api/presence` (more → 400 `invalid_request`; at least 1).', { min: 1 }),
});

const readModels = section('Read models', {
  CHORUS_RECONCILE_INTERVAL_MS: int(900_000, 'How often each counters processor recomputes every unread counter of every tenant and heals drifted rows (jittered; one process per tenant and interval does the work; at least 1000). `npm run chorus -- reconcile` does it on demand.', { min: 1000, note: '15 min' }),
  CHORUS_RECONCILE_THRESHOLD: int(0, 'A counter off by more than this is healed (and its user sent `inbox.updated`); smaller drifts are only counted (`counter_reconcile_total{outcome="tolerated"}`).'),
});

const attachments = section('Attachments', {
  CHORUS_STORAGE: custom(z.enum(['local', 's3']).default('local'), '`local`', '`local`: objects are files under `<CHORUS_DATA_DIR>/objects/{quarantine,clean}`, uploaded and downloaded through the gateway\'s signed `/objects/…` URLs. `s3`: one bucket with those prefixes and presigned URLs (the bucket must not allow public reads).'),
  CHORUS_PUBLIC_URL: unset(z.string().url(), 'Base of the local store\'s signed URLs, as clients reach the gateway (set it behind a proxy or load balancer). A `HOST` of `0.0.0.0`/`::` becomes `127.0.0.1` in the default. Must be a URL.', '`http://<HOST>:<PORT>`'),
  CHORUS_OBJECT_URL_SECRET: unset(z.string().min(16), 'HMAC-SHA256 secret of the local store\'s signed URLs, at least 16 characters. Outside production, when unset, the random secret of `<CHORUS_DATA_DIR>/secrets.json`; in production required with the local store and checked by the strength rule ([secrets.md](secrets.md)). Every gateway must share it.', 'dev secrets file (dev only)'),
  CHORUS_S3_BUCKET: unset(z.string(), 'The bucket (required with `CHORUS_STORAGE=s3`). Credentials come from the AWS SDK\'s default chain (`AWS_ACCESS_KEY_ID`/…, profile, instance role); those variables are read by the SDK, not by `config/`.'),
  CHORUS_S3_REGION: text('us-east-1', 'Its region.'),
  CHORUS_S3_ENDPOINT: unset(z.string().url(), 'An S3-compatible endpoint (MinIO, …); must be a URL.'),
  CHORUS_S3_FORCE_PATH_STYLE: unset(bool, 'Path-style bucket addressing (`1`, `true`, `yes` enable).', 'on when `CHORUS_S3_ENDPOINT` is set, else off'),
  CHORUS_S3_PREFIX: text('', 'Key prefix inside the bucket.'),
  CHORUS_ATTACHMENT_MAX_BYTES: int(25 * 1024 * 1024, 'Largest attachment: the declared `size` (more → 400) and the uploaded body (more → 413). clamd\'s stream limit follows it (+ 1 MiB).', { min: 1, note: '25 MiB' }),
  CHORUS_ATTACHMENT_TYPES: text('image/png,image/jpeg,image/gif,image/webp,application/pdf,application/zip,text/plain', 'Declared content types that may be uploaded (comma-separated, case-insensitive); the real type must match the declared one (else rejected `type_mismatch`).'),
  CHORUS_UPLOAD_URL_TTL_S: int(900, 'Lifetime of an upload URL (at least 10).', { min: 10, note: '15 min' }),
  CHORUS_DOWNLOAD_URL_TTL_S: int(300, 'Lifetime of the download and thumbnail URLs in `GET /api/attachments/:id` (at least 10).', { min: 10, note: '5 min' }),
  CHORUS_CLAMD_SOCKET: unset(z.string(), 'Unix socket of an external clamd (then not started or stopped by Chorus). Unset: `npm start` / `services up` run a private clamd per data dir at `<socket dir>/clamd/clamd.sock`.', 'unset: the stack\'s own clamd'),
  CHORUS_CLAMD_TIMEOUT_MS: int(60_000, 'Socket timeout of one scan (at least 1000). An unreachable clamd is retried for as long as it takes: attachments wait in `scanning`, never released unscanned.', { min: 1000 }),
  CHORUS_CLAMAV_DB_DIR: unset(z.string(), 'Signature database of the local clamd. Default: `/var/lib/clamav` when it holds a real database (kept fresh by freshclam), else the test signatures in `ops/clamav-test-signatures` with a loud warning (not real protection).'),
  CHORUS_SCAN_THREADS: int(2, 'Threads of the scan pool per attachments process (at least 1).', { min: 1 }),
  CHORUS_THUMB_THREADS: int(1, 'Threads of the thumbnail pool (at least 1).', { min: 1 }),
  CHORUS_THUMB_MAX_PIXELS: int(40_000_000, 'Images with more pixels are refused from their header, before decoding (rejected `too_large`).', { min: 1 }),
  CHORUS_THUMB_SIZE: int(320, 'Thumbnails fit a square of this many pixels (clamped to 16–2048; never enlarged).', { min: 16, max: 2048 }),
  CHORUS_THUMB_HEAP_MB: int(64, 'V8 heap limit of a thumbnail worker thread (at least 16); exceeding it rejects the image `too_large`.', { min: 16 }),
});

const notifications = section('Notifications', {
  CHORUS_NOTIFY_RETRY_BASE_MS: int(250, 'First retry delay of a failed provider call (full jitter: uniform in [d/2, d]).', { min: 1 }),
  CHORUS_NOTIFY_RETRY_FACTOR: custom(z.coerce.number().min(1).default(2), '`2`', 'Multiplier per attempt (at least 1).'),
  CHORUS_NOTIFY_RETRY_CAP_MS: int(30_000, 'Longest retry delay.', { min: 1 }),
  CHORUS_NOTIFY_MAX_ATTEMPTS: int(8, 'Provider attempts before the job goes to `chorus:{t}:dlq:notify-<channel>`.', { min: 1 }),
  CHORUS_NOTIFY_DIGEST_WINDOW_MS: int(15 * 60_000, 'Low-priority notifications of a user and channel are sent together once per window.', { min: 100, note: '15 min' }),
  CHORUS_NOTIFY_TICK_MS: int(250, 'How often each channel consumer moves due retries back onto its queue and closes due digests.', { min: 10 }),
  CHORUS_NOTIFY_CONCURRENCY: int(16, 'Jobs per batch, sent in parallel, per consumer (1–256).', { min: 1, max: 256 }),
  CHORUS_NOTIFY_SEND_TIMEOUT_MS: int(20_000, 'A provider call taking longer fails (transient); the in-flight lease lasts 1.5 × this + 1 s.', { min: 100 }),
  CHORUS_NOTIFY_STREAM_RETENTION_MS: int(3600_000, 'Acknowledged jobs are trimmed from the channel queues after this.', { min: 1000, note: '1 h' }),
  CHORUS_NOTIFY_BREAKER_THRESHOLD: int(5, 'Consecutive transient failures that open a provider\'s circuit breaker.', { min: 1 }),
  CHORUS_NOTIFY_BREAKER_OPEN_MS: int(15_000, 'How long an open breaker refuses calls before one probe.', { min: 10 }),
  CHORUS_NOTIFY_ALERT_AFTER_MS: int(60_000, 'A breaker not closed for this long sets `chorus_notify_provider_alert{provider}` to 1.'),
  CHORUS_SMTP_URL: unset(z.string(), 'SMTP relay (`smtp://user:pass@host:587`, `smtps://…`). Unset: the local SMTP sink that `services up` starts (`<dataDir>/smtp-sink`).'),
  CHORUS_SMTP_POOL: int(16, 'Pooled SMTP connections per process.', { min: 1 }),
  CHORUS_EMAIL_FROM: text('Chorus <notifications@chorus.invalid>', 'From of notification emails.'),
  CHORUS_PUSH_GATEWAY_URL: unset(z.string().url(), 'Push gateway webhook (http or https). Unset: the local push sink (`<dataDir>/push-sink`).'),
  CHORUS_EMAIL_CALLBACK_SECRET: unset(z.string().min(16), 'HMAC-SHA256 secret of `POST /api/providers/email/callback` (at least 16 characters). Outside production, when unset, the random secret of `<CHORUS_DATA_DIR>/secrets.json`; in production unset means callbacks are refused (401), and a set one must pass the strength rule ([secrets.md](secrets.md)).', 'dev secrets file (dev only)'),
  CHORUS_PUSH_CALLBACK_SECRET: unset(z.string().min(16), 'The same for `POST /api/providers/push/callback`.', 'dev secrets file (dev only)'),
});
/** An OTLP endpoint; empty counts as unset, as the OpenTelemetry specification says of its variables. */
const otlpUrl = z.union([z.literal(''), z.string().url()]).transform((v) => v || undefined);

const traces = section('Traces (OpenTelemetry)', {
  OTEL_EXPORTER_OTLP_ENDPOINT: unset(otlpUrl, 'Base URL of an OTLP/HTTP receiver (an OpenTelemetry Collector, Jaeger, Tempo…), e.g. `http://collector:4318`; traces go to `<url>/v1/traces`. Setting it (or the next one) turns tracing on in every role; unset, no SDK is loaded and no span is made ([operations.md](operations.md#6-traces)).', 'unset: tracing off'),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: unset(otlpUrl, 'The full URL traces are posted to (taken as it is); wins over `OTEL_EXPORTER_OTLP_ENDPOINT`.', 'unset: tracing off'),
  OTEL_EXPORTER_OTLP_PROTOCOL: custom(z.enum(['http/protobuf', 'http/json']).default('http/protobuf'), '`http/protobuf`', 'OTLP encoding: `http/protobuf` or `http/json` (`grpc` is not supported). Headers, timeout and TLS files (`OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT`, `…_CERTIFICATE`, their `_TRACES_` forms) are read by the OpenTelemetry exporter itself. Spans leave in batches of at most 512 every 5 s, and at shutdown.'),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: unset(z.enum(['http/protobuf', 'http/json']), 'The same for traces only; wins over `OTEL_EXPORTER_OTLP_PROTOCOL`.'),
  OTEL_TRACES_SAMPLER: custom(z.enum(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio']).default('parentbased_traceidratio'), '`parentbased_traceidratio`', 'Which traces are kept. `parentbased_*` follows the sampled flag of the incoming `traceparent` (HTTP header or stream entry), so one trace is kept or dropped whole across processes; a trace that starts in Chorus is kept with probability `OTEL_TRACES_SAMPLER_ARG`.'),
  OTEL_TRACES_SAMPLER_ARG: unset(z.coerce.number().min(0).max(1), 'The ratio of the `traceidratio` samplers, 0–1.', '`1`'),
  OTEL_SERVICE_NAME: unset(z.string().min(1), '`service.name` of every span of the process (`OTEL_RESOURCE_ATTRIBUTES` adds other resource attributes).', '`chorus-gateway`, `chorus-processor-<groups>`'),
  OTEL_SDK_DISABLED: unset(bool, '`true` keeps tracing off even with an endpoint set.', '`false`'),
});

/** The table, in the order of docs/configuration.md. */
export const OPTIONS = {
  ...running, ...identity, ...writePath, ...streams, ...gateway, ...rateLimits, ...typing, ...presence, ...readModels, ...attachments, ...notifications, ...traces,
};

export type OptionName = keyof typeof OPTIONS;

/** The schema of the whole environment, variable by variable. */
export const ENV_SCHEMA = z.object(
  Object.fromEntries(Object.entries(OPTIONS).map(([name, o]) => [name, o.schema])) as { [K in OptionName]: (typeof OPTIONS)[K]['schema'] },
);

/** Parsed variables: defaults applied, integers within their bounds. */
export type Env = z.output<typeof ENV_SCHEMA>;

/** Parses the environment; the zod issues of every invalid variable when it is not valid. */
export function parseEnv(env: NodeJS.ProcessEnv): { ok: true; env: Env } | { ok: false; issues: z.core.$ZodIssue[] } {
  const parsed = ENV_SCHEMA.safeParse(env);
  if (!parsed.success) return { ok: false, issues: parsed.error.issues };
  const e: Record<string, unknown> = { ...parsed.data };
  for (const [name, o] of Object.entries(OPTIONS) as [string, Option][]) {
    if (o.min !== undefined || o.max !== undefined) e[name] = Math.min(o.max ?? Infinity, Math.max(o.min ?? -Infinity, e[name] as number));
  }
  return { ok: true, env: e as Env };
}
