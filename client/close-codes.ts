// What the SDK does after each close code (docs/protocol.md §5.10). Every close is followed by a
// reconnect with `lastSeq` unless the application stopped the client; what differs is how soon,
// and whether the token or the last frame sent are to blame.

export type CloseAction =
  /** Reconnect at once: nothing is wrong with this client (4008 slow consumer). */
  | 'resume-now'
  /** The gateway is draining (after a `reconnect` frame, or 1001): come back soon, elsewhere. */
  | 'resume-soon'
  /** The token was refused: ask the provider for a new one, then reconnect. */
  | 'new-token'
  /** The last frame sent was too big (1009): do not send it again, reconnect with backoff. */
  | 'drop-last-frame'
  /** Anything else (1006 network, 1011, 1008…): reconnect with backoff. */
  | 'backoff';

/** Close codes that mean the token was refused. The server refuses bad tokens at the upgrade (HTTP 401) today; these are reserved for closing a live socket whose token expired or was revoked. */
export const AUTH_CLOSE_CODES: readonly number[] = [4001, 4401, 4403];

export function closeAction(code: number, afterReconnectFrame: boolean): CloseAction {
  if (code === 4008) return 'resume-now';
  if (AUTH_CLOSE_CODES.includes(code)) return 'new-token';
  if (code === 1009) return 'drop-last-frame';
  if (afterReconnectFrame || code === 1001) return 'resume-soon';
  return 'backoff';
}
