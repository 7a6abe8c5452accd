// Liveness, readiness, metrics and dev tokens (contract sections 0 and 1).
import { z } from 'zod';
import type { Router } from '../http/router.js';
import type { RouteContext } from './context.js';
import { registry } from '../../core/metrics.js';
import { metricsGuard } from '../../core/metrics-access.js';
import { AppError } from '../../core/errors.js';
import { enforceClient } from '../../core/rate-limit.js';
import { Id } from '../../core/fields.js';
import { invalidRequest } from '../../core/validate.js';

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms).unref())]);
}

const DevToken = z.object({
  tenantId: Id,
  userId: Id,
  admin: z.boolean().optional(),
  ttlSeconds: z.number().int().positive().max(30 * 24 * 3600).optional(),
});

export function systemRoutes(r: Router, ctx: RouteContext): void {
  r.get('/healthz', { name: 'healthz', auth: false }, async () => ({ status: 200, body: { status: 'ok' } }));

  r.get('/readyz', { name: 'readyz', auth: false }, async () => {
    const checks: Record<string, string> = {};
    await Promise.all([
      withTimeout(ctx.redis.ping(), 1000).then(() => { checks['redis'] = 'ok'; }, (e: Error) => { checks['redis'] = `error: ${e.message}`; }),
      withTimeout(ctx.sql`select 1`, 1000).then(() => { checks['postgres'] = 'ok'; }, (e: Error) => { checks['postgres'] = `error: ${e.message}`; }),
    ]);
    const ok = Object.values(checks).every((v) => v === 'ok');
    return ok ? { status: 200, body: { status: 'ready', checks } } : { status: 503, body: { status: 'not_ready', checks }, headers: { 'retry-after': '1' } };
  });

  const mayReadMetrics = metricsGuard(ctx.config.metricsAccess);
  r.get('/metrics', { name: 'metrics', auth: false }, async (req) => {
    const verdict = mayReadMetrics(req.remoteAddress, req.headers.authorization);
    if (!verdict.ok) throw verdict.refusal;
    return { status: 200, text: { contentType: registry.contentType, payload: await registry.metrics() } };
  });

  r.post('/dev/token', { name: 'dev_token', auth: false, body: true }, async (req) => {
    if (!ctx.config.devAuth) throw new AppError('not_found', 'no such route');
    // Anyone who reaches a dev-auth gateway may mint any identity; at least not as fast as they like.
    await enforceClient(ctx.redis, 'dev_token', req.remoteAddress, ctx.config.rateLimits.devTokenClient);
    const parsed = DevToken.safeParse(req.body ?? {});
    if (!parsed.success) throw invalidRequest(parsed.error);
    const { tenantId, userId, admin, ttlSeconds } = parsed.data;
    return { status: 200, body: { token: await ctx.auth.sign({ tenantId, userId, admin, ttlSeconds }) } };
  });
}
