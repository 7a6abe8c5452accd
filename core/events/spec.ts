// What the catalog knows of one event type: its current schema version and its decoder.
import type { EntryRef, Payload } from './invalid.js';

export interface EventSpec<P> {
  /**
   * The payload's schema version, written with every new entry of the type. Bump it when the payload
   * changes incompatibly, and teach `upgrade` the previous version. Every type started at 1, the
   * value of the one global version entries were written with before.
   */
  readonly version: number;
  /**
   * Brings an older payload to the current shape, in place: an entry of an earlier version (`from`;
   * 0 when the entry has no `v`), or one of the current version written before a field was always
   * present (e.g. a thread id only in the envelope's routing field). Runs before `check`.
   */
  upgrade?(d: Payload, e: EntryRef, from: number): void;
  /** Checks a current-shape payload and returns it typed; throws InvalidEventError naming the field. */
  check(d: Payload, e: EntryRef): P;
}
