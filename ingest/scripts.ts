// The write path's Lua scripts (ingest/lua/*.lua, each with its KEYS/ARGV header) and the statuses
// each may answer with (core/lua-script.ts): 'ok' carries the new entry's seq; the refusals are
// turned into errors by core/lua-refusals.ts, the other statuses are handled by the caller.
import type { RedisClient } from '../core/redis.js';
import { statusScript, type ScriptReply, type StatusScript } from '../core/lua-script.js';
import { BUCKETS_LUA } from '../core/rate-limit.js';

export const SCRIPT_STATUSES = {
  'create-thread': ['ok', 'thread_exists'],
  'change-membership': ['ok', 'unchanged', 'no_thread', 'not_participant', 'remove_not_allowed', 'thread_full'],
  'post-message': ['ok', 'dup', 'limited', 'no_thread', 'not_participant'],
  'change-message': ['ok', 'not_participant', 'message_deleted'],
  'read-receipt': ['ok', 'no_thread', 'not_participant'],
} as const;

export type ScriptName = keyof typeof SCRIPT_STATUSES;
type StatusOf<N extends ScriptName> = (typeof SCRIPT_STATUSES)[N][number];

/** Libraries a script is assembled with (post-message takes its rate-limit tokens itself). */
const LIBRARIES: Partial<Record<ScriptName, string[]>> = { 'post-message': [BUCKETS_LUA] };

const scripts = new Map<ScriptName, StatusScript<string>>();

export async function runScript<N extends ScriptName>(
  r: RedisClient, name: N, keys: string[], args: (string | number)[],
): Promise<ScriptReply<StatusOf<N>>> {
  let s = scripts.get(name);
  if (!s) scripts.set(name, (s = statusScript(`ingest/lua/${name}.lua`, SCRIPT_STATUSES[name], LIBRARIES[name])));
  return (await s.run(r, keys, args)) as ScriptReply<StatusOf<N>>;
}
