// Request shapes of the write path (zod). Every string a write hands on to be stored passes
// `storedText` (core/fields.ts) before the 202: ids follow the contract's pattern; message bodies are
// counted in characters (code points), 1–4000; titles at most 200.
import { z } from 'zod';
import { charCount, Id, StoredText } from '../core/fields.js';

export const MAX_BODY_CHARS = 4000;
export const MAX_ATTACHMENTS = 10;
export const MAX_MENTIONS = 100;
export const MAX_TITLE_CHARS = 200;

export const Body = StoredText
  .refine((s) => charCount(s) >= 1, 'must have at least 1 character')
  .refine((s) => charCount(s) <= MAX_BODY_CHARS, `must have at most ${MAX_BODY_CHARS} characters`);

export const CreateThread = z.object({
  title: StoredText
    .refine((s) => charCount(s) <= MAX_TITLE_CHARS, `must have at most ${MAX_TITLE_CHARS} characters`)
    .nullable()
    .optional(),
  participantIds: z.array(Id),
  tenantId: z.string().optional(),
});

export const AddParticipant = z.object({ userId: Id, tenantId: z.string().optional() });

export const PostMessage = z.object({
  threadId: Id,
  body: Body,
  clientMessageId: Id.optional(),
  mentions: z.array(Id).max(MAX_MENTIONS).optional(),
  attachmentIds: z.array(Id).max(MAX_ATTACHMENTS, `at most ${MAX_ATTACHMENTS} attachments`).optional(),
  tenantId: z.string().optional(),
});

export const EditMessage = z.object({ body: Body, tenantId: z.string().optional() });
