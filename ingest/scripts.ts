// Loads the write path's Lua scripts (ingest/lua/*.lua, each with its KEYS/ARGV header) and runs
// them with EVALSHA, falling back to EVAL when the script cache was flushed (Redis restart).
import fs from 'node:fs';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from '../core/redis.js';

const LUA_DIR = fileURLToPath(new URL('../../ingest/lua/', import.meta.url));

export type ScriptName = 'create-thread' | 'change-membership' | 'post-message' | 'change-message';

interface Script {
  source: string;
  sha: string;
}

const cache = new Map<ScriptName, Script>();

function load(name: ScriptName): Script {
  let s = cache.get(name);
  if (!s) {
    const source = fs.readFileSync(`${LUA_DIR}${name}.lua`, 'utf8');
    s = { source, sha: crypto.createHash('sha1').update(source).digest('hex') };
    cache.set(name, s);
  }
  return s;
}

export async function runScript(r: RedisClient, name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
  const s = load(name);
  try {
    return await r.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!String((err as Error).message).includes('NOSCRIPT')) throw err;
    return r.eval(s.source, keys.length, ...keys, ...args);
  }
}
