// What a notification provider is to the channel processors: one call that hands one message over,
// and the failure classification retries and the circuit breaker depend on.

export interface OutboundMessage {
  tenantId: string;
  /** The delivery's idempotency key: the email Message-ID, the push Idempotency-Key. */
  idempotencyKey: string;
  /** Email address or push endpoint. */
  to: string;
  subject: string;
  text: string;
  /** Correlation for provider callbacks (tenantId + notificationId come back in them). */
  notificationId: string;
  data: Record<string, string>;
  /** The W3C context of the send span (tracing on): passed on as a `traceparent` header, so a provider that echoes it on its callback continues the trace. */
  traceparent?: string;
}

export interface Provider {
  readonly name: string;
  /** Resolves with the provider's id for the message; throws ProviderError. */
  send(m: OutboundMessage): Promise<{ providerId: string }>;
  close(): Promise<void>;
}

/**
 * A provider call that failed. Transient failures (timeouts, connection errors, 4xx SMTP replies,
 * 408/429/5xx HTTP) are retried with backoff and count against the breaker; permanent ones (5xx SMTP
 * replies, other 4xx HTTP: the message itself is refused) go to the dead letters at once.
 */
export class ProviderError extends Error {
  constructor(message: string, readonly transient: boolean, readonly code?: string) {
    super(message);
  }
}
