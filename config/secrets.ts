// Secrets of a stack: the dev secrets file kept in the data dir, and the strength rule every HMAC
// secret configured for production must pass. Only config/index.ts calls this file: configuration
// (environment and this file) is read in config/ and nowhere else.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The secrets a stack outside production generates for itself (each 32 random bytes, hex). */
export interface DevSecrets {
  jwt: string;
  objectUrl: string;
  emailCallback: string;
  pushCallback: string;
}

const SECRET_BYTES = 32;
const Hex = z.string().regex(new RegExp(`^[0-9a-f]{${SECRET_BYTES * 2},}$`), `${SECRET_BYTES * 2} or more hex digits`);
const DevSecretsFile = z.object({
  note: z.string().optional(),
  createdAt: z.string().optional(),
  jwt: Hex,
  objectUrl: Hex,
  emailCallback: Hex,
  pushCallback: Hex,
});

export function devSecretsPath(dataDir: string): string {
  return path.join(dataDir, 'secrets.json');
}

/**
 * The dev secrets of `dataDir`, generated on first use. Every process of a stack (gateways,
 * processors, the CLI, tests) calls this with the same data dir, possibly at the same moment: the
 * file is written whole to a private temporary file and then hard-linked into place, which fails
 * if another process linked first; the loser reads the winner's file. So the file is never seen
 * half-written and every process ends up with the same secrets.
 */
export function loadDevSecrets(dataDir: string): DevSecrets {
  const file = devSecretsPath(dataDir);
  const existing = readSecretsFile(file);
  if (existing) return existing;
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const fresh: z.infer<typeof DevSecretsFile> = {
    note: 'Chorus DEV secrets, generated on first start (NODE_ENV is not production). Never use them in production.',
    createdAt: new Date().toISOString(),
    jwt: randomSecret(),
    objectUrl: randomSecret(),
    emailCallback: randomSecret(),
    pushCallback: randomSecret(),
  };
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, `${JSON.stringify(fresh, null, 2)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ConfigError(`cannot create ${file}: ${(err as Error).message} (or set JWT_SECRET, CHORUS_OBJECT_URL_SECRET and the callback secrets yourself)`);
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  const settled = readSecretsFile(file);
  if (!settled) throw new ConfigError(`${file} vanished while it was being created`);
  return settled;
}

/** The file's secrets, undefined when it does not exist; refuses a file others may read, or a malformed one. */
function readSecretsFile(file: string): DevSecrets | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new ConfigError(`${file} is a symbolic link; refusing to read secrets through it`);
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new ConfigError(`${file} is not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      throw new ConfigError(`${file} has permissions ${(st.mode & 0o777).toString(8).padStart(4, '0')}, wider than 0600: `
        + `others on this machine may have read its secrets. Delete it (a new one is generated; dev tokens issued so far stop working) or chmod 600 it`);
    }
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) throw new ConfigError(`${file} belongs to uid ${st.uid}, not to this process (uid ${uid})`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(fd, 'utf8'));
    } catch (err) {
      throw new ConfigError(`${file} is not valid JSON (${(err as Error).message}); delete it to generate new dev secrets`);
    }
    const checked = DevSecretsFile.safeParse(parsed);
    if (!checked.success) {
      const details = checked.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ');
      throw new ConfigError(`${file} is malformed (${details}); delete it to generate new dev secrets`);
    }
    const { jwt, objectUrl, emailCallback, pushCallback } = checked.data;
    return { jwt, objectUrl, emailCallback, pushCallback };
  } finally {
    fs.closeSync(fd);
  }
}

function randomSecret(): string {
  return crypto.randomBytes(SECRET_BYTES).toString('hex');
}

/**
 * The strength rule of a configured HMAC secret (production): it is refused when it is
 *  - shorter than 32 bytes (RFC 8725 §3.5: HMAC keys need enough entropy; 32 bytes is SHA-256's size),
 *  - one piece repeated ("abcabcabc…", "aaaa…"): its smallest period is at most half its length,
 *  - or, counting the frequency of each character, carries less than 128 bits in total
 *    (Shannon entropy per character × length), e.g. "0000…0001", a word and a run of the same letter.
 * It is a guard against obvious mistakes, not a proof of randomness: generate secrets with
 * `openssl rand -hex 32`. Returns what is wrong, or undefined when the secret passes.
 */
export function weakSecretReason(secret: string): string | undefined {
  const bytes = Buffer.byteLength(secret, 'utf8');
  if (bytes < SECRET_BYTES) return `it has ${bytes} bytes, at least ${SECRET_BYTES} are needed`;
  const period = smallestPeriod(secret);
  if (period <= secret.length / 2) return `it is the same ${period} character(s) repeated`;
  const bits = shannonBits(secret);
  if (bits < 128) return `it carries about ${Math.floor(bits)} bits by its character frequencies, at least 128 are needed`;
  return undefined;
}

/** Throws a ConfigError naming the variable when its secret fails the strength rule. */
export function requireStrongSecret(variable: string, secret: string): void {
  const reason = weakSecretReason(secret);
  if (reason) throw new ConfigError(`${variable} is too weak for production: ${reason} (generate one with \`openssl rand -hex 32\`)`);
}

/** The smallest p such that s[i] === s[i + p] for every i (the prefix function of KMP). */
function smallestPeriod(s: string): number {
  const pi = new Array<number>(s.length).fill(0);
  for (let i = 1; i < s.length; i++) {
    let k = pi[i - 1]!;
    while (k > 0 && s[i] !== s[k]) k = pi[k - 1]!;
    if (s[i] === s[k]) k++;
    pi[i] = k;
  }
  return s.length - (pi[s.length - 1] ?? 0);
}

function shannonBits(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const n = [...s].length;
  let perChar = 0;
  for (const c of counts.values()) perChar -= (c / n) * Math.log2(c / n);
  return perChar * n;
}
