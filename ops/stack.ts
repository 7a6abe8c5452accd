// The supervisor `npm start` runs: local services, migrations, every role of ops/roles.ts as a
// child process (restarted with backoff when it dies), a banner with ready-to-paste examples, and
// an ordered shutdown on SIGINT/SIGTERM (children first, then the services it runs).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../config/index.js';
import { createLogger, type Logger } from '../core/logger.js';
import { backoffDelay, sleep } from '../core/backoff.js';
import { createAuthenticator } from '../core/auth.js';
import { startServices, type Services } from './services.js';
import { ROLES, roleEnv } from './roles.js';
import { pidAlive, processCommand } from './local-redis.js';
import { RESTART_BACKOFF, RoleProcess, STABLE_AFTER_MS } from './role-process.js';

const DIST = fileURLToPath(new URL('../', import.meta.url));

/**
 * <dataDir>/supervisor.json records the supervisor and its children, so that a second supervisor
 * on the same data dir is refused and the orphans of a crashed one are cleaned up.
 */
function stateFile(config: Config): string {
  return path.join(config.dataDir, 'supervisor.json');
}

function takeOver(config: Config, log: Logger): void {
  let state: { pid?: number; children?: number[] } = {};
  try {
    state = JSON.parse(fs.readFileSync(stateFile(config), 'utf8')) as typeof state;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err: (err as Error).message }, 'unreadable supervisor.json: ignored');
  }
  if (state.pid && state.pid !== process.pid && pidAlive(state.pid) && processCommand(state.pid).includes('ops/stack.js')) {
    throw new Error(`a supervisor (pid ${state.pid}) already runs for ${config.dataDir}: stop it first or use another CHORUS_DATA_DIR`);
  }
  for (const pid of state.children ?? []) {
    if (pidAlive(pid) && processCommand(pid).includes(DIST)) {
      log.warn({ childPid: pid, cmd: processCommand(pid).trim() }, 'killing a role left over by a previous supervisor');
      process.kill(pid, 'SIGKILL');
    }
  }
}

function writeState(config: Config, roles: RoleProcess[]): void {
  const state = { pid: process.pid, children: roles.flatMap((r) => (r.pid ? [r.pid] : [])) };
  fs.writeFileSync(stateFile(config), JSON.stringify(state));
}

/** Restarts a local service that died under us (it is a child of nobody once adopted). */
function watchService(name: string, svc: { isAlive(): boolean; restart(): Promise<void> }, log: Logger, isStopping: () => boolean): NodeJS.Timeout {
  let attempt = 0;
  let busy = false;
  let healthySince = Date.now();
  return setInterval(() => {
    if (busy || isStopping()) return;
    if (svc.isAlive()) {
      if (Date.now() - healthySince > STABLE_AFTER_MS) attempt = 0;
      return;
    }
    busy = true;
    attempt++;
    const delay = backoffDelay(attempt, RESTART_BACKOFF);
    log.error({ service: name, attempt, restartInMs: delay }, 'service died; restarting');
    void (async () => {
      try {
        await sleep(delay);
        if (!isStopping()) await svc.restart();
        healthySince = Date.now();
      } catch (err) {
        log.error({ service: name, err: (err as Error).message }, 'service restart failed');
      } finally {
        busy = false;
      }
    })();
  }, 2000);
}

