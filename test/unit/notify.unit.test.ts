// Pure parts of the notification pipeline: the filter's rules and their order, quiet hours across
// midnight and time zones, job parsing, ids, digest rendering, and callback signatures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, decideMessage, isUrgent, type Facts } from '../../workers/notify/decide.js';
import { defaultPreferences, normalize, PreferencesInput, type Preferences } from '../../workers/notify/preferences.js';
import { inQuietHours, isTimeZone, localMinutes, msUntilQuietEnd } from '../../workers/notify/quiet-hours.js';
import { emailMessageId, groupsOf, IN_APP_GROUP, notificationIdOf, previewOf } from '../../workers/notify/jobs.js';
import { EVENT, InvalidEventError, decodePayload, type DigestJob, type MessageJob } from '../../core/events/index.js';
import type { Seq } from '../../core/seq.js';
import { render } from '../../workers/notify/content.js';
import { sign, verifySignature } from '../../workers/notify/callbacks.js';
import { backoffDelay } from '../../core/backoff.js';
import { isId } from '../../core/ids.js';

const NOW = new Date('2026-03-10T12:00:00Z');
const base: Facts = { mention: false, direct: false, threadId: 'th_1', deleted: false, participant: true, read: false, active: false };
const prefs = (over: Partial<Preferences> = {}): Preferences => ({
  ...defaultPreferences(), email: 'u@example.test', pushEndpoint: 'https://push.example.test/u', ...over,
});

test('urgent: mentions and direct threads', () => {
  assert.equal(isUrgent({ mention: true, direct: false }), true);
  assert.equal(isUrgent({ mention: false, direct: true }), true);
  assert.equal(isUrgent({ mention: false, direct: false }), false);
});

test('decide: every rule with its reason', () => {
  const d = (p: Preferences, f: Partial<Facts> = {}, ch: 'inApp' | 'email' | 'push' = 'email') => decide(ch, p, { ...base, ...f }, NOW);
  assert.deepEqual(d(prefs()), { notify: true });
  assert.deepEqual(d(prefs(), { deleted: true }), { notify: false, reason: 'message_deleted' });
  assert.deepEqual(d(prefs(), { participant: false }), { notify: false, reason: 'not_participant' });
  assert.deepEqual(d(prefs({ muteUntil: '2026-03-10T13:00:00.000Z' })), { notify: false, reason: 'muted' });
  assert.deepEqual(d(prefs({ muteUntil: '2026-03-10T11:00:00.000Z' })), { notify: true }, 'a past mute is over');
  assert.deepEqual(d(prefs({ threads: { th_1: 'none' } }), { mention: true }), { notify: false, reason: 'preference_none' });
  assert.deepEqual(d(prefs({ threads: { th_1: 'mentions' } })), { notify: false, reason: 'preference_mentions' });
  assert.deepEqual(d(prefs({ threads: { th_1: 'mentions' } }), { mention: true }), { notify: true });
  assert.deepEqual(d(prefs({ threads: { th_1: 'mentions' } }), { direct: true }), { notify: true });
  assert.deepEqual(d(prefs({ threads: { th_2: 'none' } })), { notify: true }, 'other threads are unaffected');
  assert.deepEqual(d(prefs(), { read: true }), { notify: false, reason: 'already_read' });
  assert.deepEqual(d(prefs({ channels: { inApp: true, email: false, push: true } })), { notify: false, reason: 'channel_disabled' });
  assert.deepEqual(d(prefs({ email: null })), { notify: false, reason: 'no_address' });
  assert.deepEqual(d(prefs({ pushEndpoint: null }), {}, 'push'), { notify: false, reason: 'no_address' });
  assert.deepEqual(d(prefs({ quietHours: { start: '11:00', end: '13:00', tz: 'UTC' } })), { notify: false, reason: 'quiet_hours' });
  assert.deepEqual(d(prefs(), { active: true }), { notify: false, reason: 'active_elsewhere' });
  // In-app is silent: neither quiet hours nor activity hold it back.
  assert.deepEqual(d(prefs({ quietHours: { start: '11:00', end: '13:00', tz: 'UTC' } }), { active: true }, 'inApp'), { notify: true });
});

test('decide: message rules come before channel rules (deleted beats muted beats channel_disabled)', () => {
  const p = prefs({ muteUntil: '2030-01-01T00:00:00.000Z', channels: { inApp: false, email: false, push: false } });
  assert.equal((decide('email', p, { ...base, deleted: true }, NOW) as { reason: string }).reason, 'message_deleted');
  assert.equal((decide('email', p, base, NOW) as { reason: string }).reason, 'muted');
  assert.equal((decideMessage(prefs(), { ...base, read: true }, NOW) as { reason: string }).reason, 'already_read');
});

