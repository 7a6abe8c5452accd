// Runs a Lua script file with EVALSHA, falling back to EVAL when Redis lost its script cache
// (restart, failover). Scripts live next to the TypeScript that calls them, each with a header
// naming its KEYS, ARGV and return values.
//
// A script that can answer in several ways returns a table whose first element names how it
// answered: {'ok', seq}, {'no_thread'}, {'limited', who, retry_ms}. The names are listed in the
// script's header and in the statuses given to statusScript(), which refuses any other reply; a
// name means the same thing in every script (core/lua-refusals.ts turns refusals into errors).
// Numbers are data, never codes: no script returns -1 for "not found".
import fs from 'node:fs';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from './redis.js';

export interface LuaScript {
  run(r: RedisClient, keys: string[], args: (string | number)[]): Promise<unknown>;
}

/** What follows the status in a script's reply (seqs, counts, names), as Redis converts Lua values. */
export type ReplyValue = string | number | null;

/** A script's reply, one variant per status, so that checking `status` narrows it. */
export type ScriptReply<S extends string> = S extends string ? { status: S; values: ReplyValue[] } : never;

export interface StatusScript<S extends string> {
  run(r: RedisClient, keys: string[], args: (string | number)[]): Promise<ScriptReply<S>>;
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

/** A script that answers `{status, ...values}` with a status of `statuses` (those of its header). */
export function statusScript<const S extends string>(file: string, statuses: readonly S[], libraries: string[] = []): StatusScript<S> {
  const script = luaScript(file, libraries);
  const known = new Set<string>(statuses);
  return {
    async run(r, keys, args) {
      const raw = await script.run(r, keys, args);
      const [status, ...values] = Array.isArray(raw) ? (raw as ReplyValue[]) : [];
      // A reply outside the header is a bug of the script or of its caller: an internal error, never a guess.
      if (typeof status !== 'string' || !known.has(status)) throw new Error(`${file} answered ${JSON.stringify(raw)?.slice(0, 120)}, not one of ${statuses.join(', ')}`);
      return { status, values } as ScriptReply<S>;
    },
  };
}
