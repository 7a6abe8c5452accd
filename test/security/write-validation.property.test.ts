// The rule of issue #13 (finding 2), as a property: whatever a write is answered 2xx, the processors
// can store, so it reaches Postgres and the projections with the same text; whatever they could not
// store is refused with a 400 naming the field. Generated strings (lone surrogate halves, emoji cut
// at every code unit, NUL, C0/C1 controls, bidi overrides, noncharacters, lengths around every
// limit) go into every string field of every write, through the real HTTP API of a real gateway with
// the real persist, counters, inbox and receipts groups running; no dead letter may come of it.
// A failure prints fast-check's seed and counterexample; CHORUS_PROPERTY_SEED replays a seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { withTenant } from '../../core/db.js';
import { listDeadLetters } from '../../core/stream-commands.js';
import { sign } from '../../workers/notify/callbacks.js';
import { config, Tenant, type Reply, type User } from '../support/api.js';
import { caughtUp, READ_MODEL_GROUPS, readModelHarness } from '../support/read-models.js';

const h = readModelHarness('test-write-validation');
const SEED = Number(process.env['CHORUS_PROPERTY_SEED'] ?? 20_261_303);
const NUM_RUNS = 120;

// ---------------------------------------------------------------------------------------------
// The contract, stated independently of the code under test

const storable = (s: string) => s.isWellFormed() && !s.includes('\u0000');
const chars = (s: string) => [...s].length;
const isId = (s: string) => /^[A-Za-z0-9_-]{1,64}$/.test(s);
const bodyOk = (s: string) => storable(s) && chars(s) >= 1 && chars(s) <= 4000;
const titleOk = (s: string) => storable(s) && chars(s) <= 200;
// eslint-disable-next-line no-control-regex
const filenameOk = (s: string) => storable(s) && chars(s) >= 1 && chars(s) <= 255 && !/[\u0000-\u001f\u007f/\\]/.test(s) && s !== '.' && s !== '..';
const ALLOWED = config.attachments.allowedTypes;
const contentTypeOk = (s: string) => storable(s) && chars(s) >= 1 && chars(s) <= 255 && ALLOWED.includes(s.trim().toLowerCase());
const preview = (s: string) => [...s].slice(0, 200).join('');

/** A field's verdict: `ok` must be accepted, `bad` must be refused, `maybe` is the format's call (URL, e-mail, time zone). */
type Verdict = 'ok' | 'bad' | 'maybe';
const verdict = (ok: boolean): Verdict => (ok ? 'ok' : 'bad');

/**
 * 2xx when every field is ok; else (or when a `maybe` field is refused) a 400 invalid_request whose
 * issues name only fields that are not ok, at least one of them.
 */
function judge(what: string, r: Reply, fields: Record<string, Verdict>, okStatus: number): boolean {
  const shown = `${what}: ${r.status} ${r.text.slice(0, 400)}\nfields: ${JSON.stringify(fields)}`;
  const bad = Object.values(fields).includes('bad');
  if (r.status === okStatus && !bad) return true;
  assert.equal(r.status, 400, `expected ${bad ? 400 : okStatus}; ${shown}`);
  assert.equal(r.body?.error?.code, 'invalid_request', shown);
  const issues = (r.body.error.details?.issues ?? []) as { field: string }[];
  assert.ok(issues.length > 0, `a field error: ${shown}`);
  const suspects = Object.entries(fields).filter(([, v]) => v !== 'ok').map(([f]) => f);
  for (const i of issues) {
    assert.ok(suspects.some((f) => i.field === f || i.field.startsWith(`${f}.`)), `issue on ${i.field}, which is fine; ${shown}`);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Generated strings

const NASTY = [
  '\ud800', '\udbff', '\udc00', '\udfff', '\u0000', // lone surrogate halves, NUL
  '\u0001', '\u0007', '\b', '\t', '\n', '\r', '\u001b', '\u001f', '\u007f', // C0, DEL
  '\u0080', '\u0085', '\u009b', '\u009f', // C1
  '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', // bidi
  '\ufeff', '\ufffd', '\ufffe', '\uffff', '\u2028', '\u0301', // BOM, replacement, noncharacters, separators, a lone combining mark
  '😀', '👍🏽', '𝄞', '🇫🇷', '中', 'é', 'e\u0301', ' ', '/', '\\', '.', '"', '<', 'a', 'Z', '_', '-', '0',
];
/** Strings of 4-byte characters cut at every code unit, from either end. */
const cut = fc.tuple(fc.constantFrom('😀x👍🏽', 'a𝄞b', '🇫🇷', '😀'), fc.nat(8), fc.boolean())
  .map(([s, i, head]) => (head ? s.slice(0, i % (s.length + 1)) : s.slice(i % (s.length + 1))));
const piece = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 2, arbitrary: cut },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 6 }) },
);
const nasty = fc.array(piece, { maxLength: 10 }).map((a) => a.join(''));
/** Around a limit counted in characters: n-2..n+2 of a 1- or 2-unit character, maybe with a poison tail. */
const aroundLimit = (limit: number) => fc.tuple(fc.constantFrom('a', '😀', 'é', '\u202e'), fc.integer({ min: limit - 2, max: limit + 2 }),
  fc.constantFrom('', '', '\ud83d', '\u0000')).map(([ch, n, tail]) => ch.repeat(Math.max(0, n - (tail ? 1 : 0))) + tail);
