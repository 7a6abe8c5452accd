// Messages: post, edit, delete, and the thread timeline (contract section 2, Messages).
import type { Router } from '../http/router.js';
import type { RouteContext } from './context.js';
import { parseBody } from '../../core/validate.js';
import { EditMessage, PostMessage } from '../../ingest/schemas.js';
import { deleteMessage, editMessage, postMessage } from '../../ingest/messages.js';
import { getThread } from '../../ingest/threads.js';
import { readTimeline } from '../../projections/timeline.js';
import { pageLimit } from '../../projections/cursor.js';
import { pathId } from './threads.js';
import { enforce } from '../../core/rate-limit.js';
import type { Principal } from '../../core/auth.js';


export function messageRoutes(r: Router, ctx: RouteContext): void {
  const limit = (p: Principal) =>
    enforce(ctx.redis, p.tenantId, p.userId, 'msg', ctx.config.rateLimits.messageUser, ctx.config.rateLimits.messageTenant);

  r.post('/api/messages', { name: 'messages_post', body: true }, async (req) => {
    const p = req.principal!;
    const input = parseBody(PostMessage, req.body, p);
    // The script that appends takes the rate-limit tokens too (one round trip): no separate limit() here.
    const { message } = await postMessage(ctx.redis, ctx.config, p, input, req.traceId);
    return { status: 202, body: { message } };
  });

  r.patch('/api/messages/:messageId', { name: 'messages_edit', body: true }, async (req) => {
    const p = req.principal!;
    const { body } = parseBody(EditMessage, req.body, p);
    await limit(p);
    const { message } = await editMessage(ctx.redis, ctx.sql, p, pathId(req.params[0], 'messageId'), body, req.traceId);
    return { status: 202, body: { message } };
  });

  r.del('/api/messages/:messageId', { name: 'messages_delete' }, async (req) => {
    await limit(req.principal!);
    await deleteMessage(ctx.redis, ctx.sql, req.principal!, pathId(req.params[0], 'messageId'), req.traceId);
    return { status: 202, body: { deleted: true } };
  });

  r.get('/api/threads/:threadId/messages', { name: 'timeline' }, async (req) => {
    const p = req.principal!;
    const threadId = pathId(req.params[0], 'threadId');
    await getThread(ctx.redis, p, threadId); // 404 / 403 before any read
    const page = await readTimeline(ctx.sql, p.tenantId, threadId, {
      limit: pageLimit(req.query.get('limit')),
      cursor: req.query.get('cursor') ?? undefined,
    });
    return { status: 200, body: page };
  });
}
