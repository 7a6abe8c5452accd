// The websocket `error` frame: `{"type":"error","ts","data":{"code","message"}}`, no seq. Only a
// code the catalog (core/errors.ts) allows in frames can be sent, and a flood of refusals closes
// the connection with the close code the catalog pairs with the last one.
import { ERRORS, type WsErrorCode } from '../../core/errors.js';
import { FRAME, controlFrame } from '../../core/events/index.js';

export function errorFrame(code: WsErrorCode, message: string): string {
  return controlFrame(FRAME.error, { code, message });
}

/** The close code of a connection closed for a flood of bad frames, the last refused with `code`. */
export function floodCloseCode(code: WsErrorCode): 1008 | 1009 {
  return ERRORS[code].ws.floodClose;
}
