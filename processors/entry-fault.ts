// Which processor failures are the entry's own fault: no retry can fix them, so the runner
// dead-letters the entry on the spot with a short reason instead of redelivering it through claim
// cycles (each with an error line and a stack) until CHORUS_MAX_DELIVERIES.
import { InvalidEventError } from './event-payload.js';

/**
 * SQLSTATE class 22, "data exception": Postgres refused a value of the entry itself, e.g. 22P02
 * invalid input syntax (a `\ud800` escape in jsonb), 22P05 untranslatable character (`\u0000` in
 * jsonb), 22021 invalid byte sequence (NUL in text), 22001 value too long. Such a value fails the
 * same way on every delivery; outages and conflicts have other classes (08, 57, 40, 53, 23).
 */
const DATA_EXCEPTION = /^22[0-9A-Z]{3}$/;

/** The short reason when `err` is the entry's fault, else undefined (a retry may succeed). */
export function entryFault(err: unknown): string | undefined {
  if (err instanceof InvalidEventError) return err.message;
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  if (e && typeof e.code === 'string' && DATA_EXCEPTION.test(e.code)) {
    return `postgres ${e.code}: ${String(e.message ?? 'data exception')}`.slice(0, 300);
  }
  return undefined;
}
