-- Channels that did not notify a recipient when the intent was made (no address, switched off, muted,
-- already read, …) are no longer a notification_deliveries row each: their reasons are kept on the
-- recipient's in-app row as {"email": "no_address", "push": "no_address"}. Most recipients have no
-- email address or device, so this was two of every three rows written per message and recipient.
-- GET /api/notifications/explain and the feed read them from here (workers/notify/feed.ts).
alter table notification_deliveries add column skipped jsonb;
