// The preference and permission filter: whether one channel notifies one recipient of one message,
// and if not, why. Pure: the same function runs when the intent is made and again right before
// delivery (with fresh facts), and its reasons are what the decision log and /explain show.
import { INTERRUPTIVE, type Channel } from './channels.js';
import type { Preferences } from './preferences.js';
import { inQuietHours } from './quiet-hours.js';

/** Why a channel did not notify (suppressed or cancelled). */
export type SkipReason =
  | 'message_deleted'
  | 'not_participant'
  | 'muted'
  | 'preference_none'
  | 'preference_mentions'
  | 'channel_disabled'
  | 'no_address'
  | 'already_read'
  | 'quiet_hours'
  | 'active_elsewhere';

export interface Facts {
  /** The recipient is mentioned in the message. */
  mention: boolean;
  /** The thread has exactly two participants. */
  direct: boolean;
  threadId: string;
  /** Facts known right before delivery (at intent time: participant true, the others false). */
  deleted: boolean;
  participant: boolean;
  read: boolean;
  /** Connected with status online: the message reached an active client of the user. */
  active: boolean;
}

export type Decision = { notify: true } | { notify: false; reason: SkipReason };

const SKIP = (reason: SkipReason): Decision => ({ notify: false, reason });

/** Mentions and direct threads are urgent (delivered now); everything else waits for a digest on interruptive channels. */
export function isUrgent(f: Pick<Facts, 'mention' | 'direct'>): boolean {
  return f.mention || f.direct;
}

/** Applies the message-level rules shared by every channel (deletion, participation, mute, thread level, read). */
export function decideMessage(prefs: Preferences, f: Facts, now: Date): Decision {
  if (f.deleted) return SKIP('message_deleted');
  if (!f.participant) return SKIP('not_participant');
  if (prefs.muteUntil && Date.parse(prefs.muteUntil) > now.getTime()) return SKIP('muted');
  const level = prefs.threads[f.threadId] ?? 'all';
  if (level === 'none') return SKIP('preference_none');
  // A direct thread addresses its other participant as much as a mention does.
  if (level === 'mentions' && !isUrgent(f)) return SKIP('preference_mentions');
  if (f.read) return SKIP('already_read');
  return { notify: true };
}

/** Applies the channel rules: opt-in, an address, and for interruptive channels quiet hours and activity. */
export function decideChannel(channel: Channel, prefs: Preferences, f: Pick<Facts, 'active'>, now: Date): Decision {
  if (!prefs.channels[channel]) return SKIP('channel_disabled');
  if (channel === 'email' && !prefs.email) return SKIP('no_address');
  if (channel === 'push' && !prefs.pushEndpoint) return SKIP('no_address');
  if (INTERRUPTIVE.has(channel)) {
    if (prefs.quietHours && inQuietHours(prefs.quietHours, now)) return SKIP('quiet_hours');
    if (f.active) return SKIP('active_elsewhere');
  }
  return { notify: true };
}

export function decide(channel: Channel, prefs: Preferences, f: Facts, now: Date): Decision {
  const m = decideMessage(prefs, f, now);
  return m.notify ? decideChannel(channel, prefs, f, now) : m;
}
