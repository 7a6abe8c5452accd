// What an email or push says: subject and text of one message's notification or of a digest.
import type { DigestItem, Job } from '../../core/events/index.js';

export interface Content {
  subject: string;
  text: string;
}

function where(title: string | null): string {
  return title ? `"${title}"` : 'a conversation';
}

export function render(job: Job, items: DigestItem[] = []): Content {
  if (job.kind === 'message') {
    const subject = job.mention
      ? `${job.senderId} mentioned you in ${where(job.title)}`
      : job.direct ? `New message from ${job.senderId}` : `New message in ${where(job.title)}`;
    return { subject, text: `${job.senderId}: ${job.preview}\n\n(thread ${job.threadId}, message ${job.messageId})\n` };
  }
  const more = Math.max(0, job.total - items.length);
  const lines = items.map((i) => `- ${i.senderId}: ${i.preview} (thread ${i.threadId})`);
  if (more > 0) lines.push(`…and ${more} more`);
  const n = items.length + more;
  return { subject: `${n} new message${n === 1 ? '' : 's'} while you were away`, text: `${lines.join('\n')}\n` };
}
