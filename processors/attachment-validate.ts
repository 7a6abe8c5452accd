// Stage 2 of the attachment pipeline (group `attachment-validate`, on attachment.scanned): the real
// type, from the magic bytes of the scanned object (file-type), must be the declared type (which
// the allow-list admitted at creation); else rejected type_mismatch. Passing → attachment.validated.
import type { Readable } from 'node:stream';
import { fileTypeFromBuffer } from 'file-type';
import { EVENT } from '../core/events/index.js';
import { countAppend } from '../core/metrics.js';
import { appendEvent } from '../core/stream-commands.js';
import { keys } from '../core/keys.js';
import { attachmentStage } from './attachment-stage.js';
import { announce, reject } from '../workers/attachments/outcomes.js';
import { getAttachment, isFinal, markValidated } from '../workers/attachments/records.js';
import { judgeType, TEXT_SNIFF_BYTES } from '../workers/attachments/content-type.js';
import { ObjectMissingError, quarantineKey } from '../workers/storage/store.js';

/** The first `max` bytes of a stream (fewer when it is shorter); the stream is closed. */
async function head(stream: Readable, max: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= max) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, max);
}

export const attachmentValidate = attachmentStage({
  name: 'attachment-validate',
  stage: 'validate',
  eventType: EVENT.attachmentScanned,
  async handleOne(ctx, { id, sha256 }) {
    const { tenantId, sql, redis, log, store } = ctx;
    const row = await getAttachment(sql, tenantId, id);
    if (!row) {
      log.warn({ attachment_id: id }, 'attachment.scanned for an unknown attachment; skipped');
      return 'skipped';
    }
    if (isFinal(row.status)) {
      await announce(redis, row);
      return 'skipped';
    }
    if (row.validatedAt) return 'skipped';
    let bytes: Uint8Array;
    try {
      bytes = await head(await store.open(quarantineKey(tenantId, id)), TEXT_SNIFF_BYTES);
    } catch (err) {
      if (!(err instanceof ObjectMissingError)) throw err;
      await reject(ctx, row, 'corrupt', 'the uploaded bytes are missing from storage');
      return 'rejected';
    }
    const detected = await fileTypeFromBuffer(bytes);
    const verdict = judgeType(row.contentType, detected?.mime, bytes);
    if (!verdict.ok) {
      await reject(ctx, row, 'type_mismatch', `declared ${row.contentType}, found ${verdict.detected}`);
      return 'rejected';
    }
    await appendEvent(redis, tenantId, { type: EVENT.attachmentValidated, data: { id, sha256 }, actor: row.uploaderId }, keys.attachmentWork);
    countAppend(EVENT.attachmentValidated, tenantId);
    await markValidated(sql, tenantId, id);
    return 'ok';
  },
});
