// The notification pipeline against the real Redis, Postgres, SMTP sink and push sink: the
// preferences API, each channel, each preference rule, digests, cancellation on delete, explain,
// and the provider status callback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withTenant } from '../../core/db.js';
import { createLogger } from '../../core/logger.js';
import { WsClient } from '../support/ws-client.js';
import {
  assertError, config as baseConfig, waitFor, sleep, Tenant, type MessageBody, type User,
} from '../support/api.js';
import {
  deliveriesOf, mailsOf, notifyTestConfig, pushesOf, signed, useNotifyStack,
} from '../support/notify.js';
import { EVENT } from '../../core/events/index.js';
import { keys } from '../../core/keys.js';
import { appendEvent, groupStats } from '../../core/stream-commands.js';
import { startProcessorGroup, type ProcessorGroup } from '../../processors/group.js';
import { notifyEmail } from '../../processors/notify-channels.js';
import { queueOf } from '../../workers/notify/channels.js';
import { localMinutes } from '../../workers/notify/quiet-hours.js';
import { sign } from '../../workers/notify/callbacks.js';

const PREFIX = 'ntf';
const log = createLogger({ role: 'test', level: 'fatal' });
const config = notifyTestConfig(baseConfig);
const { stack, groups } = useNotifyStack({ prefix: PREFIX, config, log, sql: { max: 6, app: 'test-notify' } });

async function people(...names: string[]): Promise<{ t: Tenant; users: User[] }> {
  const t = new Tenant(stack.gw.api, stack.auth, PREFIX);
  return { t, users: await Promise.all(names.map((n) => t.user(n))) };
}

function prefs(u: User, body: Record<string, unknown>) {
  return u.api.request('PUT', '/api/notification-preferences', { token: u.token, json: body });
}

const ALL_ON = (u: User) => ({
  channels: { inApp: true, email: true, push: true }, email: `${u.userId}@example.test`, pushEndpoint: `https://push.example.test/${u.userId}`,
});

async function explainFor(u: User, messageId: string) {
  const r = await u.api.get(`/api/notifications/explain?messageId=${encodeURIComponent(messageId)}`, u.token);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.body.channels), ['inApp', 'email', 'push']);
  return r.body.channels as Record<string, { channel: string; status: string; reason: string; notified: boolean } | undefined>;
}

/** Waits until no channel of the user for the message is still on its way. */
async function settled(u: User, messageId: string, timeoutMs = 10_000) {
  return waitFor(`decisions of ${u.userId} for ${messageId} to settle`, async () => {
    const e = await explainFor(u, messageId);
    return Object.values(e).every((c) => !['pending', 'queued', 'retrying', 'digest_pending'].includes(c?.status ?? 'pending')) ? e : undefined;
  }, timeoutMs, 50);
}

test('preferences: defaults, PUT replaces the document, GET returns it', async () => {
  const { users: [bob] } = await people('bob');
  const r0 = await bob!.api.get('/api/notification-preferences', bob!.token);
  assert.equal(r0.status, 200);
  assert.deepEqual(r0.body, {
    channels: { inApp: true, email: true, push: true }, muteUntil: null, quietHours: null, threads: {}, email: null, pushEndpoint: null,
  });
  const doc = {
    channels: { inApp: true, email: false, push: true }, muteUntil: '2030-01-01T10:00:00+02:00',
    quietHours: { start: '22:00', end: '07:00', tz: 'Europe/Berlin' }, threads: { th_a: 'mentions', th_b: 'none' },
    email: 'bob@example.test', pushEndpoint: 'https://push.example.test/bob',
  };
  const r1 = await prefs(bob!, doc);
  assert.equal(r1.status, 200, r1.text);
  assert.equal(r1.body.muteUntil, '2030-01-01T08:00:00.000Z');
  const r2 = await bob!.api.get('/api/notification-preferences', bob!.token);
  assert.deepEqual(r2.body, { ...doc, muteUntil: '2030-01-01T08:00:00.000Z' });
  // PUT replaces: what is left out goes back to its default.
  const r3 = await prefs(bob!, { channels: { inApp: false, email: true, push: false } });
  assert.equal(r3.status, 200);
  assert.deepEqual(r3.body, {
    channels: { inApp: false, email: true, push: false }, muteUntil: null, quietHours: null, threads: {}, email: null, pushEndpoint: null,
  });
});

