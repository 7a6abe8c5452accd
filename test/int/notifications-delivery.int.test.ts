// Delivery guarantees of the notification channels against the real SMTP and push sinks: the retry
// schedule (exponential backoff with jitter), the dead letters after the last attempt and their
// replay, permanent failures, the circuit breaker opening and closing, idempotency under duplicated
// jobs, and a slow email provider that delays nothing but email.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Config } from '../../config/index.js';
import { createLogger } from '../../core/logger.js';
import { EVENT, encodeEvent, type MessageJob } from '../../core/events/index.js';
import { keys } from '../../core/keys.js';
import { metrics } from '../../core/metrics.js';
import { listNotifyDeadLetters } from '../../workers/notify/dlq.js';
import { notificationIdOf, previewOf } from '../../workers/notify/jobs.js';
import { REPO_ROOT, testEnv } from '../support/env.js';
import {
  config as baseConfig, waitFor, sleep, Tenant, type MessageBody, type User,
} from '../support/api.js';
import {
  attemptsOf, breakerState, mailsOf, notifyTestConfig, pushesOf, setSink, startNotifyGroups, useNotifyStack,
} from '../support/notify.js';

const PREFIX = 'ndl';
const log = createLogger({ role: 'test', level: 'fatal' });
const RETRY = { baseMs: 200, factor: 2, capMs: 2000, maxAttempts: 6 };
const config = notifyTestConfig(baseConfig, { retry: RETRY });
const { stack } = useNotifyStack({ prefix: PREFIX, config, log, sql: { max: 8, app: 'test-notify-delivery' } });

async function pair(prefix = PREFIX): Promise<{ t: Tenant; alice: User; bob: User }> {
  const t = new Tenant(stack.gw.api, stack.auth, prefix);
  const [alice, bob] = await Promise.all([t.user('alice'), t.user('bob')]);
  const r = await bob.api.request('PUT', '/api/notification-preferences', {
    token: bob.token, json: { channels: { inApp: true, email: true, push: true }, email: 'bob@example.test', pushEndpoint: 'https://push.example.test/bob' },
  });
  assert.equal(r.status, 200, r.text);
  return { t, alice, bob };
}

async function explainOf(u: User, messageId: string, channel: string) {
  const r = await u.api.get(`/api/notifications/explain?messageId=${messageId}`, u.token);
  assert.equal(r.status, 200, r.text);
  return r.body.channels[channel] as { channel: string; status: string; reason: string; attempts: number };
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/ops/cli.js'), ...args], { env: testEnv({ CHORUS_DATA_DIR: config.dataDir, LOG_LEVEL: 'warn' }) });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('retry schedule: transient failures are retried with exponential backoff and jitter, then delivered once', async () => {
  const { t, alice, bob } = await pair();
  setSink(config, 'smtp-sink', { tenant: t.id, fail: 'transient', failCount: 3 });
  const m = await alice.say((await alice.thread(['bob'])).id, 'retry me');
  const e = await waitFor('the email after three failures', async () => {
    const x = await explainOf(bob, m.id, 'email');
    return x.status === 'sent' ? x : undefined;
  }, 15_000);
  assert.equal(e.attempts, 4);
  const attempts = attemptsOf(config, 'smtp-sink', t.id);
  assert.deepEqual(attempts.map((a) => a.outcome), ['failed_transient', 'failed_transient', 'failed_transient', 'stored']);
  assert.equal(new Set(attempts.map((a) => a.key)).size, 1, 'one Message-ID for every attempt');
  const times = attempts.map((a) => Date.parse(a.at));
  for (let i = 1; i < times.length; i++) {
    const full = Math.min(RETRY.capMs, RETRY.baseMs * RETRY.factor ** (i - 1));
    const gap = times[i]! - times[i - 1]!;
    // backoffDelay is uniform in [d/2, d]; the tick (25 ms), the read and the SMTP round trip come on top.
    assert.ok(gap >= full / 2 - 5 && gap <= full + 300, `retry ${i}: waited ${gap} ms, expected ${full / 2}..${full} ms (+ overhead)`);
  }
  assert.equal(mailsOf(config, t.id).length, 1);
  setSink(config, 'smtp-sink', {});
});

