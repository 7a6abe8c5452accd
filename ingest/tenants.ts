// The tenant registry: processors and gateways discover tenant streams from `chorus:tenants`.
// Registration happens once per tenant per process (a local set remembers it).
import type { RedisClient } from '../core/redis.js';
import { keys } from '../core/keys.js';

const known = new Set<string>();

export async function registerTenant(r: RedisClient, tenantId: string): Promise<void> {
  if (known.has(tenantId)) return;
  const added = await r.sadd(keys.tenants(), tenantId);
  if (added) await r.publish(keys.tenantsChannel(), tenantId);
  known.add(tenantId);
}
