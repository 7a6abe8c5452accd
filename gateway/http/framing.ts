// Request framing (RFC 9112 §6): where the body of a request ends must be unambiguous, or a proxy
// in front and this server may split the byte stream into different requests (request smuggling).
// uWS reads the first Content-Length and treats any Transfer-Encoding as chunked; it closes by
// itself on a Content-Length that is not a number and on Transfer-Encoding together with
// Content-Length, but lets these through, which are refused here with 400 and a closed connection:
// more than one Content-Length (even equal ones), more than one Transfer-Encoding, and a
// Transfer-Encoding other than `chunked` (uWS would read it as chunked, a proxy maybe not).
import type { HttpRequest } from 'uWebSockets.js';

/** Why the framing of this request is ambiguous, or null. Must be called before the handler returns. */
export function framingError(req: HttpRequest): string | null {
  let lengths = 0;
  let encodings = 0;
  let encoding = '';
  req.forEach((name, value) => {
    if (name === 'content-length') lengths++;
    else if (name === 'transfer-encoding') {
      encodings++;
      encoding = value;
    }
  });
  if (lengths > 1) return 'more than one Content-Length header';
  if (encodings > 1) return 'more than one Transfer-Encoding header';
  if (encodings && lengths) return 'Transfer-Encoding together with Content-Length';
  if (encodings && !/^\s*chunked\s*$/i.test(encoding)) return 'Transfer-Encoding other than chunked';
  return null;
}
