// How an attachment ends: the uploader's event (attachment.ready / attachment.rejected, routed with
// `u` = [uploader] and no thread) appended once through settle(), and the quarantined copy removed.
import type { RedisClient } from '../../core/redis.js';
import type { Sql } from '../../core/db.js';
import type { Logger } from '../../core/logger.js';
import { EVENT, type NewEvent } from '../../core/events/index.js';
import { countAppend, metrics } from '../../core/metrics.js';
import { registerTenant } from '../../core/tenants.js';
import { settle } from './facts.js';
import { getAttachment, markRejected, type AttachmentRow, type RejectReason } from './records.js';
import { quarantineKey, type ObjectStore } from '../storage/store.js';

/** The uploader's event for a settled row: what the websocket sends as `data`. */
export function settledEvent(row: AttachmentRow): NewEvent<typeof EVENT.attachmentReady | typeof EVENT.attachmentRejected> {
  const route = { users: [row.uploaderId], actor: row.uploaderId };
  if (row.status !== 'ready') {
    return { type: EVENT.attachmentRejected, data: { id: row.id, status: 'rejected', filename: row.filename, rejectReason: row.rejectReason }, ...route };
  }
  return {
    type: EVENT.attachmentReady,
    data: {
      id: row.id, status: 'ready', filename: row.filename, contentType: row.contentType, size: row.size, sha256: row.sha256,
      ...(row.thumbWidth && row.thumbHeight ? { thumbnail: { width: row.thumbWidth, height: row.thumbHeight } } : {}),
    },
    ...route,
  };
}

/** Tells the uploader how a settled row ended (once, however often called). */
export async function announce(r: RedisClient, row: AttachmentRow): Promise<void> {
  if (row.status !== 'ready' && row.status !== 'rejected') throw new Error(`attachment ${row.id} is not settled (${row.status})`);
  await registerTenant(r, row.tenantId);
  const seq = await settle(r, row.tenantId, row.id, row.uploaderId, row.status, settledEvent(row));
  if (!seq) return;
  countAppend(row.status === 'ready' ? EVENT.attachmentReady : EVENT.attachmentRejected, row.tenantId);
  if (row.uploadedAt && row.finishedAt) {
    metrics.attachmentReadyLatency.observe({ status: row.status }, Math.max(0, row.finishedAt.getTime() - row.uploadedAt.getTime()) / 1000);
  }
}

/** Drops the quarantined bytes of a settled attachment (nothing there is ever served). */
export async function dropQuarantined(store: ObjectStore, row: AttachmentRow, log: Logger): Promise<void> {
  try {
    await store.remove(quarantineKey(row.tenantId, row.id));
  } catch (err) {
    // Left behind it costs only space: quarantine is never served. The next redelivery retries.
    log.warn({ err, tenant_id: row.tenantId, attachment_id: row.id }, 'could not remove a quarantined object');
  }
}

export interface StageDeps {
  sql: Sql;
  redis: RedisClient;
  store: ObjectStore;
  log: Logger;
}

/** Rejects (unless already settled), tells the uploader, drops the bytes. */
export async function reject(d: StageDeps, row: AttachmentRow, reason: RejectReason, detail: string): Promise<void> {
  const settled = (await markRejected(d.sql, row.tenantId, row.id, reason, detail)) ?? (await getAttachment(d.sql, row.tenantId, row.id));
  if (!settled) throw new Error(`attachment ${row.id} vanished`);
  d.log.info({ tenant_id: row.tenantId, attachment_id: row.id, status: settled.status, reason: settled.rejectReason, detail }, 'attachment rejected');
  await announce(d.redis, settled);
  await dropQuarantined(d.store, settled, d.log);
}