function publicUrl(config: Config): string {
  const host = ['0.0.0.0', '::', ''].includes(config.host) ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

async function waitForGateway(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  return false;
}

async function banner(config: Config, url: string, ready: boolean, roles: RoleProcess[]): Promise<string> {
  const lines: string[] = [''];
  lines.push(ready ? `Chorus is up: ${url}` : `Chorus services are up, but the gateway does not answer ${url}/readyz yet (see the logs above).`);
  const counts = new Map<string, number>();
  for (const r of roles) counts.set(r.spec.name, (counts.get(r.spec.name) ?? 0) + 1);
  lines.push(`  data dir ${config.dataDir}; roles ${[...counts].map(([n, c]) => `${n} x${c}`).join(', ')}`);
  if (config.devSecretsFile) {
    lines.push(
      '',
      `!! DEV SECRETS: ${config.devSecretsFile} (mode 0600)`,
      '!! Random, generated for this data dir: they sign its tokens, object URLs and provider callbacks.',
      '!! Dev secrets only: production refuses to start without its own (docs/secrets.md). Delete the file to replace them.',
    );
  }
  if (config.devAuth && config.jwt.hmacKeys.length) {
    const auth = await createAuthenticator(config);
    const alice = await auth.sign({ tenantId: 'acme', userId: 'alice' });
    const bob = await auth.sign({ tenantId: 'acme', userId: 'bob' });
    const ws = url.replace(/^http/, 'ws');
    const json = `-H 'Content-Type: application/json'`;
    lines.push(
      '',
      'Dev tokens (tenant acme, valid 24 h; more with `npm run chorus -- token --tenant T --user U`):',
      `  export ALICE=${alice}`,
      `  export BOB=${bob}`,
      '',
      'Try it:',
      '  # alice creates a thread with bob',
      `  THREAD=$(curl -s -X POST ${url}/api/threads -H "Authorization: Bearer $ALICE" ${json} \\`,
      `      -d '{"title":"hello","participantIds":["bob"]}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).thread.id')`,
      '  # alice posts a message',
      `  curl -s -X POST ${url}/api/messages -H "Authorization: Bearer $ALICE" ${json} \\`,
      `      -d "{\\"threadId\\":\\"$THREAD\\",\\"body\\":\\"hi\\"}"`,
      '  # bob reads the timeline',
      `  curl -s ${url}/api/threads/$THREAD/messages -H "Authorization: Bearer $BOB"`,
      '  # bob listens on the websocket',
      `  node -e 'const s=new (require("ws"))(process.argv[1]); s.on("message",(m)=>console.log(String(m)))' "${ws}/ws?token=$BOB"`,
    );
  } else {
    lines.push('', 'Dev auth is off (CHORUS_DEV_AUTH=0 or production): bring your own JWTs.');
  }
  lines.push('', 'Ctrl-C stops everything this started.', '');
  return lines.join('\n');
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ role: 'supervisor', level: config.logLevel });
  fs.mkdirSync(config.dataDir, { recursive: true });
  takeOver(config, log);

  let stopping = false;
  let forced = false;
  let stoppingSince = 0;
  const roles: RoleProcess[] = [];
  const watchers: NodeJS.Timeout[] = [];
  let services: Services | undefined;
  const starting = startServices(config, log).then((s) => (services = s));

  const env: NodeJS.ProcessEnv = { ...process.env, CHORUS_DATA_DIR: config.dataDir, PORT: String(config.port), HOST: config.host };
  const saveState = () => {
    if (!stopping) writeState(config, roles);
  };

  async function shutdown(signal: string): Promise<void> {
    if (stopping) {
      // Under `npm start` one Ctrl-C arrives twice (from the terminal and forwarded by npm).
      if (!forced && Date.now() - stoppingSince > 1500) {
        forced = true;
        log.warn({ signal }, 'second signal: killing the roles now');
        for (const r of roles) r.kill();
      }
      return;
    }
    stopping = true;
    stoppingSince = Date.now();
    log.info({ signal }, 'stopping');
    for (const w of watchers) clearInterval(w);
    let code = 0;
    await Promise.all(roles.map((r) => r.stop(config.gateway.drainWindowMs + 5000)));
    try {
      await starting;
      await services?.stopAll();
    } catch (err) {
      log.error({ err: (err as Error).message }, 'stopping services failed');
      code = 1;
    }
    fs.rmSync(stateFile(config), { force: true });
    log.info('stopped');
    process.exit(code);
  }
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void shutdown(sig));
  // Last resort on an unexpected exit of the supervisor itself: do not leave roles behind.
  process.on('exit', () => {
    for (const r of roles) r.kill();
  });

  try {
    await starting;
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'services failed to start');
    process.exit(1);
  }
  if (stopping) return;

  for (const spec of ROLES) {
    const copies = Math.max(1, spec.copies(config));
    for (let i = 0; i < copies; i++) roles.push(new RoleProcess(spec, i, copies, { ...env, ...roleEnv(config, spec, i, copies) }, config.roleNodeArgs, config.backgroundNice, log, saveState));
  }
  for (const r of roles) r.start();
  const s = services as Services | undefined;
  if (s?.redis) watchers.push(watchService('redis', s.redis, log, () => stopping));
  if (s?.postgres) watchers.push(watchService('postgres', s.postgres, log, () => stopping));
  if (s?.clamd) watchers.push(watchService('clamd', s.clamd, log, () => stopping));

  const url = publicUrl(config);
  const ready = await waitForGateway(url, 20_000);
  if (stopping) return;
  if (!ready) log.warn({ url }, 'gateway not ready after 20 s; still supervising');
  process.stdout.write(await banner(config, url, ready, roles));
}

main().catch((err: unknown) => {
  process.stderr.write(`supervisor failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