const text = (limit: number) => fc.oneof({ weight: 5, arbitrary: nasty }, { weight: 1, arbitrary: aroundLimit(limit) });
const validId = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
/** Mostly valid ids (so the other fields of a write get judged too), else anything. */
const idish = fc.oneof({ weight: 3, arbitrary: validId }, { weight: 1, arbitrary: nasty }, { weight: 1, arbitrary: aroundLimit(64) });

const run = fc.record({
  title: fc.oneof(text(200), fc.constant('')),
  participant: idish,
  body: text(4000),
  clientMessageId: idish,
  mention: idish,
  edit: text(4000),
  readSuffix: fc.constantFrom('', '', '\ud800', '\u0000', '\udc00x', ' ', '\u202e'),
  newParticipant: idish,
  filename: text(255),
  contentType: fc.oneof(fc.constantFrom(...ALLOWED), fc.constantFrom(...ALLOWED).chain((t) => nasty.map((n) => t + n)), nasty),
  tz: fc.oneof(fc.constantFrom('Europe/Berlin', 'UTC'), nasty, nasty.map((n) => `Europe/Berlin${n}`)),
  pushEndpoint: fc.oneof(nasty.map((n) => `https://push.example/p/${n}`), nasty),
  email: fc.oneof(fc.constant('someone@example.com'), nasty.map((n) => `some${n}one@example.com`)),
  callbackReason: text(500),
});

// ---------------------------------------------------------------------------------------------

interface Accepted {
  user: User;
  threadId: string;
  title: string | null;
  messageId: string;
  body: string;
  readId?: string;
  participants: string[];
  attachment?: { id: string; filename: string; contentType: string };
}

