// Runs a Lua script file with EVALSHA, falling back to EVAL when Redis lost its script cache
// (restart, failover). Scripts live next to the TypeScript that calls them, each with a header
// naming its KEYS, ARGV and return values.
import fs from 'node:fs';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from './redis.js';

export interface LuaScript {
  run(r: RedisClient, keys: string[], args: (string | number)[]): Promise<unknown>;
}

const read = (file: string) => fs.readFileSync(fileURLToPath(new URL(`../../${file}`, import.meta.url)), 'utf8');

/**
 * `file` is resolved from the repository root (scripts are read from the source tree, not dist/).
 * `libraries` (files of local functions, e.g. core/lua/buckets.lua) are prepended to it, so that
 * one script can do what several would in one round trip.
 */
export function luaScript(file: string, libraries: string[] = []): LuaScript {
  let loaded: { source: string; sha: string } | null = null;
  const load = () => {
    if (!loaded) {
      const source = [...libraries, file].map(read).join('\n');
      loaded = { source, sha: crypto.createHash('sha1').update(source).digest('hex') };
    }
    return loaded;
  };
  return {
    async run(r, keys, args) {
      const s = load();
      try {
        return await r.evalsha(s.sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!String((err as Error).message).includes('NOSCRIPT')) throw err;
        return r.eval(s.source, keys.length, ...keys, ...args);
      }
    },
  };
}
