// Dead letters of the notification channels (`chorus:{t}:dlq:notify-<channel>`): jobs whose last
// attempt failed or whose provider refused them for good, each with its structured reason. A replay
// puts the job back on its channel queue with a fresh attempt budget and clears its "dead" outcome
// marker, in one script, so that two operators replaying the same entry enqueue it once.
import { EVENT, InvalidEventError, decodePayload, type Job } from '../../core/events/index.js';
import type { Seq } from '../../core/seq.js';
import type { RedisClient } from '../../core/redis.js';
import { listDeadLetters, moveDeadLetter, type DeadLetterEntry } from '../../core/stream-commands.js';
import { groupOf, queueOf, type Channel } from './channels.js';
import { outcomeKey } from './queue.js';

export interface NotifyDeadLetter extends DeadLetterEntry {
  channel: Channel;
  job: Job | null;
}

function withJob(channel: Channel, e: DeadLetterEntry): NotifyDeadLetter {
  let job: Job | null = null;
  try {
    job = decodePayload(EVENT.notificationJob, e.data, { seq: e.seq as Seq, v: e.v });
  } catch (err) {
    if (!(err instanceof InvalidEventError)) throw err;
    job = null; // a malformed entry is listed as it is; it cannot be replayed
  }
  return { ...e, channel, job };
}

export async function listNotifyDeadLetters(r: RedisClient, tenantId: string, channel: Channel, count = 100): Promise<NotifyDeadLetter[]> {
  return (await listDeadLetters(r, tenantId, groupOf(channel), count)).map((e) => withJob(channel, e));
}

export async function showNotifyDeadLetter(r: RedisClient, tenantId: string, channel: Channel, id: string): Promise<NotifyDeadLetter | null> {
  const [e] = await listDeadLetters(r, tenantId, groupOf(channel), 1, { from: id, to: id });
  return e ? withJob(channel, e) : null;
}

/** Puts one dead letter back on its queue (attempts reset); null when it does not exist or cannot be parsed. */
export async function replayNotifyDeadLetter(r: RedisClient, tenantId: string, channel: Channel, id: string): Promise<string | null> {
  const e = await showNotifyDeadLetter(r, tenantId, channel, id);
  if (!e?.job) return null;
  const job: Job = { ...e.job, attempt: 0, enqueuedAt: Date.now() };
  return moveDeadLetter(r, tenantId, groupOf(channel), id, queueOf(channel),
    { type: EVENT.notificationJob, data: JSON.stringify(job) }, [outcomeKey(tenantId, job)]);
}
