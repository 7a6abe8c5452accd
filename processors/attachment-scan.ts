// Stage 1 of the attachment pipeline (group `attachment-scan`, on attachment.uploaded): streams the
// quarantined bytes to clamd and hashes them. Infected or over clamd's limits → rejected; clean →
// attachment.scanned (internal) and the row moves to processing. A declared SHA-256 that differs
// from the bytes → rejected corrupt. clamd down → ScannerUnavailableError: retried until clamd is
// back, the attachment stays `scanning`, never released unscanned.
import { EVENT } from '../core/events/index.js';
import { countAppend, metrics } from '../core/metrics.js';
import { appendEvent } from '../core/stream-commands.js';
import { keys } from '../core/keys.js';
import { attachmentStage } from './attachment-stage.js';
import { ScannerUnavailableError } from '../workers/attachments/pipeline.js';
import { announce, reject } from '../workers/attachments/outcomes.js';
import { getAttachment, isFinal, markScanned, startScan } from '../workers/attachments/records.js';
import { quarantineKey } from '../workers/storage/store.js';

export const attachmentScan = attachmentStage({
  name: 'attachment-scan',
  stage: 'scan',
  eventType: EVENT.attachmentUploaded,
  async handleOne(ctx, { id }) {
    const { tenantId, sql, redis, log } = ctx;
    const row = await startScan(sql, tenantId, id);
    if (!row) {
      const now = await getAttachment(sql, tenantId, id);
      if (!now) log.warn({ attachment_id: id }, 'attachment.uploaded for an unknown attachment; skipped');
      else if (isFinal(now.status)) await announce(redis, now); // a crash may have come between the row and the event
      return 'skipped';
    }
    const end = metrics.attachmentScanDuration.startTimer();
    const result = await ctx.pipeline.scanPool().run(quarantineKey(tenantId, id));
    end({ outcome: result.outcome });
    switch (result.outcome) {
      case 'unavailable':
        throw new ScannerUnavailableError(`clamd unavailable: ${result.detail}`);
      case 'error':
        throw new Error(`scan of attachment ${id} failed: ${result.detail}`);
      case 'missing':
        await reject(ctx, row, 'corrupt', 'the uploaded bytes are missing from storage');
        return 'rejected';
      case 'too_large':
        await reject(ctx, row, 'too_large', result.detail);
        return 'rejected';
      case 'infected':
        await reject(ctx, row, 'infected', result.viruses.join(', '));
        return 'rejected';
      case 'clean':
        break;
    }
    const { sha256, size } = result;
    if (size !== row.size) {
      await reject(ctx, row, 'corrupt', `stored ${size} bytes, declared ${row.size}`);
      return 'rejected';
    }
    if (row.declaredSha256 && row.declaredSha256 !== sha256) {
      await reject(ctx, row, 'corrupt', 'the bytes do not match the declared sha256');
      return 'rejected';
    }
    if (row.sha256 && row.sha256 !== sha256) {
      await reject(ctx, row, 'corrupt', 'the stored bytes changed after the upload');
      return 'rejected';
    }
    // Event before state: a crash in between rescans and appends again (harmless downstream),
    // whereas the other order could leave a row in processing with no event to move it on.
    await appendEvent(redis, tenantId, { type: EVENT.attachmentScanned, data: { id, sha256 }, actor: row.uploaderId }, keys.attachmentWork);
    countAppend(EVENT.attachmentScanned, tenantId);
    await markScanned(sql, tenantId, id, sha256);
    return 'ok';
  },
});