test('preferences: every invalid field is a 400 that names it; 401 without a token; 415 without JSON', async () => {
  const { users: [bob] } = await people('bob');
  const ok = { channels: { inApp: true, email: true, push: true } };
  const cases: [Record<string, unknown>, string][] = [
    [{}, 'channels'],
    [{ channels: { inApp: true, email: 'yes', push: true } }, 'channels.email'],
    [{ channels: { inApp: true, push: true } }, 'channels.email'],
    [{ ...ok, muteUntil: 'tomorrow' }, 'muteUntil'],
    [{ ...ok, quietHours: { start: '25:00', end: '07:00', tz: 'UTC' } }, 'quietHours.start'],
    [{ ...ok, quietHours: { start: '22:00', end: '7:00', tz: 'UTC' } }, 'quietHours.end'],
    [{ ...ok, quietHours: { start: '22:00', end: '07:00', tz: 'Mars/Olympus' } }, 'quietHours.tz'],
    [{ ...ok, quietHours: { start: '22:00', end: '07:00' } }, 'quietHours.tz'],
    [{ ...ok, threads: { th_1: 'sometimes' } }, 'threads.th_1'],
    [{ ...ok, threads: { 'bad id!': 'all' } }, 'threads'],
    [{ ...ok, email: 'not-an-address' }, 'email'],
    [{ ...ok, pushEndpoint: 'ftp://push.example.test/x' }, 'pushEndpoint'],
    [{ ...ok, pushEndpoint: 42 }, 'pushEndpoint'],
  ];
  for (const [body, field] of cases) {
    const r = await prefs(bob!, body);
    assertError(r, 400, 'invalid_request');
    assert.ok((r.body.error.message as string).startsWith(field), `${JSON.stringify(body)} → ${r.body.error.message}`);
  }
  assertError(await bob!.api.request('PUT', '/api/notification-preferences', { json: ok }), 401);
  assertError(await bob!.api.get('/api/notification-preferences'), 401);
  assertError(await bob!.api.request('PUT', '/api/notification-preferences', { token: bob!.token, raw: JSON.stringify(ok), contentType: 'text/plain' }), 415);
  assertError(await bob!.api.request('PUT', '/api/notification-preferences', { token: bob!.token, raw: '{', contentType: 'application/json' }), 400);
});

test('a direct message notifies in-app, by email and by push; explain says why', async () => {
  const { t, users: [alice, bob] } = await people('alice', 'bob');
  assert.equal((await prefs(bob!, ALL_ON(bob!))).status, 200);
  const th = await alice!.thread(['bob']);
  const m = await alice!.say(th.id, 'hello bob');
  const e = await settled(bob!, m.id);
  assert.deepEqual([e['inApp']?.reason, e['email']?.reason, e['push']?.reason], ['sent_via_in_app', 'sent_via_email', 'sent_via_push']);
  const mails = mailsOf(config, t.id);
  assert.equal(mails.length, 1);
  assert.deepEqual(mails[0]!.to, ['bob@example.test']);
  assert.match(mails[0]!.subject, /alice/);
  const pushes = pushesOf(config, t.id);
  assert.equal(pushes.length, 1);
  assert.equal(pushes[0]!.endpoint, 'https://push.example.test/bob');
  const feed = await bob!.api.get('/api/notifications', bob!.token);
  assert.equal(feed.status, 200);
  assert.equal(feed.body.notifications.length, 1);
  const n = feed.body.notifications[0];
  assert.equal(n.messageId, m.id);
  assert.equal(n.kind, 'direct');
  assert.deepEqual(n.status, { inApp: 'sent', email: 'sent', push: 'sent' });
  // The sender is told why they got nothing.
  const own = await explainFor(alice!, m.id);
  assert.equal(own['email']?.reason, 'sender');
});

