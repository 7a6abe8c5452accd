// The shape shared by the three attachment stages (scan, validate, thumbnail): a consumer group of
// one internal event type whose entries each name one attachment. The attachments of a batch are
// handled concurrently (the worker pools queue them); the batch fails if one of them failed, and
// the runner then retries (outages: with backoff, forever) or isolates the poison entry.
import { isDependencyError } from '../core/errors.js';
import { keys } from '../core/keys.js';
import { metrics } from '../core/metrics.js';
import type { EVENT, EventOf } from '../core/events/index.js';
import type { ProcessorDefinition } from './definition.js';
import { pipeline, type Pipeline } from '../workers/attachments/pipeline.js';
import type { StageDeps } from '../workers/attachments/outcomes.js';

export type StageOutcome = 'ok' | 'rejected' | 'skipped';

/** The internal events of the pipeline's stream; each names one attachment (core/events/attachment.ts). */
type StageEventType = typeof EVENT.attachmentUploaded | typeof EVENT.attachmentScanned | typeof EVENT.attachmentValidated;

export interface StageContext extends StageDeps {
  tenantId: string;
  pipeline: Pipeline;
}

export interface AttachmentStage<T extends StageEventType> {
  /** Consumer group, e.g. `attachment-scan`. */
  name: string;
  /** `stage` label of the metrics. */
  stage: 'scan' | 'validate' | 'thumbnail';
  /** The one event type the stage consumes. */
  eventType: T;
  handleOne(ctx: StageContext, payload: EventOf<T>['payload'], e: EventOf<T>): Promise<StageOutcome>;
}

export function attachmentStage<T extends StageEventType>(s: AttachmentStage<T>): ProcessorDefinition {
  return {
    name: s.name,
    // The pipeline's own stream: the stages never read the event stream's traffic.
    stream: keys.attachmentWork,
    canHandle: (type) => type === s.eventType,
    async handle({ tenantId, events, sql, redis, log, config }) {
      const p = await pipeline(config.attachments);
      const ctx: StageContext = { tenantId, sql, redis, log, store: p.store, pipeline: p };
      // canHandle admits the stage's own type only, so every entry is of it (decoded by the runner).
      const own = events.filter((e): e is EventOf<T> => e.type === s.eventType);
      const results = await Promise.allSettled(own.map((e) => s.handleOne(ctx, e.payload, e)));
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
