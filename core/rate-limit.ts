// Token buckets in Redis, shared by every gateway process (one atomic script per check).
import net from 'node:net';
import type { RedisClient } from './redis.js';
import { statusScript } from './lua-script.js';
import { rateKeys } from './keys.js';
import { AppError } from './errors.js';

export interface BucketSpec {
  /** Tokens per second. 0 disables the limit. */
  rate: number;
  /** Capacity: the largest burst allowed after a quiet period. */
  burst: number;
}

/** The bucket library, for scripts that take tokens in the same call as their own work. */
export const BUCKETS_LUA = 'core/lua/buckets.lua';

const bucket = statusScript('core/lua/token-bucket.lua', ['ok', 'limited'], [BUCKETS_LUA]);

export async function take(
  r: RedisClient, tenantId: string, scope: string, id: string, spec: BucketSpec, cost = 1,
): Promise<{ allowed: boolean; retryAfterMs: number }> {
  return takeFrom(r, rateKeys.bucket(tenantId, scope, id), spec, cost);
}

async function takeFrom(r: RedisClient, key: string, spec: BucketSpec, cost = 1): Promise<{ allowed: boolean; retryAfterMs: number }> {
  if (spec.rate <= 0) return { allowed: true, retryAfterMs: 0 };
  const reply = await bucket.run(r, [key], [spec.rate, spec.burst, cost]);
  return reply.status === 'ok' ? { allowed: true, retryAfterMs: 0 } : { allowed: false, retryAfterMs: Number(reply.values[0]) };
}

/**
 * Whose bucket a client address fills: the IPv4 address itself, an IPv6 address by its /64 (one
 * host usually owns a whole /64, so per-address buckets would be free to dodge).
 */
export function clientBucketId(address: string): string {
  const a = address.trim().toLowerCase();
  const dotted = /^[0:]*:ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  if (dotted) return dotted[1]!;
  if (!net.isIPv6(a)) return a || 'unknown';
  const [head = '', tail] = a.split('::');
  const part = (s: string) => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const h = part(head);
  const t = part(tail ?? '');
  const groups = tail === undefined ? h : [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** Takes one token from the client address's bucket of `scope`; throws 429 with Retry-After when it is empty. */
export async function enforceClient(r: RedisClient, scope: string, address: string, spec: BucketSpec): Promise<void> {
  const t = await takeFrom(r, rateKeys.client(scope, clientBucketId(address)), spec);
  if (!t.allowed) {
    throw new AppError('rate_limited', 'too many requests from this address', undefined, Math.max(1, Math.ceil(t.retryAfterMs / 1000)));
  }
}

/** Checks the user's and the tenant's buckets; throws 429 with Retry-After when either is empty. */
export async function enforce(
  r: RedisClient, tenantId: string, userId: string, scope: string, user: BucketSpec, tenant: BucketSpec,
): Promise<void> {
  const [u, t] = await Promise.all([
    take(r, tenantId, `${scope}:user`, userId, user),
    take(r, tenantId, `${scope}:tenant`, '_', tenant),
  ]);
  const denied = [u, t].filter((x) => !x.allowed);
  if (denied.length) throw rateLimited(!u.allowed ? 'user' : 'tenant', Math.max(...denied.map((d) => d.retryAfterMs)));
}

/**
 * The user's and the tenant's buckets of a scope as the KEYS and ARGV of a script that takes from
 * both itself (with core/lua/buckets.lua), e.g. the message append: one round trip, not two.
 */
export function bucketPair(tenantId: string, userId: string, scope: string, user: BucketSpec, tenant: BucketSpec) {
  return {
    keys: [rateKeys.bucket(tenantId, `${scope}:user`, userId), rateKeys.bucket(tenantId, `${scope}:tenant`, '_')],
    args: [user.rate, user.burst, tenant.rate, tenant.burst],
  };
}

/** The 429 of an empty bucket, with Retry-After in whole seconds (at least 1). */
export function rateLimited(who: 'user' | 'tenant', retryAfterMs: number): AppError {
  return new AppError('rate_limited', `too many requests for this ${who}`, undefined, Math.max(1, Math.ceil(retryAfterMs / 1000)));
}