test('in a group thread a mention is urgent; the others wait for their digest; in-app gets every message at once', async () => {
  const { t, users: [alice, bob, carol] } = await people('alice', 'bob', 'carol');
  for (const u of [bob!, carol!]) assert.equal((await prefs(u, ALL_ON(u))).status, 200);
  const th = await alice!.thread(['bob', 'carol'], 'team');
  const m = await alice!.say(th.id, 'ping @carol', { mentions: ['carol'] });
  const c = await settled(carol!, m.id);
  assert.deepEqual([c['inApp']?.reason, c['email']?.reason, c['push']?.reason], ['sent_via_in_app', 'sent_via_email', 'sent_via_push']);
  const mail = mailsOf(config, t.id).find((x) => x.to.includes('carol@example.test'));
  assert.match(mail?.subject ?? '', /alice mentioned you in "team"/);
  const b = await explainFor(bob!, m.id);
  assert.equal(b['inApp']?.reason, 'sent_via_in_app');
  assert.equal(b['email']?.status, 'digest_pending');
  assert.equal(b['push']?.status, 'digest_pending');
  const feed = await carol!.api.get('/api/notifications', carol!.token);
  assert.equal(feed.body.notifications[0].kind, 'mention');
});

test('digest: the low-priority messages of one window become one email and one push per user', async () => {
  const { t, users: [alice, bob] } = await people('alice', 'bob', 'carol');
  assert.equal((await prefs(bob!, ALL_ON(bob!))).status, 200);
  const th = await alice!.thread(['bob', 'carol'], 'standup');
  const ms: MessageBody[] = [];
  for (const text of ['one', 'two', 'three']) ms.push(await alice!.say(th.id, text));
  assert.equal(mailsOf(config, t.id).filter((x) => x.to.includes('bob@example.test')).length, 0, 'nothing before the window closes');
  for (const m of ms) {
    const e = await settled(bob!, m.id);
    assert.equal(e['email']?.reason, 'sent_via_email_digest');
    assert.equal(e['push']?.reason, 'sent_via_push_digest');
  }
  const mails = mailsOf(config, t.id).filter((x) => x.to.includes('bob@example.test'));
  assert.equal(mails.length, 1, 'one digest email');
  assert.match(mails[0]!.subject, /^3 new messages/);
  for (const text of ['one', 'two', 'three']) assert.match(mails[0]!.text, new RegExp(`alice: ${text}`));
  assert.equal(pushesOf(config, t.id).filter((p) => p.endpoint.endsWith('/bob')).length, 1, 'one digest push');
});

test('rule muted: muteUntil in the future silences every channel', async () => {
  const { t, users: [alice, bob] } = await people('alice', 'bob');
  await prefs(bob!, { ...ALL_ON(bob!), muteUntil: new Date(Date.now() + 3600_000).toISOString() });
  const m = await alice!.say((await alice!.thread(['bob'])).id, 'shh');
  const e = await settled(bob!, m.id);
  for (const ch of ['inApp', 'email', 'push']) assert.deepEqual([e[ch]?.status, e[ch]?.reason], ['suppressed', 'muted'], ch);
  assert.equal(mailsOf(config, t.id).length, 0);
  // A mute that has ended no longer applies.
  await prefs(bob!, { ...ALL_ON(bob!), muteUntil: new Date(Date.now() - 1000).toISOString() });
  const m2 = await alice!.say((await alice!.thread(['bob'])).id, 'now?');
  assert.equal((await settled(bob!, m2.id))['email']?.reason, 'sent_via_email');
});

