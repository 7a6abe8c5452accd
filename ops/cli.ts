// `npm run chorus -- <command>`: operator and developer commands against the configuration of the
// current environment (CHORUS_DATA_DIR, REDIS_URL, DATABASE_URL, ...).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config/index.js';
import { createLogger, type Logger } from '../core/logger.js';
import { createAuthenticator } from '../core/auth.js';
import { createRedis } from '../core/redis.js';
import { isId } from '../core/ids.js';
import { setFlag } from '../core/flags.js';
import { listDeadLetters, replayDeadLetter } from '../core/stream-commands.js';
import { runMigrations, startServices, stopServices } from './services.js';
import { createSql } from '../core/db.js';
import { knownTenants, reconcileTenant } from '../processors/reconcile.js';
import { rebuildTenant } from '../processors/rebuild.js';
import { findProcessor } from '../processors/registry.js';
import { isChannel, CHANNELS, groupOf } from '../workers/notify/channels.js';
import { listNotifyDeadLetters, replayNotifyDeadLetter, showNotifyDeadLetter } from '../workers/notify/dlq.js';

const USAGE = `usage: npm run chorus -- <command>

  token --tenant T --user U [--admin] [--ttl SECONDS]   print a dev token (dev auth only)
  migrate                                               apply pending migrations
  services up [--redis-tcp-port N]                      start local Redis/Postgres/clamd/notification sinks for CHORUS_DATA_DIR and leave them running
  services down                                         stop them
  processor <group> [--consumers N]                     run one processor group in the foreground
  dlq list --tenant T --group G [--count N]             show dead letters of a consumer group
  dlq replay --tenant T --group G [--id ID]             put dead letters back on the group's stream (all, or one)
  reconcile [--tenant T]                                recompute unread counters, heal drifted rows (all tenants by default)
  rebuild inbox|counters --tenant T                     rebuild a read model from the event log while live; exit 1 if live ≠ rebuilt
  flag typing on|off                                    switch a runtime feature flag for every gateway (within 2 s)
  notify-dlq list --tenant T --channel C [--count N]    dead notification jobs of a channel (inApp|email|push) with their reasons
  notify-dlq show --tenant T --channel C --id ID        one dead notification job in full
  notify-dlq replay --tenant T --channel C [--id ID]    put dead notification jobs back on their queue with fresh attempts (all, or one)
`;

class UsageError extends Error {}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function need(value: string | undefined, name: string): string {
  if (!value) throw new UsageError(`--${name} is required`);
  return value;
}

function needId(value: string | undefined, name: string): string {
  const v = need(value, name);
  if (!isId(v)) throw new UsageError(`--${name} must match ^[A-Za-z0-9_-]{1,64}$`);
  return v;
}

