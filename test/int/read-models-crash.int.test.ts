// The read models under kill -9: random traffic while the projector (or, in the separate-groups
// shape, the counters) consumer is killed with SIGKILL mid-processing and restarted; once caught up,
// the unread counters and the inbox projection equal a recomputation from the messages table, and at
// least one kill left entries pending that the restarted consumer redelivered (exactly-once effect).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '../../core/keys.js';
import { config, log } from '../support/api.js';
import { spawnRole, type RoleProcess } from '../support/env.js';
import { Traffic, actualState, caughtUp, expectedState, people, rng, startGroups, stopGroups } from '../support/read-models.js';
import { useStack } from '../support/stack.js';

const unlimited = { rate: 0, burst: 1 };
const stack = useStack({
  prefix: 'kill',
  gateways: [{ rateLimits: { messageUser: unlimited, messageTenant: unlimited, emitUser: unlimited, emitTenant: unlimited, presenceReadUser: unlimited, devTokenClient: unlimited } }],
  sql: { max: 10, app: 'test-read-models-crash' },
});

// The consumer killed: the projector (every read model in one transaction), or counters beside the other three groups.
for (const victimGroup of ['projector', 'counters'] as const) {
  test(`kill -9 of the ${victimGroup} consumer mid-processing, then a restart: counters stay exact`, async () => {
    const seed = Number(process.env['CHORUS_TEST_SEED'] ?? (Date.now() + 1) % 1e9);
    const t = stack.tenant('kill');
    const { redis, sql } = stack;
    const others = victimGroup === 'projector' ? [] : (['persist', 'inbox', 'receipts'] as const);
    const groups = await startGroups(config, sql, log, (x) => x === t.id, others);
    const env = {
      CHORUS_DATA_DIR: config.dataDir, LOG_LEVEL: 'info', CHORUS_PROCESSOR_BATCH: '5',
      CHORUS_CLAIM_IDLE_MS: '500', CHORUS_CLAIM_INTERVAL_MS: '200',
    };
    const start = async () => {
      const p = spawnRole(['processors/main', victimGroup, '--consumers', '2'], env);
      await p.waitForLog((e) => e['msg'] === 'processor group started', 20_000);
      return p;
    };
    let proc: RoleProcess | undefined = await start();
    let killsWithPending = 0;
    try {
      const { users, admin } = await people(t, 5);
      const traffic = new Traffic(users, admin, rng(seed));
      await traffic.run(360, 4, async (done) => {
        if (done % 90 !== 0 || !proc) return;
        const victim = proc;
        proc = undefined;
        victim.kill('SIGKILL');
        await victim.exited;
        const pending = (await redis.xpending(keys.events(t.id), victimGroup)) as [number, ...unknown[]];
        if (Number(pending[0]) > 0) killsWithPending++;
        proc = await start();
      });
      traffic.assertNoServerErrors();
      // The kills above may all have landed between batches; then make one land inside a batch: a
      // burst the consumer is busy with, killed at once.
      for (let attempt = 0; killsWithPending === 0 && attempt < 10 && proc; attempt++) {
        const [threadId, members] = [...traffic.threads].find(([, m]) => m.size > 0)!;
        const senders = users.filter((u) => members.has(u.userId));
        await Promise.all(Array.from({ length: 60 }, (_, k) => senders[k % senders.length]!.say(threadId, `burst ${attempt}-${k}`)));
        const victim: RoleProcess = proc;
        victim.kill('SIGKILL');
        await victim.exited;
        const pending = (await redis.xpending(keys.events(t.id), victimGroup)) as [number, ...unknown[]];
        if (Number(pending[0]) > 0) killsWithPending++;
        proc = await start();
      }
      await caughtUp(redis, t.id, [...others, victimGroup], 60_000);
      assert.deepEqual(await actualState(sql, t.id), await expectedState(sql, t.id), `seed ${seed}`);
      assert.ok(killsWithPending > 0, 'at least one kill left entries pending (redelivered after the restart)');
    } finally {
      proc?.kill('SIGTERM');
      await proc?.exited;
      await stopGroups(groups);
    }
  });
}
