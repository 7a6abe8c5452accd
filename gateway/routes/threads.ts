// Threads and participants (contract section 2, Threads).
import type { Router } from '../http/router.js';
import type { RouteContext } from './context.js';
import { parseBody } from '../../core/validate.js';
import { AddParticipant, CreateThread } from '../../ingest/schemas.js';
import { changeMembership, createThread, getThread } from '../../ingest/threads.js';
import { isId } from '../../core/ids.js';
import { AppError } from '../../core/errors.js';

export function pathId(v: string | undefined, name: string): string {
  if (!isId(v)) throw new AppError('invalid_request', `${name}: must match ^[A-Za-z0-9_-]{1,64}$`);
  return v;
}

export function threadRoutes(r: Router, ctx: RouteContext): void {
  r.post('/api/threads', { name: 'threads_create', body: true }, async (req) => {
    const p = req.principal!;
    const input = parseBody(CreateThread, req.body, p);
    const { thread } = await createThread(ctx.redis, ctx.config, p, input, req.traceId);
    return { status: 201, body: { thread: { id: thread.id, title: thread.title, createdAt: thread.createdAt, participantIds: thread.participantIds } } };
  });

  r.get('/api/threads/:threadId', { name: 'threads_get' }, async (req) => {
    const thread = await getThread(ctx.redis, req.principal!, pathId(req.params[0], 'threadId'));
    return { status: 200, body: { thread: { id: thread.id, title: thread.title, createdAt: thread.createdAt, participantIds: thread.participantIds } } };
  });

  r.post('/api/threads/:threadId/participants', { name: 'participants_add', body: true }, async (req) => {
    const p = req.principal!;
    const threadId = pathId(req.params[0], 'threadId');
    const { userId } = parseBody(AddParticipant, req.body, p);
    await changeMembership(ctx.redis, ctx.config, p, threadId, userId, 'add', req.traceId);
    return { status: 204 };
  });

  r.del('/api/threads/:threadId/participants/:userId', { name: 'participants_remove' }, async (req) => {
    const p = req.principal!;
    await changeMembership(ctx.redis, ctx.config, p, pathId(req.params[0], 'threadId'), pathId(req.params[1], 'userId'), 'remove', req.traceId);
    return { status: 204 };
  });
}