test('rule quiet hours: inside them (in the user\'s time zone) email and push are held back, in-app is not', async () => {
  const { t, users: [alice, bob] } = await people('alice', 'bob');
  const tz = 'Asia/Kathmandu'; // +05:45: a zone whose offset no server clock shares by accident
  const now = localMinutes(new Date(), tz);
  const hhmm = (min: number) => { const v = (min + 1440) % 1440; return `${String(Math.floor(v / 60)).padStart(2, '0')}:${String(v % 60).padStart(2, '0')}`; };
  await prefs(bob!, { ...ALL_ON(bob!), quietHours: { start: hhmm(now - 60), end: hhmm(now + 60), tz } });
  const m = await alice!.say((await alice!.thread(['bob'])).id, 'late night');
  const e = await settled(bob!, m.id);
  assert.equal(e['inApp']?.reason, 'sent_via_in_app');
  assert.deepEqual([e['email']?.reason, e['push']?.reason], ['quiet_hours', 'quiet_hours']);
  assert.equal(mailsOf(config, t.id).length, 0);
  // Outside the period (it ended an hour ago) they go out.
  await prefs(bob!, { ...ALL_ON(bob!), quietHours: { start: hhmm(now - 120), end: hhmm(now - 60), tz } });
  const m2 = await alice!.say((await alice!.thread(['bob'])).id, 'morning');
  assert.equal((await settled(bob!, m2.id))['email']?.reason, 'sent_via_email');
});

test('rule thread level: none silences the thread, mentions lets only mentions (and direct threads) through', async () => {
  const { users: [alice, bob] } = await people('alice', 'bob', 'carol');
  const quiet = await alice!.thread(['bob', 'carol'], 'noisy');
  const focused = await alice!.thread(['bob', 'carol'], 'focused');
  await prefs(bob!, { ...ALL_ON(bob!), threads: { [quiet.id]: 'none', [focused.id]: 'mentions' } });
  const m1 = await alice!.say(quiet.id, 'hello @bob', { mentions: ['bob'] });
  const m2 = await alice!.say(focused.id, 'general chatter');
  const m3 = await alice!.say(focused.id, 'you, @bob', { mentions: ['bob'] });
  const e1 = await settled(bob!, m1.id);
  for (const ch of ['inApp', 'email', 'push']) assert.equal(e1[ch]?.reason, 'preference_none', ch);
  const e2 = await settled(bob!, m2.id);
  for (const ch of ['inApp', 'email', 'push']) assert.equal(e2[ch]?.reason, 'preference_mentions', ch);
  const e3 = await settled(bob!, m3.id);
  assert.deepEqual([e3['inApp']?.reason, e3['email']?.reason, e3['push']?.reason], ['sent_via_in_app', 'sent_via_email', 'sent_via_push']);
});

test('rule channel opt-ins and addresses: a channel switched off or without an address does not notify', async () => {
  const { users: [alice, bob, carol] } = await people('alice', 'bob', 'carol');
  await prefs(bob!, { ...ALL_ON(bob!), channels: { inApp: false, email: true, push: false } });
  await prefs(carol!, { channels: { inApp: true, email: true, push: true } }); // no email, no push endpoint
  const th = await alice!.thread(['bob', 'carol']);
  const m = await alice!.say(th.id, 'hi both', { mentions: ['bob', 'carol'] });
  const b = await settled(bob!, m.id);
  assert.deepEqual([b['inApp']?.reason, b['email']?.reason, b['push']?.reason], ['channel_disabled', 'sent_via_email', 'channel_disabled']);
  const c = await settled(carol!, m.id);
  assert.deepEqual([c['inApp']?.reason, c['email']?.reason, c['push']?.reason], ['sent_via_in_app', 'no_address', 'no_address']);
});

