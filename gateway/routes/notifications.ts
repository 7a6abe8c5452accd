// Notifications (contract section 2, Notifications): preferences, the in-app feed, marking read,
// the per-message explanation, and provider status callbacks (HMAC-signed, no bearer token).
import type { Router } from '../http/router.js';
import type { RouteContext } from './context.js';
import { AppError } from '../../core/errors.js';
import { isId } from '../../core/ids.js';
import { metrics } from '../../core/metrics.js';
import { parseBody } from '../../core/validate.js';
import { pathId } from './threads.js';
import { getPreferences, normalize, PreferencesInput, putPreferences } from '../../workers/notify/preferences.js';
import { explain, listNotifications, markNotificationRead } from '../../workers/notify/feed.js';
import { applyCallbacks, parseCallback, verifySignature } from '../../workers/notify/callbacks.js';
import { isProviderChannel } from '../../workers/notify/channels.js';
import { pageQuery } from '../http/page-query.js';

/** A provider's callbacks may batch up to 100 events. */
const CALLBACK_MAX_BODY = 256 * 1024;

export function notificationRoutes(r: Router, ctx: RouteContext): void {
  r.get('/api/notification-preferences', { name: 'notify_prefs_get' }, async (req) => {
    const p = req.principal!;
    // The document itself, as PUT takes it (docs/openapi.yaml NotificationPreferences).
    return { status: 200, body: await getPreferences(ctx.sql, p.tenantId, p.userId) };
  });

  r.put('/api/notification-preferences', { name: 'notify_prefs_put', body: true }, async (req) => {
    const p = req.principal!;
    const prefs = normalize(parseBody(PreferencesInput, req.body, p));
    return { status: 200, body: await putPreferences(ctx.sql, p.tenantId, p.userId, prefs) };
  });

  r.get('/api/notifications', { name: 'notify_list' }, async (req) => {
    const p = req.principal!;
    const page = await listNotifications(ctx.sql, p.tenantId, p.userId, pageQuery(req.query));
    return { status: 200, body: page };
  });

  r.get('/api/notifications/explain', { name: 'notify_explain' }, async (req) => {
    const p = req.principal!;
    const messageId = req.query.get('messageId');
    if (!isId(messageId)) throw new AppError('invalid_request', 'messageId: required, must match ^[A-Za-z0-9_-]{1,64}$');
    return { status: 200, body: await explain(ctx.redis, ctx.sql, p.tenantId, p.userId, messageId) };
  });

  r.post('/api/notifications/:id/read', { name: 'notify_mark_read' }, async (req) => {
    const p = req.principal!;
    const id = pathId(req.params[0], 'id');
    if (!(await markNotificationRead(ctx.sql, p.tenantId, p.userId, id))) throw new AppError('not_found', 'notification not found');
    return { status: 204 };
  });

  r.post('/api/providers/:channel/callback', { name: 'notify_callback', auth: false, body: 'raw', maxBody: CALLBACK_MAX_BODY }, async (req) => {
    const channel = req.params[0];
    if (!isProviderChannel(channel)) throw new AppError('not_found', 'no such provider channel (email, push)');
    const body = req.rawBody ?? Buffer.alloc(0);
    if (!verifySignature(ctx.config.notify[channel].callbackSecret, body, req.headers.signature)) {
      metrics.notifyCallbacks.inc({ channel, outcome: 'bad_signature' });
      ctx.log.warn({ channel, ip: req.remoteAddress, reason: req.headers.signature ? 'bad_signature' : 'missing_signature', security: 'callback_refused' }, 'provider callback refused');
      throw new AppError('unauthorized', 'missing or invalid x-chorus-signature (HMAC-SHA256 of the raw body)');
    }
    await applyCallbacks(ctx.sql, channel, parseCallback(body));
    return { status: 204 };
  });
}
