// Stage 3 of the attachment pipeline (group `attachment-thumbnail`, on attachment.validated):
// images get a WebP thumbnail from the thumbnail pool (a decompression bomb → too_large, undecodable
// → corrupt); then the bytes are promoted to the clean area (content-addressed by the hash the scan
// computed: identical bytes of the tenant share one object and one thumbnail, and a duplicate's
// quarantined copy is simply dropped), the row becomes ready, the uploader gets attachment.ready,
// and the quarantined copy goes. Every upload takes the same steps whether or not its bytes were
// stored before (the thumbnail is remade, to the same result), so an uploader cannot tell.
import { EVENT } from '../core/events/index.js';
import { metrics } from '../core/metrics.js';
import { attachmentStage } from './attachment-stage.js';
import { announce, dropQuarantined, reject } from '../workers/attachments/outcomes.js';
import { getAttachment, markReady } from '../workers/attachments/records.js';
import { THUMBNAIL_TYPES } from '../workers/attachments/content-type.js';
import { cleanKey, ObjectMissingError, quarantineKey, thumbnailKey } from '../workers/storage/store.js';

export const attachmentThumbnail = attachmentStage({
  name: 'attachment-thumbnail',
  stage: 'thumbnail',
  eventType: EVENT.attachmentValidated,
  async handleOne(ctx, { id, sha256 }) {
    const { tenantId, sql, redis, log, store } = ctx;
    const row = await getAttachment(sql, tenantId, id);
    if (!row) {
      log.warn({ attachment_id: id }, 'attachment.validated for an unknown attachment; skipped');
      return 'skipped';
    }
    if (row.status === 'ready' || row.status === 'rejected') {
      await announce(redis, row);
      if (row.status === 'ready') await dropQuarantined(store, row, log);
      return 'skipped';
    }
    let thumb: { width: number; height: number } | null = null;
    if (THUMBNAIL_TYPES.has(row.contentType)) {
      const end = metrics.attachmentTransformDuration.startTimer();
      const result = await ctx.pipeline.thumbnailPool().run(quarantineKey(tenantId, id));
      end({ outcome: result.outcome });
      if (result.outcome !== 'ok') {
        await reject(ctx, row, result.outcome === 'too_large' ? 'too_large' : 'corrupt', result.detail);
        return 'rejected';
      }
      await store.put(thumbnailKey(tenantId, sha256), Buffer.from(result.webp), 'image/webp');
      thumb = { width: result.width, height: result.height };
    }
    try {
      await store.promote(quarantineKey(tenantId, id), cleanKey(tenantId, sha256));
    } catch (err) {
      if (!(err instanceof ObjectMissingError)) throw err;
      await reject(ctx, row, 'corrupt', 'the uploaded bytes are missing from storage');
      return 'rejected';
    }
    const ready = (await markReady(sql, tenantId, id, sha256, thumb)) ?? (await getAttachment(sql, tenantId, id));
    if (!ready) throw new Error(`attachment ${id} vanished`);
    await announce(redis, ready);
    if (ready.status === 'ready') await dropQuarantined(store, ready, log);
    log.info({ attachment_id: id, status: ready.status, event: EVENT.attachmentReady }, 'attachment settled');
    return ready.status === 'ready' ? 'ok' : 'skipped';
  },
});
