// Token buckets in Redis, shared by every gateway process (one atomic script per check).
import type { RedisClient } from './redis.js';
import { luaScript } from './lua-script.js';
import { rateKeys } from './keys.js';
import { AppError } from './errors.js';

export interface BucketSpec {
  /** Tokens per second. 0 disables the limit. */
  rate: number;
  /** Capacity: the largest burst allowed after a quiet period. */
  burst: number;
}

const bucket = luaScript('core/lua/token-bucket.lua');

export async function take(
  r: RedisClient, tenantId: string, scope: string, id: string, spec: BucketSpec, cost = 1,
): Promise<{ allowed: boolean; retryAfterMs: number }> {
  if (spec.rate <= 0) return { allowed: true, retryAfterMs: 0 };
  const [allowed, retry] = (await bucket.run(r, [rateKeys.bucket(tenantId, scope, id)], [spec.rate, spec.burst, cost])) as [number, number];
  return { allowed: allowed === 1, retryAfterMs: Number(retry) };
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
  if (denied.length) {
    const retryS = Math.max(1, Math.ceil(Math.max(...denied.map((d) => d.retryAfterMs)) / 1000));
    throw new AppError('rate_limited', !u.allowed ? 'too many requests for this user' : 'too many requests for this tenant', undefined, retryS);
  }
}
