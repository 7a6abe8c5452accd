// Notification preferences of a user (contract: GET/PUT /api/notification-preferences): the request
// shape, its defaults, and the rows in notification_preferences. PUT replaces the whole document.
import { z } from 'zod';
import { withTenant, type Sql } from '../../core/db.js';
import { timed } from '../../core/metrics.js';
import { Id, storedText, StoredText } from '../../core/fields.js';
import { HHMM_RE, isTimeZone, type QuietHours } from './quiet-hours.js';

export const THREAD_LEVELS = ['all', 'mentions', 'none'] as const;
export type ThreadLevel = (typeof THREAD_LEVELS)[number];

export interface Preferences {
  channels: { inApp: boolean; email: boolean; push: boolean };
  /** ISO 8601; until then nothing is notified. */
  muteUntil: string | null;
  quietHours: QuietHours | null;
  /** Per-thread level; threads not listed are `all`. */
  threads: Record<string, ThreadLevel>;
  /** Where email notifications go; none: email is not sent (`no_address`). */
  email: string | null;
  /** The device endpoint the push gateway delivers to; none: push is not sent (`no_address`). */
  pushEndpoint: string | null;
}

export const MAX_THREAD_SETTINGS = 1000;

export function defaultPreferences(): Preferences {
  return { channels: { inApp: true, email: true, push: true }, muteUntil: null, quietHours: null, threads: {}, email: null, pushEndpoint: null };
}

const HHMM = StoredText.regex(HHMM_RE, 'must be HH:MM (24 h)');

export const PreferencesInput = z.object({
  channels: z.object({ inApp: z.boolean(), email: z.boolean(), push: z.boolean() }),
  muteUntil: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' }).check(storedText).nullable().optional(),
  quietHours: z.object({
    start: HHMM,
    end: HHMM,
    tz: StoredText.max(64).refine(isTimeZone, 'must be an IANA time zone, e.g. Europe/Berlin'),
  }).nullable().optional(),
  threads: z.record(Id, z.enum(THREAD_LEVELS))
    .refine((r) => Object.keys(r).length <= MAX_THREAD_SETTINGS, `at most ${MAX_THREAD_SETTINGS} threads`)
    .optional(),
  email: z.email('must be an email address').max(254).check(storedText).nullable().optional(),
  // The URL parser accepts NUL and lone surrogates in a path: the stored-text check refuses them.
  pushEndpoint: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).max(2048).check(storedText).nullable().optional(),
  tenantId: z.string().optional(),
});

export function normalize(input: z.infer<typeof PreferencesInput>): Preferences {
  return {
    channels: { inApp: input.channels.inApp, email: input.channels.email, push: input.channels.push },
    muteUntil: input.muteUntil ? new Date(input.muteUntil).toISOString() : null,
    quietHours: input.quietHours ? { start: input.quietHours.start, end: input.quietHours.end, tz: input.quietHours.tz } : null,
    threads: { ...(input.threads ?? {}) },
    email: input.email ?? null,
    pushEndpoint: input.pushEndpoint ?? null,
  };
}

/** A stored document read back: defaults under whatever it holds (documents written by older versions stay readable). */
function fromRow(doc: unknown): Preferences {
  const d = defaultPreferences();
  const o = (doc && typeof doc === 'object' ? doc : {}) as Partial<Preferences>;
  return {
    channels: { ...d.channels, ...(o.channels ?? {}) },
    muteUntil: o.muteUntil ?? null,
    quietHours: o.quietHours ?? null,
    threads: o.threads ?? {},
    email: o.email ?? null,
    pushEndpoint: o.pushEndpoint ?? null,
  };
}

export async function getPreferences(sql: Sql, tenantId: string, userId: string): Promise<Preferences> {
  return (await loadPreferences(sql, tenantId, [userId])).get(userId) ?? defaultPreferences();
}

/** The preferences of several users of one tenant (defaults for users without a row). */
export async function loadPreferences(sql: Sql, tenantId: string, userIds: string[]): Promise<Map<string, Preferences>> {
  const out = new Map<string, Preferences>();
  if (!userIds.length) return out;
  const rows = await timed('notify_prefs_load', () => withTenant(sql, tenantId, (tx) => tx<{ user_id: string; prefs: unknown }[]>`
    select user_id, prefs from notification_preferences where tenant_id = ${tenantId} and user_id = any(${[...new Set(userIds)]})`));
  for (const r of rows) out.set(r.user_id, fromRow(r.prefs));
  for (const u of userIds) if (!out.has(u)) out.set(u, defaultPreferences());
  return out;
}

export async function putPreferences(sql: Sql, tenantId: string, userId: string, prefs: Preferences): Promise<Preferences> {
  await timed('notify_prefs_put', () => withTenant(sql, tenantId, (tx) => tx`
    insert into notification_preferences (tenant_id, user_id, prefs, updated_at)
    values (${tenantId}, ${userId}, ${tx.json(prefs as unknown as Parameters<typeof tx.json>[0])}, now())
    on conflict (tenant_id, user_id) do update set prefs = excluded.prefs, updated_at = now()`));
  return prefs;
}