function count(value: string | undefined, name: string, def: number): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer`);
  return n;
}

async function token(config: Config, argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { tenant: { type: 'string' }, user: { type: 'string' }, admin: { type: 'boolean' }, ttl: { type: 'string' } },
  });
  if (!config.devAuth) throw new Error('dev tokens are disabled (CHORUS_DEV_AUTH=0 or NODE_ENV=production)');
  const auth = await createAuthenticator(config);
  out(
    await auth.sign({
      tenantId: needId(values.tenant, 'tenant'),
      userId: needId(values.user, 'user'),
      admin: values.admin ?? false,
      ttlSeconds: count(values.ttl, 'ttl', 24 * 3600),
    }),
  );
}

async function services(config: Config, log: Logger, argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { 'redis-tcp-port': { type: 'string' } } });
  const action = positionals[0];
  if (action === 'up') {
    const tcp = values['redis-tcp-port'];
    const s = await startServices(config, log, { redisTcpPort: tcp === undefined ? undefined : count(tcp, 'redis-tcp-port', 0) });
    // Left running on purpose: `services down` (or the next supervisor) stops them.
    out(
      JSON.stringify({
        dataDir: config.dataDir,
        redis: s.redis ? { pid: s.redis.pid, socket: s.redis.socketPath, tcpPort: s.redis.tcpPort, reused: s.redis.reused } : 'external',
        postgres: s.postgres ? { pid: s.postgres.pid, socketDir: s.postgres.socketDir, reused: s.postgres.reused } : 'external',
        clamd: s.clamd ? { pid: s.clamd.pid, socket: s.clamd.socketPath, testSignatures: s.clamd.testSignatures } : config.attachments.clamd.local ? 'not running' : 'external',
        smtpSink: s.smtpSink ? { pid: s.smtpSink.pid, socket: s.smtpSink.socketPath, dir: s.smtpSink.dir } : config.notify.email.local ? 'not running' : 'external',
        pushSink: s.pushSink ? { pid: s.pushSink.pid, socket: s.pushSink.socketPath, dir: s.pushSink.dir } : config.notify.push.local ? 'not running' : 'external',
        migrationsApplied: s.migrations,
      }),
    );
  } else if (action === 'down') {
    out(JSON.stringify({ dataDir: config.dataDir, stopped: await stopServices(config, log) }));
  } else {
    throw new UsageError('services up|down');
  }
}

/** Runs the processor entrypoint in the foreground, forwarding signals, and exits with its code. */
function processor(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { consumers: { type: 'string' } } });
  const group = positionals[0];
  if (!group || !isId(group)) throw new UsageError('processor <group>: a group name is required');
  const consumers = count(values.consumers, 'consumers', 1);
  const script = fileURLToPath(new URL('../processors/main.js', import.meta.url));
  // Own process group: a Ctrl-C reaches only us and is forwarded once (not delivered twice).
  const child = spawn(process.execPath, [script, group, '--consumers', String(consumers)], { stdio: 'inherit', detached: true });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  return new Promise((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
  });
}

async function dlq(config: Config, argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { tenant: { type: 'string' }, group: { type: 'string' }, id: { type: 'string' }, count: { type: 'string' } },
  });
  const tenant = needId(values.tenant, 'tenant');
  const group = needId(values.group, 'group');
  // Channel jobs live on their own queues: replaying them onto the event stream would lose them.
  if (CHANNELS.some((c) => groupOf(c) === group)) throw new UsageError(`${group} holds notification jobs: use notify-dlq --channel`);
  const r = createRedis(config, { name: 'chorus-cli' });
  try {
    if (positionals[0] === 'list') {
      const entries = await listDeadLetters(r, tenant, group, count(values.count, 'count', 100));
      for (const e of entries) out(JSON.stringify(e));
      if (!entries.length) process.stderr.write(`no dead letters for tenant ${tenant}, group ${group}\n`);
    } else if (positionals[0] === 'replay') {
      const ids = values.id ? [values.id] : (await listDeadLetters(r, tenant, group, count(values.count, 'count', 10_000))).map((e) => e.id);
      let replayed = 0;
      for (const id of ids) {
        const seq = await replayDeadLetter(r, tenant, group, id, findProcessor(group)?.stream);
        if (seq) {
          replayed++;
          out(JSON.stringify({ deadLetter: id, replayedAs: seq }));
        } else {
          process.stderr.write(`no dead letter ${id} for tenant ${tenant}, group ${group}\n`);
        }
      }
      if (values.id && !replayed) process.exitCode = 1;
    } else {
      throw new UsageError('dlq list|replay');
    }
  } finally {
    r.disconnect();
  }
}

/** Dead notification jobs: list, show one, replay (one or all) onto the channel queue. */
async function notifyDlq(config: Config, argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { tenant: { type: 'string' }, channel: { type: 'string' }, id: { type: 'string' }, count: { type: 'string' } },
  });
  const action = positionals[0];
  if (action !== 'list' && action !== 'show' && action !== 'replay') throw new UsageError('notify-dlq list|show|replay');
  const tenant = needId(values.tenant, 'tenant');
  const channel = need(values.channel, 'channel');
  if (!isChannel(channel)) throw new UsageError(`--channel must be one of ${CHANNELS.join(', ')}`);
  const r = createRedis(config, { name: 'chorus-cli' });
  try {
    if (action === 'list') {
      const entries = await listNotifyDeadLetters(r, tenant, channel, count(values.count, 'count', 100));
      for (const e of entries) {
        out(JSON.stringify({ id: e.id, at: e.at, reason: e.reason ?? { error: e.error }, attempts: e.deliveries, job: e.job && {
          kind: e.job.kind, userId: e.job.userId, ...(e.job.kind === 'message' ? { notificationId: e.job.notificationId, messageId: e.job.messageId } : { digestId: e.job.digestId, items: e.job.items.length }),
        } }));
      }
      if (!entries.length) process.stderr.write(`no dead notification jobs for tenant ${tenant}, channel ${channel}\n`);
    } else if (action === 'show') {
      const e = await showNotifyDeadLetter(r, tenant, channel, need(values.id, 'id'));
      if (!e) {
        process.stderr.write(`no dead notification job ${values.id} for tenant ${tenant}, channel ${channel}\n`);
        process.exitCode = 1;
      } else out(JSON.stringify(e, null, 2));
    } else {
      const ids = values.id ? [values.id] : (await listNotifyDeadLetters(r, tenant, channel, count(values.count, 'count', 10_000))).map((e) => e.id);
      let replayed = 0;
      for (const id of ids) {
        const seq = await replayNotifyDeadLetter(r, tenant, channel, id);
        if (seq) {
          replayed++;
          out(JSON.stringify({ deadLetter: id, replayedAs: seq }));
        } else process.stderr.write(`no replayable dead notification job ${id} for tenant ${tenant}, channel ${channel}\n`);
      }
      if (values.id && !replayed) process.exitCode = 1;
    }
  } finally {
    r.disconnect();
  }
}

/** Reconciles the unread counters of one tenant or of every registered tenant; one JSON line each. */
async function reconcile(config: Config, log: Logger, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { tenant: { type: 'string' } } });
  const r = createRedis(config, { name: 'chorus-cli' });
  const sql = createSql(config, { max: 2, app: 'chorus-cli' });
  try {
    const tenants = values.tenant ? [needId(values.tenant, 'tenant')] : await knownTenants(r);
    for (const tenantId of tenants) {
      const res = await reconcileTenant(sql, r, tenantId, { threshold: config.readModels.reconcileThreshold, log });
      out(JSON.stringify({ tenant: tenantId, checked: res.checked, healed: res.healed, tolerated: res.tolerated, drifts: res.drifts.slice(0, 20) }));
    }
  } finally {
    r.disconnect();
    await sql.end({ timeout: 5 });
  }
}

/** Rebuilds one read model of one tenant; prints the checksums and fails when live and rebuilt differed. */
async function rebuild(config: Config, log: Logger, argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { tenant: { type: 'string' } } });
  const kind = positionals[0];
  if (kind !== 'inbox' && kind !== 'counters') throw new UsageError('rebuild inbox|counters --tenant T');
  const tenantId = needId(values.tenant, 'tenant');
  const r = createRedis(config, { name: 'chorus-cli' });
  const sql = createSql(config, { max: 2, app: 'chorus-cli' });
  try {
    const res = await rebuildTenant({ kind, sql, redis: r, tenantId, log });
    out(JSON.stringify(res));
    if (!res.equal) {
      process.stderr.write(`rebuild: live and rebuilt ${kind} of tenant ${tenantId} differed (the rebuilt state is now live)\n`);
      process.exitCode = 1;
    }
  } finally {
    r.disconnect();
    await sql.end({ timeout: 5 });
  }
}

async function flag(config: Config, argv: string[]): Promise<void> {
  const [name, state] = argv;
  if (name !== 'typing') throw new UsageError('flag: the only flag is typing');
  if (state !== 'on' && state !== 'off') throw new UsageError('flag: say on or off');
  const redis = createRedis(config, { name: 'cli' });
  try {
    await setFlag(redis, name, state === 'on');
    out(JSON.stringify({ flag: name, enabled: state === 'on' }));
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return;
  }
  const config = loadConfig();
  const log = createLogger({ role: 'cli', level: config.logLevel });
  switch (command) {
    case 'token':
      return token(config, rest);
    case 'migrate': {
      const applied = await runMigrations(config, log);
      out(JSON.stringify({ applied }));
      return;
    }
    case 'services':
      return services(config, log, rest);
    case 'processor':
      return processor(rest);
    case 'dlq':
      return dlq(config, rest);
    case 'notify-dlq':
      return notifyDlq(config, rest);
    case 'reconcile':
      return reconcile(config, log, rest);
    case 'rebuild':
      return rebuild(config, log, rest);
    case 'flag':
      return flag(config, rest);
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  process.stderr.write(`chorus: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
