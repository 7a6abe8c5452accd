// Read state, inbox and sync (contract section 2: Read state and inbox, Sync).
import type { Router } from '../http/router.js';
import type { RouteContext } from './context.js';
import { parseBody } from '../../core/validate.js';
import { MarkRead, markRead } from '../../ingest/read-state.js';
import { readInbox } from '../../projections/inbox.js';
import { readSync } from '../../projections/sync.js';
import { enforce } from '../../core/rate-limit.js';
import { pathId } from './threads.js';
import { keys } from '../../core/keys.js';
import { presenceOf } from '../presence/store.js';
import { pageQuery } from '../http/page-query.js';

/** At most this many users' presence in a sync answer (the rest arrives with presence.subscribe). */
const SYNC_PRESENCE_MAX = 500;

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
    const page = await readInbox(ctx.sql, p.tenantId, p.userId, pageQuery(req.query));
    return { status: 200, body: page };
  });

  r.get('/api/sync', { name: 'sync' }, async (req) => {
    const p = req.principal!;
    const snap = await readSync(ctx.sql, ctx.redis, p.tenantId, p.userId);
    // Presence is not in the stream (best-effort, no seq): it is the current state of the people
    // the client is about to show — the participants of the threads on the first inbox page.
    const threadIds = snap.inbox.threads.map((t) => t.threadId);
    const members = threadIds.length
      ? await Promise.all(threadIds.map((th) => ctx.redis.smembers(keys.threadMembers(p.tenantId, th))))
      : [];
    const userIds = [...new Set(members.flat())].filter((u) => u !== p.userId).slice(0, SYNC_PRESENCE_MAX);
    const presence = userIds.length ? await presenceOf(ctx.redis, ctx.config, p.tenantId, userIds) : [];
    return { status: 200, body: { ...snap, presence } };
  });
}
