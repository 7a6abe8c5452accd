// The write path's Lua scripts (ingest/lua/*.lua, each with its KEYS/ARGV header).
import type { RedisClient } from '../core/redis.js';
import { luaScript, type LuaScript } from '../core/lua-script.js';
import { BUCKETS_LUA } from '../core/rate-limit.js';

export type ScriptName = 'create-thread' | 'change-membership' | 'post-message' | 'change-message';

/** Libraries a script is assembled with (post-message takes its rate-limit tokens itself). */
const LIBRARIES: Partial<Record<ScriptName, string[]>> = { 'post-message': [BUCKETS_LUA] };

const scripts = new Map<ScriptName, LuaScript>();

export function runScript(r: RedisClient, name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
  let s = scripts.get(name);
  if (!s) scripts.set(name, (s = luaScript(`ingest/lua/${name}.lua`, LIBRARIES[name])));
  return s.run(r, keys, args);
}
