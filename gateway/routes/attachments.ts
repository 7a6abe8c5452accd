// Attachments (contract section 2, Attachments), and with the local store the signed object URLs
// it hands out (objects.ts). One call registers both: gateway/server.ts `attachmentRoutes(...)`.
import type { TemplatedApp } from 'uWebSockets.js';
import type { Router } from '../http/router.js';
import type { RouteContext } from './context.js';
import { pathId } from './threads.js';
import { completeAttachment, createAttachment, readAttachment, type AttachmentDeps } from '../../ingest/attachments.js';
import { awaitsUpload, verifiedObject } from '../../workers/attachments/records.js';
import { createStore } from '../../workers/storage/index.js';
import { LocalStore } from '../../workers/storage/local-store.js';
import { cleanContent, type ObjectStore } from '../../workers/storage/store.js';
import { objectRoutes, type ObjectPolicy } from './objects.js';

export function attachmentRoutes(r: Router, ctx: RouteContext, app: TemplatedApp): void {
  const storage = ctx.config.attachments.storage;
  let store: Promise<ObjectStore>;
  if (storage.kind === 'local') {
    const local = new LocalStore({ dir: storage.localDir, publicUrl: storage.publicUrl, urlSecret: storage.urlSecret });
    objectRoutes(app, local, objectPolicy(ctx), ctx);
    store = Promise.resolve(local);
  } else {
    store = createStore(storage);
    store.catch((err) => ctx.log.error({ err }, 'object store unavailable: attachment requests will fail'));
  }
  const deps = async (): Promise<AttachmentDeps> => ({ config: ctx.config, redis: ctx.redis, sql: ctx.sql, store: await store });

  r.post('/api/attachments', { name: 'attachments_create', body: true }, async (req) => ({
    status: 201, body: await createAttachment(await deps(), req.principal!, req.body),
  }));

  r.post('/api/attachments/:attachmentId/complete', { name: 'attachments_complete' }, async (req) => ({
    status: 202, body: await completeAttachment(await deps(), req.principal!, pathId(req.params[0], 'attachmentId'), req.traceId),
  }));

  r.get('/api/attachments/:attachmentId', { name: 'attachments_get' }, async (req) => ({
    status: 200, body: await readAttachment(await deps(), req.principal!, pathId(req.params[0], 'attachmentId')),
  }));
}

/** The object routes' questions, answered from the attachments table: the pipeline's verified state. */
function objectPolicy(ctx: RouteContext): ObjectPolicy {
  return {
    acceptsUpload: (key) => awaitsUpload(ctx.sql, key.tenantId, key.name),
    async verifiedType(key) {
      const content = cleanContent(key);
      const verified = content && (await verifiedObject(ctx.sql, key.tenantId, content.sha256));
      if (!content || !verified) return null;
      if (!content.thumbnail) return verified.contentType;
      return verified.thumbnail ? 'image/webp' : null;
    },
  };
}
