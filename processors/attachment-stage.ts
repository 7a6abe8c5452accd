// The shape shared by the three attachment stages (scan, validate, thumbnail): a consumer group of
// one internal event type whose entries each name one attachment. The attachments of a batch are
// handled concurrently (the worker pools queue them); the batch fails if one of them failed, and
// the runner then retries (outages: with backoff, forever) or isolates the poison entry.
import { isDependencyError } from '../core/errors.js';
import { isId } from '../core/ids.js';
import { keys } from '../core/keys.js';
import { metrics } from '../core/metrics.js';
import type { StreamEvent } from '../core/events.js';
import type { ProcessorDefinition } from './definition.js';
import { pipeline, type Pipeline } from '../workers/attachments/pipeline.js';
import type { StageDeps } from '../workers/attachments/outcomes.js';

export type StageOutcome = 'ok' | 'rejected' | 'skipped';

export interface StageContext extends StageDeps {
  tenantId: string;
  pipeline: Pipeline;
}

export interface AttachmentStage {
  /** Consumer group, e.g. `attachment-scan`. */
  name: string;
  /** `stage` label of the metrics. */
  stage: 'scan' | 'validate' | 'thumbnail';
  /** The one event type the stage consumes. */
  eventType: string;
  handleOne(ctx: StageContext, payload: StagePayload, e: StreamEvent): Promise<StageOutcome>;
}

/** What the internal events carry: the attachment, and from the scan on, the hash of the scanned bytes. */
export interface StagePayload {
  id: string;
  sha256?: string;
}

export class InvalidAttachmentEvent extends Error {}

export function payloadOf(e: StreamEvent): StagePayload {
  let d: { id?: unknown; sha256?: unknown };
  try {
    d = JSON.parse(e.data) as typeof d;
  } catch {
    throw new InvalidAttachmentEvent(`${e.type} ${e.seq}: data is not JSON`);
  }
  if (!isId(d.id)) throw new InvalidAttachmentEvent(`${e.type} ${e.seq}: no valid attachment id`);
  if (d.sha256 !== undefined && (typeof d.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(d.sha256))) {
    throw new InvalidAttachmentEvent(`${e.type} ${e.seq}: invalid sha256`);
  }
  return { id: d.id, ...(d.sha256 ? { sha256: d.sha256 } : {}) };
}

export function attachmentStage(s: AttachmentStage): ProcessorDefinition {
  return {
    name: s.name,
    // The pipeline's own stream: the stages never read the event stream's traffic.
    stream: keys.attachmentWork,
    canHandle: (type) => type === s.eventType,
    async handle({ tenantId, events, sql, redis, log, config }) {
      const p = await pipeline(config.attachments);
      const ctx: StageContext = { tenantId, sql, redis, log, store: p.store, pipeline: p };
      const results = await Promise.allSettled(events.map((e) => s.handleOne(ctx, payloadOf(e), e)));
      let failure: unknown;
      for (const r of results) {
        if (r.status === 'fulfilled') {
          metrics.attachmentStage.inc({ stage: s.stage, outcome: r.value });
          continue;
        }
        const outage = isDependencyError(r.reason);
        metrics.attachmentStage.inc({ stage: s.stage, outcome: outage ? 'retry' : 'error' });
        // An outage is reported first: the runner then retries the whole batch with backoff.
        if (failure === undefined || (outage && !isDependencyError(failure))) failure = r.reason;
      }
      if (failure !== undefined) throw failure;
    },
  };
}