test('a channel that cannot notify costs no row: one decision row per recipient, explain and the feed still name every channel', async () => {
  const { t, users: [alice, bob, carol] } = await people('alice', 'bob', 'carol');
  await prefs(bob!, { channels: { inApp: true, email: true, push: true } }); // no email address, no push endpoint
  await prefs(carol!, { channels: { inApp: true, email: false, push: false } });
  const th = await alice!.thread(['bob', 'carol']);
  const m = await alice!.say(th.id, 'hello both');
  const b = await settled(bob!, m.id);
  assert.deepEqual([b['inApp']?.reason, b['email']?.reason, b['push']?.reason], ['sent_via_in_app', 'no_address', 'no_address']);
  assert.deepEqual([b['email']?.status, b['push']?.status], ['suppressed', 'suppressed']);
  const c = await settled(carol!, m.id);
  assert.deepEqual([c['inApp']?.reason, c['email']?.reason, c['push']?.reason], ['sent_via_in_app', 'channel_disabled', 'channel_disabled']);
  const rows = await withTenant(stack.sql, t.id, (tx) => tx<{ user_id: string; channel: string }[]>`
    select user_id, channel from notification_deliveries where tenant_id = ${t.id} and message_id = ${m.id} order by user_id, channel`);
  assert.deepEqual(rows.map((r) => `${r.user_id}/${r.channel}`), ['bob/inApp', 'carol/inApp']);
  assert.equal(await stack.redis.xlen(keys.notifyQueue(t.id, 'inApp')), 0, 'in-app is delivered by the intents stage, not through its queue');
  const feed = await bob!.api.get('/api/notifications', bob!.token);
  assert.equal(feed.status, 200);
  const item = (feed.body.notifications as { messageId: string; status: Record<string, string> }[]).find((n) => n.messageId === m.id);
  assert.deepEqual(item?.status, { inApp: 'sent', email: 'suppressed', push: 'suppressed' });
});

test('rule active elsewhere: an online user gets the in-app notification on their socket, no email or push', async () => {
  const { t, users: [alice, bob] } = await people('alice', 'bob');
  await prefs(bob!, ALL_ON(bob!));
  const th = await alice!.thread(['bob']);
  const { client } = await WsClient.open(stack.gw.wsUrl, { token: bob!.token });
  try {
    await waitFor('bob online', async () => {
      const r = await bob!.api.get('/api/presence?userIds=bob', bob!.token);
      return r.body?.users?.[0]?.status === 'online';
    });
    const m = await alice!.say(th.id, 'are you there?');
    const e = await settled(bob!, m.id);
    assert.equal(e['inApp']?.reason, 'sent_via_in_app');
    assert.deepEqual([e['email']?.reason, e['push']?.reason], ['active_elsewhere', 'active_elsewhere']);
    const frame = await client.waitFor((f) => f.type === 'notification.created' && f.data.messageId === m.id, 5000, 'notification.created');
    assert.equal(frame.data.kind, 'direct');
    assert.ok(frame.seq, 'notification.created comes from the stream');
    assert.equal(mailsOf(config, t.id).length, 0);
  } finally {
    await client.close();
  }
});

test('rule already read: a message read before its digest closes is left out of it', async () => {
  const { t, users: [alice, bob] } = await people('alice', 'bob', 'carol');
  await prefs(bob!, ALL_ON(bob!));
  const th = await alice!.thread(['bob', 'carol']);
  const m1 = await alice!.say(th.id, 'first');
  const r = await bob!.api.post(`/api/threads/${th.id}/read`, bob!.token, { lastReadMessageId: m1.id });
  assert.equal(r.status, 202, r.text);
  await sleep(200); // the receipts group records the read position
  const m2 = await alice!.say(th.id, 'second');
  const e1 = await settled(bob!, m1.id);
  assert.deepEqual([e1['email']?.reason, e1['push']?.reason], ['already_read', 'already_read']);
  assert.equal((await settled(bob!, m2.id))['email']?.reason, 'sent_via_email_digest');
  const mails = mailsOf(config, t.id);
  assert.equal(mails.length, 1);
  assert.match(mails[0]!.subject, /^1 new message /);
  assert.doesNotMatch(mails[0]!.text, /first/);
});

test('rule not a participant: a user removed before delivery is not notified', async () => {
  const { t, users: [alice, , dave] } = await people('alice', 'bob', 'dave');
  await prefs(dave!, ALL_ON(dave!));
  const th = await alice!.thread(['bob', 'dave']);
  const m = await alice!.say(th.id, 'team news');
  assert.equal((await dave!.removeParticipant(th.id, 'dave')).status, 204);
  // Two orders are possible: the intent was made while dave was still a participant (then delivery
  // re-checks and suppresses it), or the removal came first (then dave gets no intent at all).
  const rows = await waitFor('dave\'s digest decisions', async () => {
    const d = await deliveriesOf(stack.sql, t.id, m.id, 'dave');
    if (d.get('email')?.status === 'suppressed' && d.get('push')?.status === 'suppressed') return d;
    const bob = await deliveriesOf(stack.sql, t.id, m.id, 'bob');
    return d.size === 0 && bob.size > 0 ? d : undefined;
  }, 20_000);
  if (rows.size) {
    assert.equal(rows.get('email')?.reason, 'not_participant');
    assert.equal(rows.get('push')?.reason, 'not_participant');
  }
  assert.equal(mailsOf(config, t.id).length, 0);
  // Explain is for participants only.
  assertError(await dave!.api.get(`/api/notifications/explain?messageId=${m.id}`, dave!.token), 403, 'not_participant');
});

