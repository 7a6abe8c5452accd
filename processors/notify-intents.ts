// The notification intents processor (group `notify-intents`, on the tenant event stream):
// message.created / message.updated → per-recipient decisions and per-channel jobs; message.deleted
// cancels what is not delivered yet. The logic lives in workers/notify/intents.ts.
import { EVENT } from '../core/events/index.js';
import type { ProcessorDefinition } from './definition.js';
import { INTENTS_GROUP } from '../workers/notify/channels.js';
import { handleIntents } from '../workers/notify/intents.js';

const HANDLED = new Set<string>([EVENT.messageCreated, EVENT.messageUpdated, EVENT.messageDeleted]);

export const notifyIntents: ProcessorDefinition = {
  name: INTENTS_GROUP,
  canHandle: (type) => HANDLED.has(type),
  handle: (ctx) => handleIntents(ctx),
};