test('every 2xx write reaches Postgres and the projections unchanged; every refused one is a 400 naming the field; no dead letter', { timeout: 180_000 }, async (t) => {
  const tenant = new Tenant(h.gw.api, h.auth, 'wv');
  h.tenants.add(tenant.id);
  const api = h.gw.api;
  const accepted: Accepted[] = [];
  let n = 0;
  let refused = 0;
  t.diagnostic(`seed ${SEED} (replay with CHORUS_PROPERTY_SEED=${SEED}), ${NUM_RUNS} runs`);

  await fc.assert(fc.asyncProperty(run, async (g) => {
    const user = await tenant.user(`u${n++}`);
    // Thread: title and participant ids.
    const th = await user.createThread([g.participant], g.title);
    const threadOk = judge('POST /api/threads', th, { title: verdict(titleOk(g.title)), participantIds: verdict(isId(g.participant)) }, 201);
    const thread = threadOk ? th.body.thread : await user.thread([], 'fallback');
    if (threadOk) assert.equal(thread.title, g.title === '' ? null : g.title, 'the 201 echoes the title');
    const a: Accepted = { user, threadId: thread.id, title: threadOk ? thread.title : 'fallback', messageId: '', body: '', participants: threadOk ? [g.participant] : [] };
    // Message: body, clientMessageId, mentions.
    const post = await user.post({ threadId: thread.id, body: g.body, clientMessageId: g.clientMessageId, mentions: [g.mention] });
    const postOk = judge('POST /api/messages', post, {
      body: verdict(bodyOk(g.body)), clientMessageId: verdict(isId(g.clientMessageId)), mentions: verdict(isId(g.mention)),
    }, 202);
    const message = postOk ? post.body.message : await user.say(thread.id, 'fallback');
    if (postOk) assert.equal(message.body, g.body);
    [a.messageId, a.body] = [message.id, message.body];
    // Edit.
    const edit = await user.edit(message.id, g.edit);
    if (judge('PATCH /api/messages/:id', edit, { body: verdict(bodyOk(g.edit)) }, 202)) a.body = g.edit;
    // Read mark (of the real message, or its id with something appended).
    const readId = message.id + g.readSuffix;
    const read = await api.post(`/api/threads/${thread.id}/read`, user.token, { lastReadMessageId: readId });
    if (judge('POST /api/threads/:id/read', read, { lastReadMessageId: verdict(isId(readId)) }, 202)) a.readId = readId;
    // Participant.
    const add = await user.addParticipant(thread.id, g.newParticipant);
    if (judge('POST /api/threads/:id/participants', add, { userId: verdict(isId(g.newParticipant)) }, 204)) a.participants.push(g.newParticipant);
    // Attachment declaration: file name and content type (stored at once, by the gateway).
    const att = await api.post('/api/attachments', user.token, { filename: g.filename, contentType: g.contentType, size: 10 });
    if (judge('POST /api/attachments', att, { filename: verdict(filenameOk(g.filename)), contentType: verdict(contentTypeOk(g.contentType)) }, 201)) {
      a.attachment = { id: att.body.attachment.id, filename: g.filename, contentType: g.contentType.trim().toLowerCase() };
    }
    // Notification preferences: a document stored as jsonb.
    const prefs = {
      channels: { inApp: true, email: false, push: true }, quietHours: { start: '22:00', end: '07:00', tz: g.tz },
      email: g.email, pushEndpoint: g.pushEndpoint, threads: { [thread.id]: 'mentions' },
    };
    const put = await api.request('PUT', '/api/notification-preferences', { token: user.token, json: prefs });
    const maybe = (s: string) => (storable(s) ? 'maybe' : 'bad');
    if (judge('PUT /api/notification-preferences', put, { 'quietHours.tz': maybe(g.tz), email: maybe(g.email), pushEndpoint: maybe(g.pushEndpoint) }, 200)) {
      const got = await api.get('/api/notification-preferences', user.token);
      assert.equal(got.status, 200);
      // A URL is kept as the URL parser reads it: without surrounding white space, tabs and line breaks.
      const url = g.pushEndpoint.trim().replace(/[\t\n\r]/g, '');
      assert.deepEqual([got.body.quietHours?.tz, got.body.email, got.body.pushEndpoint], [g.tz, g.email, url], 'preferences read back unchanged');
    }
    // A provider's status callback: free text that reaches Postgres text.
    const raw = JSON.stringify({ tenantId: tenant.id, notificationId: `ntf_${n}`, status: 'failed', reason: g.callbackReason });
    const cb = await api.request('POST', '/api/providers/email/callback', {
      raw, contentType: 'application/json', headers: { 'x-chorus-signature': sign(config.notify.email.callbackSecret ?? '', raw) },
    });
    judge('POST /api/providers/email/callback', cb, { reason: verdict(storable(g.callbackReason) && chars(g.callbackReason) <= 500) }, 204);
    for (const r of [th, post, edit, read, add, att, put, cb]) if (r.status === 400) refused++;
    accepted.push(a);
  }), { numRuns: NUM_RUNS, seed: SEED });

  t.diagnostic(`${accepted.length} runs, ${refused} refused writes`);
  assert.ok(refused > NUM_RUNS / 2, 'the generators reach the refusals');

  // Everything accepted is stored and projected, with the same text.
  await caughtUp(h.redis, tenant.id);
  for (const a of accepted) {
    const shown = (what: string) => `${what} of ${a.user.userId} (${JSON.stringify({ title: a.title, body: a.body.slice(0, 200) })})`;
    const [pg] = await withTenant(h.sql, tenant.id, (tx) => tx<{ title: string | null; body: string }[]>`
      select t.title, m.body from threads t join messages m on m.tenant_id = t.tenant_id and m.thread_id = t.id
      where t.tenant_id = ${tenant.id} and t.id = ${a.threadId} and m.id = ${a.messageId}`);
    assert.deepEqual(pg, { title: a.title, body: a.body }, shown('Postgres rows'));
    const members = await withTenant(h.sql, tenant.id, (tx) => tx<{ user_id: string }[]>`
      select user_id from thread_participants where tenant_id = ${tenant.id} and thread_id = ${a.threadId} and removed_at is null`);
    assert.deepEqual(new Set(members.map((m) => m.user_id)), new Set([a.user.userId, ...a.participants]), shown('participants'));
    const tl = await a.user.timeline(a.threadId);
    assert.equal(tl.status, 200);
    assert.equal(tl.body.messages[0]?.body, a.body, shown('timeline body'));
    const inbox = await a.user.api.get('/api/inbox', a.user.token);
    const row = (inbox.body.threads as Record<string, unknown>[]).find((x) => x['threadId'] === a.threadId);
    assert.ok(row, shown('inbox row'));
    assert.equal(row['title'], a.title, shown('inbox title'));
    assert.equal(row['lastPreviewText'], preview(a.body), shown('inbox preview'));
    if (a.readId) assert.equal(row['lastReadMessageId'], a.readId, shown('read mark'));
    if (a.attachment) {
      const got = await a.user.api.get(`/api/attachments/${a.attachment.id}`, a.user.token);
      assert.equal(got.status, 200, got.text);
      assert.deepEqual([got.body.attachment.filename, got.body.attachment.contentType], [a.attachment.filename, a.attachment.contentType], shown('attachment'));
    }
  }
  for (const group of READ_MODEL_GROUPS) {
    assert.deepEqual(await listDeadLetters(h.redis, tenant.id, group), [], `no dead letter in ${group}`);
  }
});