test('message.deleted before delivery cancels its pending notifications (digest and urgent)', async () => {
  const { t, users: [alice, bob] } = await people('alice', 'bob', 'carol');
  await prefs(bob!, ALL_ON(bob!));
  const group = await alice!.thread(['bob', 'carol']);
  const gone = await alice!.say(group.id, 'oops, wrong thread');
  const kept = await alice!.say(group.id, 'this one stays');
  assert.equal((await alice!.remove(gone.id)).status, 202);
  const e = await settled(bob!, gone.id);
  assert.deepEqual([e['email']?.status, e['email']?.reason], ['cancelled', 'message_deleted']);
  assert.equal((await settled(bob!, kept.id))['email']?.reason, 'sent_via_email_digest');
  const digest = mailsOf(config, t.id);
  assert.equal(digest.length, 1);
  assert.doesNotMatch(digest[0]!.text, /wrong thread/);

  // Urgent: the email consumer is stopped, so the job waits on its queue while the message is deleted.
  const EMAIL = 2; // startNotifyGroups: intents, inApp, email, push, receipts
  await groups[EMAIL]!.stop();
  let restarted: ProcessorGroup | undefined;
  try {
    const dm = await alice!.thread(['bob']);
    const m = await alice!.say(dm.id, 'call me');
    await waitFor('the email job to be queued', async () => (await explainFor(bob!, m.id))['email']?.status === 'queued');
    assert.equal((await alice!.remove(m.id)).status, 202);
    await waitFor('the cancellation', async () => (await explainFor(bob!, m.id))['email']?.status === 'cancelled');
    restarted = await startProcessorGroup({ definition: notifyEmail, config, sql: stack.sql, log, consumers: 1, accept: (x) => x === t.id });
    await waitFor('the email queue to drain', async () => {
      const s = await groupStats(stack.redis, t.id, 'notify-email', queueOf('email'));
      return s !== null && s.lag === 0 && s.pending === 0;
    }, 10_000);
    assert.equal(mailsOf(config, t.id).filter((x) => x.to.includes('bob@example.test') && /call me/.test(x.text)).length, 0);
    assert.equal((await explainFor(bob!, m.id))['email']?.reason, 'message_deleted');
  } finally {
    await restarted?.stop();
    groups[EMAIL] = await startProcessorGroup({ definition: notifyEmail, config, sql: stack.sql, log, consumers: 1, accept: (x) => x.startsWith(`${PREFIX}_`) });
  }
});

test('an edit that adds a mention upgrades the waiting digest item to an urgent email', async () => {
  const { t, users: [alice, , carol] } = await people('alice', 'bob', 'carol');
  await prefs(carol!, ALL_ON(carol!));
  const th = await alice!.thread(['bob', 'carol']);
  const m = await alice!.say(th.id, 'meeting at 3');
  await waitFor('the digest item', async () => (await explainFor(carol!, m.id))['email']?.status === 'digest_pending');
  // The API keeps an edit's mentions; a message.updated that adds one (a future edit shape) is honoured.
  await appendEvent(stack.redis, t.id, {
    type: EVENT.messageUpdated, threadId: th.id, actor: 'alice',
    data: { ...m, body: 'meeting at 3, @carol', mentions: ['carol'], editedAt: new Date().toISOString() },
  });
  const e = await waitFor('the urgent email', async () => {
    const x = await explainFor(carol!, m.id);
    return x['email']?.reason === 'sent_via_email' ? x : undefined;
  }, 10_000);
  assert.equal(e['email']?.status, 'sent');
  await sleep(config.notify.digestWindowMs + 500);
  assert.equal(mailsOf(config, t.id).filter((x) => x.to.includes('carol@example.test')).length, 1, 'no digest repeats it');
});

