// @chorus/client: the browser and Node SDK of Chorus protocol v1 (client/README.md). It imports
// nothing from the server folders and uses no Node-only API: pass a WebSocket class in Node.
export { ChorusClient, type ChorusClientOptions, type ClientEvents, type CloseInfo } from './client.js';
export { RestApi, newClientMessageId, type AttachmentCreated, type PageQuery, type SendInput } from './api.js';
export { ChorusApiError, HttpClient, putBytes, type CallOptions, type HttpOptions, type PutOptions, type UploadBody } from './http.js';
export { TokenSource, type TokenProvider } from './token.js';
export { memoryStorage, localStorageStorage, type KeyValueStorage } from './storage.js';
export { backoffDelay, retryAfterMs, BACKOFF_DEFAULTS, type BackoffOptions } from './backoff.js';
export { AUTH_CLOSE_CODES, closeAction, type CloseAction } from './close-codes.js';
export { SeqTracker, compareSeq } from './seq.js';
export type { QueuedMessage } from './outbox.js';
export type { WebSocketConstructor, WebSocketLike } from './websocket.js';
export type * from './types.js';
