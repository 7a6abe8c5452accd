// Presence (contract section 2, Presence): GET /api/presence?userIds=a,b of the caller's tenant.
import type { Router } from '../http/router.js';
import type { RouteContext } from './context.js';
import { ID_RE } from '../../core/ids.js';
import { AppError } from '../../core/errors.js';
import { presenceOf } from '../presence/store.js';
import { enforce, type BucketSpec } from '../../core/rate-limit.js';

/** Presence reads have a per-user bucket only, like presence.heartbeat: a rate of 0 disables the
 * tenant bucket (no Redis call is made for it). */
const NO_TENANT_BUCKET: BucketSpec = { rate: 0, burst: 1 };

/** The userIds query: comma-separated ids, 1..max of them, each matching the id pattern. */
export function parseUserIds(raw: string | null, max: number): string[] {
  if (raw === null || raw === '') throw new AppError('invalid_request', 'userIds: required, comma-separated user ids');
  const ids = raw.split(',');
  if (ids.length > max) throw new AppError('invalid_request', `userIds: at most ${max} ids`);
  const bad = ids.find((id) => !ID_RE.test(id));
  if (bad !== undefined) throw new AppError('invalid_request', `userIds: "${bad.slice(0, 80)}" must match ^[A-Za-z0-9_-]{1,64}$`);
  return ids;
}

export function presenceRoutes(r: Router, ctx: RouteContext): void {
  r.get('/api/presence', { name: 'presence_get' }, async (req) => {
    const p = req.principal!;
    const userIds = parseUserIds(req.query.get('userIds'), ctx.config.presence.maxUserIds);
    await enforce(ctx.redis, p.tenantId, p.userId, 'presence_read', ctx.config.rateLimits.presenceReadUser, NO_TENANT_BUCKET);
    return { status: 200, body: { users: await presenceOf(ctx.redis, ctx.config, p.tenantId, userIds) } };
  });
}