test('feed: newest first, limit and cursor, mark read → 204; someone else\'s notification → 404', async () => {
  const { users: [alice, bob, carol] } = await people('alice', 'bob', 'carol');
  const th = await alice!.thread(['bob']);
  const ms: MessageBody[] = [];
  for (const text of ['a', 'b', 'c']) ms.push(await alice!.say(th.id, text));
  await waitFor('three in-app notifications', async () => (await bob!.api.get('/api/notifications', bob!.token)).body.notifications.length === 3);
  const p1 = await bob!.api.get('/api/notifications?limit=2', bob!.token);
  assert.deepEqual(p1.body.notifications.map((n: { messageId: string }) => n.messageId), [ms[2]!.id, ms[1]!.id]);
  assert.equal(typeof p1.body.nextCursor, 'string');
  const p2 = await bob!.api.get(`/api/notifications?limit=2&cursor=${p1.body.nextCursor}`, bob!.token);
  assert.deepEqual(p2.body.notifications.map((n: { messageId: string }) => n.messageId), [ms[0]!.id]);
  assert.equal(p2.body.nextCursor, null);
  const id = p1.body.notifications[0].id as string;
  assert.equal(p1.body.notifications[0].readAt, null);
  const r = await bob!.api.post(`/api/notifications/${id}/read`, bob!.token);
  assert.equal(r.status, 204, r.text);
  assert.equal((await bob!.api.post(`/api/notifications/${id}/read`, bob!.token)).status, 204, 'idempotent');
  const after1 = await bob!.api.get('/api/notifications?limit=1', bob!.token);
  assert.ok(after1.body.notifications[0].readAt);
  assertError(await carol!.api.post(`/api/notifications/${id}/read`, carol!.token), 404, 'not_found');
  assertError(await bob!.api.post('/api/notifications/bad%20id/read', bob!.token), 400);
  assertError(await bob!.api.get('/api/notifications?cursor=nope', bob!.token), 400, 'invalid_cursor');
  assertError(await bob!.api.get('/api/notifications'), 401);
});

test('explain: 400 without a messageId, 404 for an unknown message, 403 outside the thread', async () => {
  const { users: [alice, , carol] } = await people('alice', 'bob', 'carol');
  const th = await alice!.thread(['bob']);
  const m = await alice!.say(th.id, 'private');
  assertError(await alice!.api.get('/api/notifications/explain', alice!.token), 400, 'invalid_request');
  assertError(await alice!.api.get('/api/notifications/explain?messageId=m_doesnotexist', alice!.token), 404, 'not_found');
  assertError(await carol!.api.get(`/api/notifications/explain?messageId=${m.id}`, carol!.token), 403, 'not_participant');
});

