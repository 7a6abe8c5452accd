// Bounded Redis memory (issue 12, move 7): what a message leaves in Redis besides its stream entries
// (the metadata hash, the idempotency key, the in-app once-only markers of its recipients) expires
// within the replay window, CHORUS_STREAM_RETENTION_MS; the streams themselves are trimmed to it. So
// Redis holds the retention window's messages, not every message ever sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../core/logger.js';
import { config as baseConfig, waitFor } from '../support/api.js';
import { notifyTestConfig, useNotifyStack } from '../support/notify.js';

const PREFIX = 'rmem';
const config = notifyTestConfig(baseConfig);
const { stack } = useNotifyStack({ prefix: PREFIX, config, log: createLogger({ role: 'test', level: 'fatal' }), sql: { max: 4, app: 'test-redis-memory' } });

async function tenantKeys(tenantId: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await stack.redis.scan(cursor, 'MATCH', `chorus:{${tenantId}}:*`, 'COUNT', 500);
    out.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

test('no key a message leaves in Redis outlives the replay window (CHORUS_STREAM_RETENTION_MS)', async () => {
  const t = stack.tenant();
  const [alice, bob, carol] = await Promise.all([t.user('alice'), t.user('bob'), t.user('carol')]);
  const th = await alice.thread(['bob', 'carol']);
  const before = new Set(await tenantKeys(t.id));
  await alice.say(th.id, 'what does this cost', { clientMessageId: 'c-1' });
  for (const u of [bob, carol]) {
    await waitFor(`${u.userId}'s in-app notification`, async () => (await u.api.get('/api/notifications', u.token)).body.notifications.length === 1, 10_000);
  }
  // The feed row comes before the event and its markers (row first): wait for the markers too.
  const added = await waitFor('the in-app markers', async () => {
    const now = (await tenantKeys(t.id)).filter((k) => !before.has(k));
    return now.filter((k) => k.includes(':notify:done:')).length === 2 ? now : undefined;
  }, 10_000);
  const windowS = config.streams.retentionMs / 1000;
  const perMessage: string[] = [];
  for (const k of added) {
    if ((await stack.redis.type(k)) === 'stream') continue; // trimmed to the window by the trimmers
    const ttl = await stack.redis.ttl(k);
    assert.ok(ttl > 0 && ttl <= windowS, `${k}: TTL ${ttl} s, the replay window is ${windowS} s`);
    perMessage.push(k);
  }
  // The check saw what it is about: the metadata hash, the idempotency key, a marker per recipient
  // (and the sender's rate-limit buckets, which expire once full again).
  assert.equal(perMessage.filter((k) => k.includes(':msg:m_')).length, 1, added.join('\n'));
  assert.equal(perMessage.filter((k) => k.includes(':idem:')).length, 1, perMessage.join('\n'));
  assert.equal(perMessage.filter((k) => k.includes(':notify:done:')).length, 2, perMessage.join('\n'));
});
