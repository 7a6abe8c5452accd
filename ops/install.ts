// Makes sure the Debian packages the local stack runs on are installed (redis-server, postgresql;
// ClamAV and Prometheus optionally). As root it installs what is missing with apt-get; otherwise it says exactly
// what to install and fails. It never starts the packaged system services: ours run privately
// under CHORUS_DATA_DIR on unix sockets.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and collects its output (never throws on a non-zero exit). */
export function runCommand(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; inherit?: boolean; timeoutMs?: number; detached?: boolean } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      detached: opts.detached,
      stdio: opts.inherit ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** The absolute path of an executable on PATH, if any. */
export function which(bin: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, bin);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      continue;
    }
  }
  return undefined;
}

/** The bin directory of the newest installed PostgreSQL (Debian layout first, then PATH). */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  try {
    const versions = fs
      .readdirSync(root)
      .filter((v) => /^\d+$/.test(v) && fs.existsSync(path.join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(root, versions[0], 'bin');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const initdb = which('initdb');
  return initdb ? path.dirname(initdb) : undefined;
}

interface Requirement {
  pkg: string;
  optional: boolean;
  present: () => boolean;
}

const REQUIREMENTS: Requirement[] = [
  { pkg: 'redis-server', optional: false, present: () => !!which('redis-server') && !!which('redis-cli') },
  { pkg: 'postgresql', optional: false, present: () => !!postgresBinDir() },
  { pkg: 'clamav-daemon', optional: true, present: () => !!which('clamd') || fs.existsSync('/usr/sbin/clamd') },
  { pkg: 'clamav-testfiles', optional: true, present: () => fs.existsSync('/usr/share/clamav-testfiles') },
  // promtool checks and unit-tests the alert rules, prometheus runs the observability proof
  // (ops/observability/, test/int/prometheus.int.test.ts). Its packaged service is never started.
  { pkg: 'prometheus', optional: true, present: () => !!which('promtool') && !!which('prometheus') },
];

// Optional packages that failed to install are retried at most daily, so an offline machine does
// not pay for `apt-get update` on every start.
const OPTIONAL_MARKER = path.join(os.tmpdir(), 'chorus-apt-optional-attempt');
const OPTIONAL_RETRY_MS = 24 * 3600 * 1000;

function optionalAttemptedRecently(): boolean {
  try {
    return Date.now() - fs.statSync(OPTIONAL_MARKER).mtimeMs < OPTIONAL_RETRY_MS;
  } catch {
    return false;
  }
}

/**
 * Debian's invoke-rc.d asks /usr/sbin/policy-rc.d whether a package may start its service; exit
 * code 101 means "no". It is in place only while apt runs, and only if none existed before.
 */
async function withoutServiceStarts<T>(fn: () => Promise<T>): Promise<T> {
  const policy = '/usr/sbin/policy-rc.d';
  if (fs.existsSync(policy)) return fn();
  fs.writeFileSync(policy, '#!/bin/sh\n# written by chorus ops/install.ts while apt-get runs\nexit 101\n', { mode: 0o755 });
  try {
    return await fn();
  } finally {
    fs.rmSync(policy, { force: true });
  }
}

export interface InstallReport {
  installed: string[];
  missingOptional: string[];
}

/** Ensures the required packages (and tries the optional ones). Throws when something required is missing. */
export async function ensureSystemPackages(say: (line: string) => void = () => undefined): Promise<InstallReport> {
  const missing = REQUIREMENTS.filter((r) => !r.present());
  const required = missing.filter((r) => !r.optional).map((r) => r.pkg);
  let optional = missing.filter((r) => r.optional).map((r) => r.pkg);
  if (!required.length && (!optional.length || optionalAttemptedRecently())) {
    return { installed: [], missingOptional: optional };
  }
  if (!isRoot()) {
    if (required.length) {
      throw new Error(
        `missing system packages: ${required.join(' ')}. Install them with:\n` +
          `  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y ${required.join(' ')}` +
          (optional.length ? `\n(optional, for attachment scanning and the alert-rule tests: ${optional.join(' ')})` : ''),
      );
    }
    say(`optional packages not installed (attachment scanning, alert-rule tests): ${optional.join(' ')}`);
    return { installed: [], missingOptional: optional };
  }

  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]) => runCommand('apt-get', ['-o', 'DPkg::Lock::Timeout=120', ...args], { env, inherit: true });
  const installed: string[] = [];
  await withoutServiceStarts(async () => {
    say('apt-get update');
    const upd = await apt(['update']);
    if (upd.code !== 0) say(`apt-get update exited ${upd.code}; trying to install from the current package lists`);
    if (required.length) {
      say(`installing ${required.join(' ')}`);
      const r = await apt(['install', '-y', ...required]);
      const still = REQUIREMENTS.filter((q) => !q.optional && !q.present()).map((q) => q.pkg);
      if (r.code !== 0 || still.length) {
        throw new Error(`apt-get install ${required.join(' ')} failed (exit ${r.code}); still missing: ${still.join(' ') || 'none'}`);
      }
      installed.push(...required);
    }
    optional = REQUIREMENTS.filter((q) => q.optional && !q.present()).map((q) => q.pkg);
    if (optional.length && !optionalAttemptedRecently()) {
      say(`installing optional ${optional.join(' ')}`);
      fs.writeFileSync(OPTIONAL_MARKER, new Date().toISOString());
      const r = await apt(['install', '-y', ...optional]);
      if (r.code !== 0) say(`optional packages not installed (apt-get exit ${r.code}): attachment scanning and the alert-rule tests will be unavailable`);
      else installed.push(...optional);
      optional = REQUIREMENTS.filter((q) => q.optional && !q.present()).map((q) => q.pkg);
    }
  });
  return { installed, missingOptional: optional };
}

async function main(): Promise<void> {
  const say = (line: string) => process.stderr.write(`[install] ${line}\n`);
  try {
    const report = await ensureSystemPackages(say);
    if (report.installed.length) say(`installed: ${report.installed.join(' ')}`);
  } catch (err) {
    say((err as Error).message);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
