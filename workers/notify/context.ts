// What the notification stages receive from their processor for one tenant batch: the runner's
// batch context (core/batch-context.ts), under the name the stages use.
import type { BatchContext } from '../../core/batch-context.js';

export type NotifyContext = BatchContext;
