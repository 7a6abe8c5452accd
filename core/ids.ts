// Identifier rules of the contract and generation of server-side ids.
import { v7 as uuidv7 } from 'uuid';

/** Tenant, user and thread ids: `^[A-Za-z0-9_-]{1,64}$` (contract section 1). */
export const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export function isId(v: unknown): v is string {
  return typeof v === 'string' && ID_RE.test(v);
}

/** Time-ordered ids (UUIDv7 without dashes, prefixed): sortable, unique without coordination. */
export function newId(prefix: 'th' | 'm' | 'att' | 'n' | 'c'): string {
  return `${prefix}_${uuidv7().replace(/-/g, '')}`;
}