test('dead letters after the last attempt, with a structured reason; replay through the CLI delivers', async () => {
  const { t, alice, bob } = await pair();
  setSink(config, 'push-sink', { tenant: t.id, fail: 'transient' });
  const m = await alice.say((await alice.thread(['bob'])).id, 'doomed push');
  const e = await waitFor('the push to fail for good', async () => {
    const x = await explainOf(bob, m.id, 'push');
    return x.status === 'failed' ? x : undefined;
  }, 20_000);
  assert.deepEqual([e.reason, e.attempts], ['failed', RETRY.maxAttempts]);
  await sleep(500);
  assert.equal(attemptsOf(config, 'push-sink', t.id).length, RETRY.maxAttempts, 'no attempt after the last');
  const [dead, ...more] = await listNotifyDeadLetters(stack.redis, t.id, 'push');
  assert.equal(more.length, 0);
  assert.equal(dead!.reason?.['code'], 'max_attempts');
  assert.equal(dead!.reason?.['attempts'], RETRY.maxAttempts);
  assert.equal(dead!.reason?.['channel'], 'push');
  assert.match(String(dead!.reason?.['lastError']), /503/);
  assert.equal(dead!.job?.kind === 'message' && dead!.job.messageId, m.id);

  const listed = await cli(['notify-dlq', 'list', '--tenant', t.id, '--channel', 'push']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(JSON.parse(listed.stdout.trim()).id, dead!.id);
  const shown = await cli(['notify-dlq', 'show', '--tenant', t.id, '--channel', 'push', '--id', dead!.id]);
  assert.equal(JSON.parse(shown.stdout).reason.code, 'max_attempts');

  setSink(config, 'push-sink', {});
  const replayed = await cli(['notify-dlq', 'replay', '--tenant', t.id, '--channel', 'push']);
  assert.equal(replayed.code, 0, replayed.stderr);
  assert.equal(JSON.parse(replayed.stdout.trim()).deadLetter, dead!.id);
  const sent = await waitFor('the replayed push', async () => {
    const x = await explainOf(bob, m.id, 'push');
    return x.status === 'sent' ? x : undefined;
  }, 10_000);
  assert.equal(sent.reason, 'sent_via_push');
  assert.equal(pushesOf(config, t.id).length, 1);
  assert.equal((await listNotifyDeadLetters(stack.redis, t.id, 'push')).length, 0);
  const again = await cli(['notify-dlq', 'replay', '--tenant', t.id, '--channel', 'push', '--id', dead!.id]);
  assert.equal(again.code, 1, 'a dead letter is replayed once');
});

test('a permanent refusal goes to the dead letters at once, without retries', async () => {
  const { t, alice, bob } = await pair();
  setSink(config, 'smtp-sink', { tenant: t.id, fail: 'permanent' });
  const m = await alice.say((await alice.thread(['bob'])).id, 'bounce');
  const e = await waitFor('the permanent failure', async () => {
    const x = await explainOf(bob, m.id, 'email');
    return x.status === 'failed' ? x : undefined;
  }, 10_000);
  assert.equal(e.attempts, 1);
  const [dead] = await listNotifyDeadLetters(stack.redis, t.id, 'email');
  assert.equal(dead!.reason?.['code'], 'permanent_failure');
  assert.equal(dead!.reason?.['errorCode'], 'smtp_550');
  setSink(config, 'smtp-sink', {});
});

test('redelivered and duplicated jobs never send twice (outcome marker, Message-ID, once-only in-app event)', async () => {
  const { t, alice, bob } = await pair();
  const th = await alice.thread(['bob']);
  const m = await alice.say(th.id, 'only once');
  await waitFor('the first delivery', async () => (await explainOf(bob, m.id, 'email')).status === 'sent', 10_000);
  // The same jobs appended again, as a crash between send and ack would redeliver them.
  for (const channel of ['inApp', 'email', 'push'] as const) {
    const job: MessageJob = {
      kind: 'message', channel, userId: 'bob', attempt: 0, enqueuedAt: Date.now(), notificationId: notificationIdOf(m.id, 'bob'),
      messageId: m.id, threadId: th.id, seq: m.seq, senderId: 'alice', preview: previewOf(m.body), urgent: true, mention: false, direct: true, title: null,
    };
    for (let i = 0; i < 3; i++) await stack.redis.xadd(keys.notifyQueue(t.id, channel), '*', ...encodeEvent({ type: EVENT.notificationJob, data: job }));
  }
  await sleep(1000);
  assert.equal(mailsOf(config, t.id).length, 1);
  assert.equal(pushesOf(config, t.id).length, 1);
  assert.equal(attemptsOf(config, 'smtp-sink', t.id).length, 1, 'the outcome marker stops a repeat before the provider');
  const events = (await stack.redis.xrange(keys.events(t.id), '-', '+')).filter(([, f]) => f.includes(EVENT.notificationCreated));
  assert.equal(events.length, 1, 'one notification.created');
});

test('a slow email provider (5 s per mail) delays neither in-app nor push', async () => {
  const { t, alice, bob } = await pair();
  setSink(config, 'smtp-sink', { tenant: t.id, delayMs: 5000 });
  try {
    const th = await alice.thread(['bob']);
    const started = Date.now();
    const ms = [await alice.say(th.id, 'first'), await alice.say(th.id, 'second')];
    const inApp = await waitFor('both in-app notifications', async () => {
      const r = await bob.api.get('/api/notifications', bob.token);
      return r.body.notifications.length === 2 ? Date.now() - started : undefined;
    }, 5000, 20);
    const push = await waitFor('both pushes', async () => (pushesOf(config, t.id).length === 2 ? Date.now() - started : undefined), 5000, 20);
    assert.ok(inApp < 1500 && push < 1500, `in-app after ${inApp} ms, push after ${push} ms`);
    assert.equal(mailsOf(config, t.id).length, 0, 'the emails are still on their way');
    for (const m of ms) assert.equal((await explainOf(bob, m.id, 'email')).status, 'queued');
    await waitFor('both emails', async () => mailsOf(config, t.id).length === 2, 15_000, 100);
    assert.ok(Date.now() - started >= 5000);
  } finally {
    setSink(config, 'smtp-sink', {});
  }
});

test('circuit breaker: sustained failures open it (calls stop, alert raised), a probe after the open period closes it', async () => {
  const bconfig: Config = notifyTestConfig(baseConfig, {
    retry: { baseMs: 50, factor: 2, capMs: 200, maxAttempts: 50 }, breaker: { threshold: 3, openMs: 1500, alertAfterMs: 300 },
  });
  const provider = bconfig.notify.email.provider;
  const bgroups = await startNotifyGroups(bconfig, stack.sql, log, (x) => x.startsWith('nbr_'));
  try {
    const { t, alice, bob } = await pair('nbr');
    setSink(config, 'smtp-sink', { tenant: t.id, fail: 'transient' });
    const th = await alice.thread(['bob']);
    const ms: MessageBody[] = [];
    for (let i = 0; i < 5; i++) ms.push(await alice.say(th.id, `message ${i}`));
    await waitFor('the breaker to open', async () => (await breakerState(stack.redis, provider)) === 'open', 10_000, 20);
    const openedAt = Date.now();
    await sleep(50); // calls already under way when it opened still finish
    const opened = attemptsOf(config, 'smtp-sink', t.id).length;
    await sleep(1000); // inside the open period: nothing reaches the provider
    const during = attemptsOf(config, 'smtp-sink', t.id);
    assert.ok(during.length <= opened + 1, `the provider is left alone while the breaker is open: ${opened} then ${JSON.stringify(during.map((a) => [a.at, a.outcome]))} (opened at ${new Date(openedAt).toISOString()})`);
    assert.equal((await metrics.notifyProviderAlert.get()).values.find((v) => v.labels['provider'] === provider)?.value, 1, 'alert raised');
    // Without the breaker these retries (50 ms base, 200 ms cap) would have called the provider dozens of times.
    assert.ok(opened < 15, `${opened} calls before it opened`);
    const before = attemptsOf(config, 'smtp-sink', t.id).length;
    await waitFor('a failed probe to open it again', async () => attemptsOf(config, 'smtp-sink', t.id).length > before, 5000, 50);
    assert.equal(await breakerState(stack.redis, provider), 'open');

    setSink(config, 'smtp-sink', {});
    await waitFor('the breaker to close', async () => (await breakerState(stack.redis, provider)) === 'closed', 10_000, 50);
    await waitFor('every email', async () => mailsOf(config, t.id).length === ms.length, 10_000, 50);
    // The status follows the handoff by the batch's status write.
    await waitFor('every email status to be sent', async () => {
      for (const m of ms) if ((await explainOf(bob, m.id, 'email')).status !== 'sent') return false;
      return true;
    }, 5000, 50);
    const transitions = (await metrics.notifyBreakerTransitions.get()).values.filter((v) => v.labels['provider'] === provider);
    for (const to of ['open', 'half_open', 'closed']) assert.ok(transitions.some((v) => v.labels['to'] === to && v.value > 0), `a transition to ${to}`);
    assert.equal((await metrics.notifyProviderAlert.get()).values.find((v) => v.labels['provider'] === provider)?.value, 0, 'alert cleared');
    assert.equal(new Set(mailsOf(config, t.id).map((x) => x.messageId)).size, ms.length, 'each exactly once');
  } finally {
    setSink(config, 'smtp-sink', {});
    await Promise.all(bgroups.map((g) => g.stop()));
  }
});
