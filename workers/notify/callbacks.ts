// Provider status callbacks (POST /api/providers/:channel/callback): the raw body is signed with
// HMAC-SHA256 under the provider's shared secret (header x-chorus-signature, hex, optionally
// prefixed `sha256=`); a valid one moves delivery statuses forward (delivered, opened, bounced, failed).
import crypto from 'node:crypto';
import { z } from 'zod';
import { withTenant, type Sql } from '../../core/db.js';
import { AppError } from '../../core/errors.js';
import { Id, StoredText } from '../../core/fields.js';
import { invalidRequest } from '../../core/validate.js';
import { metrics, timed } from '../../core/metrics.js';
import { inDbSpan } from '../../core/tracing/db-span.js';
import type { ProviderChannel } from './channels.js';

export function sign(secret: string, body: Buffer | string): string {
  return crypto.createHmac('sha256', secret).update(body).digest('hex');
}

/** Constant-time check of the signature header against the body. */
export function verifySignature(secret: string | undefined, body: Buffer, header: string | undefined): boolean {
  if (!secret || !header) return false;
  const given = header.trim().replace(/^sha256=/i, '');
  if (!/^[0-9a-f]{64}$/i.test(given)) return false;
  return crypto.timingSafeEqual(Buffer.from(given.toLowerCase(), 'hex'), Buffer.from(sign(secret, body), 'hex'));
}

const StatusEvent = z.object({
  tenantId: Id,
  /** The notification id (or digest id) the provider received with the message. */
  notificationId: StoredText.regex(/^[A-Za-z0-9_-]{1,200}$/, 'must be a notification or digest id'),
  status: z.enum(['delivered', 'opened', 'bounced', 'failed']),
  providerMessageId: StoredText.max(256).optional(),
  reason: StoredText.max(500).optional(),
});
const CallbackBatch = z.object({ events: z.array(StatusEvent).min(1).max(100) });
export type StatusEvent = z.infer<typeof StatusEvent>;

export function parseCallback(raw: Buffer): StatusEvent[] {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new AppError('invalid_json', 'body is not valid JSON');
  }
  // One event or a batch of them, told apart by `events`, so that a refusal names the bad field
  // (a union would only say that neither shape matched).
  if (body && typeof body === 'object' && 'events' in body) {
    const r = CallbackBatch.safeParse(body);
    if (!r.success) throw invalidRequest(r.error);
    return r.data.events;
  }
  const r = StatusEvent.safeParse(body);
  if (!r.success) throw invalidRequest(r.error);
  return [r.data];
}

/** Applies status events, forward only; returns how many delivery rows moved. */
export async function applyCallbacks(sql: Sql, channel: ProviderChannel, events: StatusEvent[]): Promise<number> {
  const byTenant = new Map<string, StatusEvent[]>();
  for (const e of events) byTenant.set(e.tenantId, [...(byTenant.get(e.tenantId) ?? []), e]);
  let moved = 0;
  for (const [tenantId, list] of byTenant) {
    for (const e of list) {
      const failed = e.status === 'bounced' || e.status === 'failed';
      const res = await timed('notify_callback', () => inDbSpan('notify_callback', tenantId, () => withTenant(sql, tenantId, (tx) => tx`
        update notification_deliveries set
          status = ${e.status},
          reason = case when ${failed} then ${`provider_${e.status}`} else reason end,
          provider_message_id = coalesce(${e.providerMessageId ?? null}, provider_message_id),
          last_error = case when ${failed} then ${e.reason ?? e.status} else last_error end,
          updated_at = now()
        where tenant_id = ${tenantId} and channel = ${channel}
          and (notification_id = ${e.notificationId} or digest_id = ${e.notificationId})
          and notify_status_rank(${e.status}) >= notify_status_rank(status)
          and status not in ('suppressed', 'cancelled')`)));
      moved += res.count;
      metrics.notifyCallbacks.inc({ channel, outcome: res.count ? 'applied' : 'unknown_or_stale' });
    }
  }
  return moved;
}