test('quiet hours: same-day and overnight periods, in the user\'s time zone', () => {
  const noonUtc = new Date('2026-03-10T12:00:00Z');
  assert.equal(inQuietHours({ start: '11:00', end: '13:00', tz: 'UTC' }, noonUtc), true);
  assert.equal(inQuietHours({ start: '13:00', end: '14:00', tz: 'UTC' }, noonUtc), false);
  // 12:00 UTC is 21:00 in Tokyo: inside 20:00–07:00 there, outside it in Berlin (13:00).
  assert.equal(inQuietHours({ start: '20:00', end: '07:00', tz: 'Asia/Tokyo' }, noonUtc), true);
  assert.equal(inQuietHours({ start: '20:00', end: '07:00', tz: 'Europe/Berlin' }, noonUtc), false);
  assert.equal(inQuietHours({ start: '22:00', end: '22:00', tz: 'UTC' }, noonUtc), false, 'an empty period');
  assert.equal(localMinutes(new Date('2026-03-10T00:30:00Z'), 'Asia/Kathmandu'), 6 * 60 + 15);
  // 21:00 in Tokyo until 07:00: ten hours.
  assert.equal(msUntilQuietEnd({ start: '20:00', end: '07:00', tz: 'Asia/Tokyo' }, noonUtc), 10 * 3600_000);
  assert.equal(msUntilQuietEnd({ start: '13:00', end: '14:00', tz: 'UTC' }, noonUtc), 0);
  assert.equal(isTimeZone('Europe/Berlin'), true);
  assert.equal(isTimeZone('Mars/Olympus'), false);
});

test('preferences: normalize fills defaults and canonicalizes muteUntil', () => {
  const parsed = PreferencesInput.parse({ channels: { inApp: true, email: false, push: true }, muteUntil: '2030-01-01T01:00:00+01:00' });
  assert.deepEqual(normalize(parsed), {
    channels: { inApp: true, email: false, push: true }, muteUntil: '2030-01-01T00:00:00.000Z', quietHours: null, threads: {}, email: null, pushEndpoint: null,
  });
});

test('jobs: deterministic ids, valid ids, parse rejects junk', () => {
  const a = notificationIdOf('m_1', 'bob');
  assert.equal(a, notificationIdOf('m_1', 'bob'));
  assert.notEqual(a, notificationIdOf('m_1', 'carol'));
  assert.ok(isId(a));
  const parseJob = (json: string) => decodePayload(EVENT.notificationJob, json, { seq: '1-0' as Seq, v: 1 });
  assert.throws(() => parseJob('nope'), InvalidEventError);
  assert.throws(() => parseJob('{"kind":"other","userId":"u","channel":"email"}'), InvalidEventError);
  assert.throws(() => parseJob('{"kind":"message","userId":"u","channel":"fax","notificationId":"n","messageId":"m"}'), InvalidEventError);
  const j = parseJob(JSON.stringify({ kind: 'message', channel: 'email', userId: 'u', notificationId: a, messageId: 'm_1' }));
  assert.equal(j.attempt, 0);
  assert.equal(emailMessageId('acme', j), `<${a}.email@acme.chorus.invalid>`);
  assert.equal(previewOf('x'.repeat(200)).length, 140);
  assert.equal(previewOf('short'), 'short');
});

test('digest rendering counts what the digest could not hold, not what was filtered out', () => {
  const item = (i: number) => ({ notificationId: `n_${i}`, messageId: `m_${i}`, threadId: 'th', seq: `${i}-0`, senderId: 'alice', preview: `p${i}` });
  const job: DigestJob = { kind: 'digest', channel: 'email', userId: 'u', attempt: 0, enqueuedAt: 0, digestId: 'dg', total: 5, items: [item(1), item(2)] };
  const c = render(job, job.items);
  assert.match(c.subject, /^5 new messages/);
  assert.match(c.text, /alice: p1/);
  assert.match(c.text, /and 3 more/);
});

test('callback signatures: hex HMAC-SHA256 of the raw body, with or without the sha256= prefix', () => {
  const body = Buffer.from('{"a":1}');
  const sig = sign('s3cret-s3cret-s3cret', body);
  assert.equal(verifySignature('s3cret-s3cret-s3cret', body, sig), true);
  assert.equal(verifySignature('s3cret-s3cret-s3cret', body, `sha256=${sig}`), true);
  assert.equal(verifySignature('s3cret-s3cret-s3cret', Buffer.from('{"a":2}'), sig), false);
  assert.equal(verifySignature('another-secret-here', body, sig), false);
  assert.equal(verifySignature(undefined, body, sig), false, 'no secret configured: refused');
  assert.equal(verifySignature('s3cret-s3cret-s3cret', body, 'zz'), false);
});

test('retry delays: base 250 ms, factor 2, cap 30 s, full jitter in [d/2, d]', () => {
  const o = { baseMs: 250, factor: 2, capMs: 30_000 };
  assert.deepEqual([1, 2, 3, 8, 20].map((a) => backoffDelay(a, o, () => 1)), [250, 500, 1000, 30_000, 30_000]);
  assert.deepEqual([1, 2, 3].map((a) => backoffDelay(a, o, () => 0)), [125, 250, 500]);
});

test('in-app grouping: jobs of one message share an entry, at most IN_APP_GROUP each, a user once per entry', () => {
  const job = (messageId: string, userId: string) => ({ messageId, userId }) as MessageJob;
  const jobs = [job('m1', 'a'), job('m2', 'a'), job('m1', 'b'), job('m1', 'a'), job('m1', 'c')];
  assert.deepEqual(groupsOf(jobs), [[0, 2, 4], [1], [3]]);
  const many = Array.from({ length: IN_APP_GROUP * 2 + 1 }, (_, i) => job('m', `u${i}`));
  assert.deepEqual(groupsOf(many).map((g) => g.length), [IN_APP_GROUP, IN_APP_GROUP, 1]);
  assert.deepEqual(groupsOf([]), []);
});