test('provider callback: signed status updates move the delivery forward; bad signatures are 401', async () => {
  const { t, users: [alice, bob] } = await people('alice', 'bob');
  await prefs(bob!, ALL_ON(bob!));
  const m = await alice!.say((await alice!.thread(['bob'])).id, 'track me');
  await settled(bob!, m.id);
  const [n] = (await bob!.api.get('/api/notifications', bob!.token)).body.notifications;
  const secret = config.notify.email.callbackSecret as string;
  const post = (channel: string, raw: string, signature?: string) =>
    stack.gw.api.request('POST', `/api/providers/${channel}/callback`, { raw, contentType: 'application/json', headers: signature ? { 'x-chorus-signature': signature } : {} });
  const ok = signed(secret, { tenantId: t.id, notificationId: n.id, status: 'delivered', providerMessageId: 'prov-1' });
  assert.equal((await post('email', ok.raw, ok.signature)).status, 204);
  const e = await explainFor(bob!, m.id);
  assert.deepEqual([e['email']?.status, e['email']?.notified], ['delivered', true]);
  assert.equal(e['push']?.status, 'sent', 'other channels untouched');
  const feed = await bob!.api.get('/api/notifications', bob!.token);
  assert.equal(feed.body.notifications[0].status.email, 'delivered');
  // A late 'sent' never moves it back; a batch with opened moves it on.
  const batch = signed(secret, { events: [{ tenantId: t.id, notificationId: n.id, status: 'opened' }] });
  assert.equal((await post('email', batch.raw, batch.signature)).status, 204);
  assert.equal((await explainFor(bob!, m.id))['email']?.status, 'opened');

  assertError(await post('email', ok.raw), 401, 'unauthorized');
  assertError(await post('email', ok.raw, `sha256=${'0'.repeat(64)}`), 401, 'unauthorized');
  assertError(await post('email', ok.raw, signed('another-secret-entirely', JSON.parse(ok.raw)).signature), 401);
  assertError(await post('push', ok.raw, ok.signature), 401, 'unauthorized'); // the email secret does not sign push callbacks
  assertError(await post('sms', ok.raw, ok.signature), 404);
  const bad = signed(secret, { tenantId: t.id, notificationId: n.id, status: 'exploded' });
  assertError(await post('email', bad.raw, bad.signature), 400, 'invalid_request');
  assertError(await post('email', '{nope', `sha256=${sign(secret, '{nope')}`), 400, 'invalid_json');
});

test('in-app: recipients of a message share notification.created entries, and each socket gets its own notification', async () => {
  const { t, users: [alice, bob, carol, dave] } = await people('alice', 'bob', 'carol', 'dave');
  const th = await alice!.thread(['bob', 'carol', 'dave']);
  const opened = await Promise.all([bob!, carol!, dave!].map((u) => WsClient.open(stack.gw.wsUrl, { token: u.token })));
  try {
    const m = await alice!.say(th.id, 'hello @carol', { mentions: ['carol'] });
    const frames = await Promise.all(opened.map(({ client }) =>
      client.waitFor((f) => f.type === 'notification.created' && f.data.messageId === m.id, 10_000, 'notification.created')));
    assert.deepEqual(frames.map((f) => f.data.kind), ['message', 'mention', 'message']);
    assert.equal(new Set(frames.map((f) => f.data.id)).size, 3, 'a notification id of its own per recipient');
    for (const [i, u] of [bob!, carol!, dave!].entries()) {
      const d = frames[i]!.data;
      assert.equal(d.perUser, undefined, 'no other recipient\'s fields in a frame');
      assert.deepEqual(Object.keys(d).sort(), ['createdAt', 'id', 'kind', 'messageId', 'preview', 'readAt', 'senderId', 'threadId', 'title']);
      const feed = await u.api.get('/api/notifications', u.token);
      assert.equal(feed.status, 200, feed.text);
      assert.ok(feed.body.notifications.some((n: { id: string }) => n.id === d.id), 'the frame names the row of the feed');
    }
    const entries = (await stack.redis.xrange(keys.events(t.id), '-', '+')).filter(([, f]) => f[f.indexOf('t') + 1] === EVENT.notificationCreated);
    // Jobs of one message read in the same batch share an entry (how many share one depends on how
    // the in-app group's reads fall: groupsOf is unit-tested); every recipient is in exactly one.
    const users = entries.flatMap(([, f]) => f[f.indexOf('u') + 1]!.split(','));
    assert.deepEqual(users.sort(), ['bob', 'carol', 'dave']);
    assert.ok(entries.length <= 3);
    // What the message gives all recipients alike is stored once per entry, not once per recipient.
    for (const [, f] of entries) {
      const d = JSON.parse(f[f.indexOf('d') + 1]!) as { title?: unknown; perUser?: Record<string, Record<string, unknown>> };
      if (!d.perUser) continue;
      assert.equal(d.title, th.title ?? null);
      for (const own of Object.values(d.perUser)) assert.deepEqual(Object.keys(own).sort(), ['id', 'kind']);
    }
  } finally {
    await Promise.all(opened.map(({ client }) => client.close()));
  }
});
