// Read state, inbox and sync (contract section 2: Read state and inbox, Sync).
import type { Router } from '../http/router.js';
import type { RouteContext } from './context.js';
import { parseBody } from '../../ingest/validate.js';
import { MarkRead, markRead } from '../../ingest/read-state.js';
import { readInbox } from '../../projections/inbox.js';
import { readSync } from '../../projections/sync.js';
import { enforce } from '../../core/rate-limit.js';
import { pathId } from './threads.js';

export function readStateRoutes(r: Router, ctx: RouteContext): void {
  r.post('/api/threads/:threadId/read', { name: 'read_mark', body: true }, async (req) => {
    const p = req.principal!;
    const threadId = pathId(req.params[0], 'threadId');
    const { lastReadMessageId } = parseBody(MarkRead, req.body, p);
    // Its own buckets at the message rates: reading must not eat the sending budget.
    await enforce(ctx.redis, p.tenantId, p.userId, 'read', ctx.config.rateLimits.messageUser, ctx.config.rateLimits.messageTenant);
    const receipt = await markRead(ctx.redis, ctx.sql, p, threadId, lastReadMessageId, req.traceId);
    return { status: 202, body: { readReceipt: receipt } };
  });

  r.get('/api/inbox', { name: 'inbox' }, async (req) => {
    const p = req.principal!;
    const page = await readInbox(ctx.sql, p.tenantId, p.userId, {
      limit: req.query.get('limit') ?? undefined,
      cursor: req.query.get('cursor') ?? undefined,
    });
    return { status: 200, body: page };
  });

  r.get('/api/sync', { name: 'sync' }, async (req) => {
    const p = req.principal!;
    return { status: 200, body: await readSync(ctx.sql, ctx.redis, p.tenantId, p.userId) };
  });
}
