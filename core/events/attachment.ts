// Attachment events. The pipeline's own stream (keys.attachmentWork) carries the internal stage
// events, each naming one attachment; the uploader is told how it ended on the tenant stream
// (attachment.ready / attachment.rejected, routed with u = [uploader]).
import { isId } from '../ids.js';
import { fail, str, type EntryRef, type Payload } from './invalid.js';
import type { EventSpec } from './spec.js';

/** attachment.uploaded: the bytes are in quarantine, to be scanned. */
export interface AttachmentUploaded {
  id: string;
}

/**
 * attachment.scanned and attachment.validated: the stage passed, for the bytes of this hash (the
 * row may not show the earlier stage yet: each stage appends its event before updating the row).
 */
export interface AttachmentChecked {
  id: string;
  sha256: string;
}

export interface AttachmentReady {
  id: string;
  status: 'ready';
  filename: string;
  contentType: string;
  size: number;
  sha256: string | null;
  thumbnail?: { width: number; height: number };
}

export interface AttachmentRejected {
  id: string;
  status: 'rejected';
  filename: string;
  rejectReason: string | null;
}

const SHA256_RE = /^[0-9a-f]{64}$/;

function checkId(d: Payload, e: EntryRef): void {
  if (!isId(d['id'])) fail(e, 'id must be an attachment id');
}

function checkChecked(d: Payload, e: EntryRef): AttachmentChecked {
  checkId(d, e);
  const sha = d['sha256'];
  if (typeof sha !== 'string' || !SHA256_RE.test(sha)) fail(e, 'sha256 must be 64 hex digits');
  return d as unknown as AttachmentChecked;
}

export const attachmentUploaded: EventSpec<AttachmentUploaded> = {
  version: 1,
  check(d, e) {
    checkId(d, e);
    return d as unknown as AttachmentUploaded;
  },
};
export const attachmentScanned: EventSpec<AttachmentChecked> = { version: 1, check: checkChecked };
export const attachmentValidated: EventSpec<AttachmentChecked> = { version: 1, check: checkChecked };

function checkSettled(d: Payload, e: EntryRef, status: string): void {
  str(e, d, 'id');
  if (d['status'] !== status) fail(e, `status must be ${status}`);
  if (typeof d['filename'] !== 'string') fail(e, 'filename must be a string');
}

export const attachmentReady: EventSpec<AttachmentReady> = {
  version: 1,
  check(d, e) {
    checkSettled(d, e, 'ready');
    if (typeof d['contentType'] !== 'string') fail(e, 'contentType must be a string');
    if (typeof d['size'] !== 'number') fail(e, 'size must be a number');
    return d as unknown as AttachmentReady;
  },
};

export const attachmentRejected: EventSpec<AttachmentRejected> = {
  version: 1,
  check(d, e) {
    checkSettled(d, e, 'rejected');
    return d as unknown as AttachmentRejected;
  },
};
