// The tenant registry: every writer of a tenant stream (ingest, the attachment outcomes) registers
// the tenant here, and processors and gateways discover tenant streams from `chorus:tenants`.
// Registration happens once per tenant per process (a local set remembers it).
import type { RedisClient } from './redis.js';
import { keys } from './keys.js';

const known = new Set<string>();

export async function registerTenant(r: RedisClient, tenantId: string): Promise<void> {
  if (known.has(tenantId)) return;
  const added = await r.sadd(keys.tenants(), tenantId);
  if (added) await r.publish(keys.tenantsChannel(), tenantId);
  known.add(tenantId);
}
