// A private PostgreSQL cluster for one data dir: <dataDir>/pg, listening only on a unix socket in
// config.socketDir. Postgres refuses to run as root, so as root its binaries run as the `postgres`
// OS user, which then owns the cluster directory and the socket directory.
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import type { Config } from '../config/index.js';
import type { Logger } from '../core/logger.js';
import { sleep } from '../core/backoff.js';
import { isRoot, postgresBinDir, runCommand, type CommandResult } from './install.js';
import { killHard, pidAlive, processCommand, readPidFile, tail, waitUntil } from './local-redis.js';

export interface LocalPostgres {
  readonly pid: number;
  /** True when a cluster already running for this data dir was adopted instead of started. */
  readonly reused: boolean;
  readonly dir: string;
  readonly socketDir: string;
  isAlive(): boolean;
  /** pg_ctl stop -m fast (SIGKILL of the postmaster if that fails). */
  stop(): Promise<void>;
  /** SIGKILL of the postmaster: for crash tests. */
  kill9(): Promise<void>;
  /** Starts again on the same dir (stopping first if it still runs). */
  restart(): Promise<void>;
}

interface PgPaths {
  binDir: string;
  dir: string;
  socketDir: string;
  logFile: string;
  port: number;
}

function pgPaths(config: Config): PgPaths {
  const binDir = postgresBinDir();
  if (!binDir) throw new Error('PostgreSQL is not installed (run: node dist/ops/install.js)');
  return {
    binDir,
    dir: path.join(config.dataDir, 'pg'),
    socketDir: config.database.socketDir,
    logFile: path.join(config.dataDir, 'postgres.log'),
    port: config.database.port,
  };
}

function postgresUser(): { uid: number; gid: number } {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const f = line?.split(':');
  if (!f || f.length < 4) {
    throw new Error('running as root needs the `postgres` OS user (created by the postgresql package): apt-get install -y postgresql');
  }
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** Runs a PostgreSQL binary, as the postgres user when we are root. */
function pgRun(p: PgPaths, bin: string, args: string[], cwd: string): Promise<CommandResult> {
  const exe = path.join(p.binDir, bin);
  // A session of its own: a Ctrl-C in the terminal reaches the supervisor, which stops Postgres
  // in order, rather than the postmaster directly.
  if (isRoot()) return runCommand('runuser', ['-u', 'postgres', '--', exe, ...args], { cwd, detached: true });
  return runCommand(exe, args, { cwd, detached: true });
}

/** As root: the postgres user must own the cluster and socket dirs and be able to reach them. */
function prepareDirs(config: Config, p: PgPaths, log: Logger): void {
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o755 });
  fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(p.socketDir, { recursive: true, mode: 0o755 });
  if (!fs.existsSync(p.logFile)) fs.writeFileSync(p.logFile, '');
  if (!isRoot()) return;
  const { uid, gid } = postgresUser();
  for (const d of [p.dir, p.socketDir]) {
    fs.chownSync(d, uid, gid);
  }
  fs.chmodSync(p.dir, 0o700);
  fs.chmodSync(p.socketDir, 0o755);
  fs.chownSync(p.logFile, uid, gid);
  // Every ancestor of the cluster and socket dirs needs the search bit for the postgres user.
  for (const leaf of [p.dir, p.socketDir]) {
    for (let d = path.dirname(leaf); ; d = path.dirname(d)) {
      const st = fs.statSync(d);
      const searchable =
        st.uid === uid ? st.mode & 0o100 : st.gid === gid ? st.mode & 0o010 : st.mode & 0o001;
      if (!searchable) {
        fs.chmodSync(d, (st.mode & 0o7777) | 0o001);
        log.warn({ dir: d }, 'added o+x so that the postgres user can reach its data dir');
      }
      if (d === path.dirname(d)) break;
    }
  }
}

