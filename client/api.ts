// The REST calls of the contract (docs/protocol.md §4), typed. Writes that are safe to repeat are
// marked idempotent so that http.ts retries them after network errors and 5xx: messages always
// carry a `clientMessageId` (one is made when the caller gives none), read marks are absolute.

import { ChorusApiError, putBytes, type HttpClient, type UploadBody } from './http.js';
import type { InboxPage, Message, PresenceState, SyncSnapshot, Thread } from './types.js';

export interface PageQuery { limit?: number; cursor?: string | null }
export interface SendInput { threadId: string; body: string; clientMessageId?: string; mentions?: string[]; attachmentIds?: string[] }
export interface AttachmentCreated {
  attachment: { id: string; status: string };
  upload: { url: string; method: 'PUT'; headers: Record<string, string>; expiresAt: string } | null;
}

const enc = encodeURIComponent;

function query(q: Record<string, string | number | null | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** A fresh id for `clientMessageId` (crypto.randomUUID exists in browsers and Node 19+). */
export function newClientMessageId(): string {
  return `c-${globalThis.crypto.randomUUID()}`;
}

export class RestApi {
  constructor(private readonly http: HttpClient) {}

  // Threads
  async createThread(participantIds: string[], title?: string): Promise<Thread> {
    return (await this.http.call<{ thread: Thread }>('POST', '/api/threads', { body: { participantIds, ...(title !== undefined ? { title } : {}) } })).thread;
  }
  async thread(threadId: string): Promise<Thread> {
    return (await this.http.call<{ thread: Thread }>('GET', `/api/threads/${enc(threadId)}`)).thread;
  }
  async addParticipant(threadId: string, userId: string): Promise<void> {
    await this.http.call('POST', `/api/threads/${enc(threadId)}/participants`, { body: { userId }, idempotent: true });
  }
  async removeParticipant(threadId: string, userId: string): Promise<void> {
    await this.http.call('DELETE', `/api/threads/${enc(threadId)}/participants/${enc(userId)}`);
  }

  // Messages
  /** Sends a message; retried with the same `clientMessageId` until accepted, so never duplicated. */
  async sendMessage(input: SendInput): Promise<Message> {
    const body = { ...input, clientMessageId: input.clientMessageId ?? newClientMessageId() };
    return (await this.http.call<{ message: Message }>('POST', '/api/messages', { body, idempotent: true })).message;
  }
  async editMessage(messageId: string, body: string): Promise<Message> {
    return (await this.http.call<{ message: Message }>('PATCH', `/api/messages/${enc(messageId)}`, { body: { body }, idempotent: true })).message;
  }
  async deleteMessage(messageId: string): Promise<void> {
    await this.http.call('DELETE', `/api/messages/${enc(messageId)}`);
  }
  timeline(threadId: string, q: PageQuery = {}): Promise<{ messages: Message[]; nextCursor: string | null }> {
    return this.http.call('GET', `/api/threads/${enc(threadId)}/messages${query({ ...q })}`);
  }

  // Read state, inbox, sync, presence
  async markRead(threadId: string, lastReadMessageId: string): Promise<void> {
    await this.http.call('POST', `/api/threads/${enc(threadId)}/read`, { body: { lastReadMessageId }, idempotent: true });
  }
  inbox(q: PageQuery = {}): Promise<InboxPage> {
    return this.http.call('GET', `/api/inbox${query({ ...q })}`);
  }
  sync(): Promise<SyncSnapshot> {
    return this.http.call('GET', '/api/sync');
  }
  async presence(userIds: string[]): Promise<PresenceState[]> {
    return (await this.http.call<{ users: PresenceState[] }>('GET', `/api/presence${query({ userIds: userIds.join(',') })}`)).users;
  }

  // Notifications
  notifications(q: PageQuery = {}): Promise<{ notifications: Record<string, unknown>[]; nextCursor: string | null }> {
    return this.http.call('GET', `/api/notifications${query({ ...q })}`);
  }
  async markNotificationRead(id: string): Promise<void> {
    await this.http.call('POST', `/api/notifications/${enc(id)}/read`, { idempotent: true });
  }
  notificationPreferences(): Promise<Record<string, unknown>> {
    return this.http.call('GET', '/api/notification-preferences');
  }
  setNotificationPreferences(prefs: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.http.call('PUT', '/api/notification-preferences', { body: prefs });
  }
  explainNotification(messageId: string): Promise<Record<string, unknown>> {
    return this.http.call('GET', `/api/notifications/explain${query({ messageId })}`);
  }

  // Attachments: create, PUT the bytes to `upload.url` (when not null), then complete.
  createAttachment(input: { filename: string; contentType: string; size: number; sha256?: string }): Promise<AttachmentCreated> {
    return this.http.call('POST', '/api/attachments', { body: input });
  }
  completeAttachment(id: string): Promise<{ attachment: { id: string; status: string } }> {
    return this.http.call('POST', `/api/attachments/${enc(id)}/complete`, { idempotent: true });
  }
  attachment(id: string): Promise<{ attachment: Record<string, unknown> }> {
    return this.http.call('GET', `/api/attachments/${enc(id)}`);
  }

  /**
   * The three steps at once: create (with the bytes' SHA-256, which the server checks), PUT the
   * bytes to the signed URL, complete. Resolves with the id once the upload is `uploaded`; the
   * scan follows (`attachment.ready` / `attachment.rejected` on the websocket).
   */
  async uploadAttachment(input: { filename: string; contentType: string; bytes: UploadBody }): Promise<{ id: string; status: string }> {
    const buf = input.bytes instanceof Blob ? await input.bytes.arrayBuffer() : input.bytes;
    const size = buf.byteLength;
    const digest = await globalThis.crypto.subtle.digest('SHA-256', buf instanceof Uint8Array ? new Uint8Array(buf) : buf);
    const sha256 = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
    const created = await this.createAttachment({ filename: input.filename, contentType: input.contentType, size, sha256 });
    if (!created.upload) return created.attachment;
    await putBytes(this.http.fetchImpl, created.upload.url, created.upload.headers, input.bytes);
    try {
      return (await this.completeAttachment(created.attachment.id)).attachment;
    } catch (err) {
      // A retried complete whose first try landed: the attachment has already moved on.
      const status = err instanceof ChorusApiError && err.status === 409 ? (err.details as { status?: unknown } | undefined)?.status : undefined;
      if (typeof status === 'string' && status !== 'pending_upload') return { id: created.attachment.id, status };
      throw err;
    }
  }
}
