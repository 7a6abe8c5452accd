// Request shapes of the write path (zod). Ids follow the contract's pattern; message bodies are
// counted in characters (code points), 1–4000, and may not contain NUL (Postgres text cannot).
import { z } from 'zod';
import { ID_RE } from '../core/ids.js';

export const Id = z.string().regex(ID_RE, 'must match ^[A-Za-z0-9_-]{1,64}$');

export const MAX_BODY_CHARS = 4000;
export const MAX_ATTACHMENTS = 10;
export const MAX_MENTIONS = 100;
export const MAX_TITLE_CHARS = 200;

const charCount = (s: string) => [...s].length;

export const Body = z
  .string()
  .refine((s) => charCount(s) >= 1, 'must have at least 1 character')
  .refine((s) => charCount(s) <= MAX_BODY_CHARS, `must have at most ${MAX_BODY_CHARS} characters`)
  .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

export const CreateThread = z.object({
  title: z
    .string()
    .refine((s) => charCount(s) <= MAX_TITLE_CHARS, `must have at most ${MAX_TITLE_CHARS} characters`)
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters')
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
