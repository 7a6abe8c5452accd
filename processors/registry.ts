// The processors a `processor` role can run, by consumer group name. A new processor is one line here.
import type { ProcessorDefinition } from './definition.js';
import { persist } from './persist.js';
import { counters } from './counters.js';
import { inbox } from './inbox.js';
import { receipts } from './receipts.js';
import { projector } from './projector.js';
import { attachmentScan } from './attachment-scan.js';
import { attachmentValidate } from './attachment-validate.js';
import { attachmentThumbnail } from './attachment-thumbnail.js';
import { notifyIntents } from './notify-intents.js';
import { notifyInApp, notifyEmail, notifyPush } from './notify-channels.js';

export const registry: Readonly<Record<string, ProcessorDefinition>> = {
  [projector.name]: projector,
  [persist.name]: persist,
  [counters.name]: counters,
  [inbox.name]: inbox,
  [receipts.name]: receipts,
  [attachmentScan.name]: attachmentScan,
  [attachmentValidate.name]: attachmentValidate,
  [attachmentThumbnail.name]: attachmentThumbnail,
  [notifyIntents.name]: notifyIntents,
  [notifyInApp.name]: notifyInApp,
  [notifyEmail.name]: notifyEmail,
  [notifyPush.name]: notifyPush,
};

export function findProcessor(group: string): ProcessorDefinition | undefined {
  return Object.hasOwn(registry, group) ? registry[group] : undefined;
}