async function initCluster(config: Config, p: PgPaths, log: Logger): Promise<void> {
  if (fs.existsSync(path.join(p.dir, 'PG_VERSION'))) return;
  // A directory without PG_VERSION is an interrupted initdb: start over.
  fs.rmSync(p.dir, { recursive: true, force: true });
  prepareDirs(config, p, log);
  const r = await pgRun(p, 'initdb', ['-D', p.dir, '--auth=trust', '--username=postgres', '-E', 'UTF8', '--locale=C'], config.dataDir);
  if (r.code !== 0) throw new Error(`initdb failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  log.info({ dir: p.dir }, 'postgres cluster initialized');
}

function isReady(p: PgPaths, cwd: string): Promise<boolean> {
  return pgRun(p, 'pg_isready', ['-q', '-h', p.socketDir, '-p', String(p.port), '-t', '2'], cwd).then((r) => r.code === 0);
}

function postmasterPid(p: PgPaths): number | undefined {
  const pid = readPidFile(path.join(p.dir, 'postmaster.pid'));
  return pid && pidAlive(pid) && /postgres|postmaster/.test(processCommand(pid)) ? pid : undefined;
}

async function pgCtlStart(config: Config, p: PgPaths, log: Logger): Promise<number> {
  const settings = [
    "-c listen_addresses=''",
    `-c unix_socket_directories='${p.socketDir}'`,
    `-c port=${p.port}`,
    '-c fsync=on',
    '-c max_connections=200',
    '-c shared_buffers=128MB',
    // Per-statement cost (calls, time, rows), for the cost work and operators: the extension is
    // created in the app database by ensureAppRole and readable by the app role (pg_read_all_stats).
    '-c shared_preload_libraries=pg_stat_statements',
  ].join(' ');
  // After a SIGKILL of the postmaster its backends need a moment to notice and release shared
  // memory; until then a new postmaster refuses to start ("shared memory block is still in use").
  for (let attempt = 1; ; attempt++) {
    const r = await pgRun(p, 'pg_ctl', ['-D', p.dir, '-l', p.logFile, '-w', '-t', '60', '-o', settings, 'start'], config.dataDir);
    const pid = postmasterPid(p);
    if (r.code === 0 && pid) {
      log.info({ postgresPid: pid, dir: p.dir, socketDir: p.socketDir }, 'postgres started');
      return pid;
    }
    if (attempt >= 5) {
      throw new Error(`pg_ctl start failed (exit ${r.code}):\n${r.stdout}${r.stderr}\nlog ${p.logFile}:\n${tail(p.logFile)}`);
    }
    log.warn({ attempt, exit: r.code }, 'pg_ctl start failed; retrying');
    await sleep(500 * attempt);
  }
}

async function pgCtlStop(config: Config, p: PgPaths, pid: number, log: Logger): Promise<void> {
  const r = await pgRun(p, 'pg_ctl', ['-D', p.dir, '-m', 'fast', '-w', '-t', '30', 'stop'], config.dataDir);
  if (r.code !== 0 && pidAlive(pid)) {
    log.warn({ postgresPid: pid, exit: r.code, out: (r.stdout + r.stderr).trim() }, 'pg_ctl stop failed: SIGKILL');
    process.kill(pid, 'SIGKILL');
  }
  await waitUntil(() => !pidAlive(pid), 10_000);
  log.info({ postgresPid: pid, dir: p.dir }, 'postgres stopped');
}

/** Starts (or adopts) the private Postgres of config.dataDir; creates the app role and database. */
export async function startLocalPostgres(config: Config, log: Logger): Promise<LocalPostgres> {
  const p = pgPaths(config);
  prepareDirs(config, p, log);
  await initCluster(config, p, log);

  let pid = 0;
  let reused = false;
  const running = postmasterPid(p);
  if (running) {
    // It may be in crash recovery after the previous supervisor died.
    if (!(await waitUntil(() => isReady(p, config.dataDir), 60_000, 250))) {
      throw new Error(`postgres pid ${running} runs for ${p.dir} but does not accept connections in ${p.socketDir}`);
    }
    pid = running;
    reused = true;
    log.info({ postgresPid: pid, dir: p.dir }, 'postgres already running for this data dir: reusing it');
  } else {
    pid = await pgCtlStart(config, p, log);
  }
  await ensureAppRole(config, log);

  async function stop(): Promise<void> {
    if (pidAlive(pid)) await pgCtlStop(config, p, pid, log);
  }

  return {
    get pid() {
      return pid;
    },
    get reused() {
      return reused;
    },
    dir: p.dir,
    socketDir: p.socketDir,
    isAlive: () => pidAlive(pid),
    stop,
    kill9: () => killHard(pid, log, { postgresPid: pid }, 'postgres'),
    async restart() {
      await stop();
      reused = false;
      prepareDirs(config, p, log);
      pid = await pgCtlStart(config, p, log);
    },
  };
}

/** Stops the Postgres running for config.dataDir, if any (for `services down`). Returns whether one ran. */
export async function stopLocalPostgres(config: Config, log: Logger): Promise<boolean> {
  const p = pgPaths(config);
  const pid = postmasterPid(p);
  if (!pid) return false;
  await pgCtlStop(config, p, pid, log);
  return true;
}

/** The application role: LOGIN, never superuser, never BYPASSRLS (row-level security must bind it). */
export async function ensureAppRole(config: Config, log: Logger): Promise<void> {
  const { user, database, socketDir, port } = config.database;
  const sql = postgres({
    path: `${socketDir}/.s.PGSQL.${port}`,
    user: 'postgres',
    database: 'postgres',
    max: 1,
    onnotice: () => undefined,
  });
  try {
    const [role] = await sql<{ rolsuper: boolean; rolbypassrls: boolean; rolcanlogin: boolean }[]>`
      select rolsuper, rolbypassrls, rolcanlogin from pg_roles where rolname = ${user}`;
    if (!role) {
      await sql`create role ${sql(user)} login nosuperuser nobypassrls`;
      log.info({ dbRole: user }, 'postgres role created');
    } else if (role.rolsuper || role.rolbypassrls || !role.rolcanlogin) {
      await sql`alter role ${sql(user)} login nosuperuser nobypassrls`;
      log.warn({ dbRole: user }, 'postgres role had superuser/bypassrls or no login: reset');
    }
    const [db] = await sql`select 1 from pg_database where datname = ${database}`;
    if (!db) {
      await sql`create database ${sql(database)} owner ${sql(user)}`;
      log.info({ database }, 'postgres database created');
    }
    await sql`grant pg_read_all_stats to ${sql(user)}`;
  } finally {
    await sql.end({ timeout: 5 });
  }
  const app = postgres({ path: `${socketDir}/.s.PGSQL.${port}`, user: 'postgres', database, max: 1, onnotice: () => undefined });
  try {
    await app`create extension if not exists pg_stat_statements`;
  } catch (err) {
    // A server started before shared_preload_libraries named it: statistics stay off until a restart.
    log.warn({ err }, 'pg_stat_statements unavailable');
  } finally {
    await app.end({ timeout: 5 });
  }
}
