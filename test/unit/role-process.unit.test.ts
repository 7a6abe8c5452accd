// The supervisor's RoleProcess: background roles (processors, workers) start at the configured
// niceness, realtime roles (gateways) at the supervisor's own; node arguments reach the child.
import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { createLogger } from '../../core/logger.js';
import { RoleProcess } from '../../ops/role-process.js';
import type { RoleSpec } from '../../ops/roles.js';
import { waitFor } from '../support/api.js';

const log = createLogger({ role: 'test', level: 'fatal' });
const spec = (background: boolean): RoleSpec => ({ name: 'idle', script: 'test/support/idle-role.js', args: [], copies: () => 1, background });

async function started(background: boolean, nice: number, nodeArgs: string[] = []): Promise<RoleProcess> {
  const r = new RoleProcess(spec(background), 0, 1, process.env, nodeArgs, nice, log, () => undefined);
  r.start();
  await waitFor('the child', async () => r.pid !== undefined);
  return r;
}

test('a background role runs at CHORUS_BACKGROUND_NICE, a realtime role at the supervisor\'s priority', async () => {
  const own = os.getPriority();
  const bg = await started(true, 5);
  const rt = await started(false, 5);
  try {
    // Absolute niceness 5; a supervisor already nicer than that (and not root) cannot lower it.
    assert.ok([5, Math.max(own, 5)].includes(os.getPriority(bg.pid!)), `niceness ${os.getPriority(bg.pid!)}`);
    assert.equal(os.getPriority(rt.pid!), own);
  } finally {
    await Promise.all([bg.stop(5000), rt.stop(5000)]);
  }
});

test('CHORUS_BACKGROUND_NICE=0 leaves a background role at normal priority', async () => {
  const r = await started(true, 0);
  try {
    assert.equal(os.getPriority(r.pid!), os.getPriority());
  } finally {
    await r.stop(5000);
  }
});
