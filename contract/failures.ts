/**
 * Application failure types (what the API maps to HTTP answers) and the one walker over an error's
 * cause chain that everyone uses. Deterministic-safe: workflows import it too.
 */
import { ApplicationFailure } from '@temporalio/common';

export const FAILURE_TYPES = {
  maxLifetimeExceeded: 'MaxLifetimeExceeded',
  notReady: 'DemoNotReady',
  invalidInput: 'InvalidInput',
  templateMissing: 'TemplateMissing',
  provisioningFailed: 'ProvisioningFailed',
  noCapacity: 'NoCapacity',
  containerGone: 'ContainerGone',
  webhookRefused: 'WebhookRefused',
} as const;

/** The error and its causes, outermost first (bounded: cause chains can be cyclic). */
export function* causeChain(err: unknown, max = 6): Generator<{ message?: unknown; cause?: unknown; code?: unknown }> {
  let e = err as { message?: unknown; cause?: unknown; code?: unknown } | undefined | null;
  for (let i = 0; e && i < max; i++, e = e.cause as typeof e) yield e;
}

/** The first ApplicationFailure in the chain (the one a workflow or update threw). */
export function applicationFailureOf(err: unknown): ApplicationFailure | undefined {
  for (const e of causeChain(err)) if (e instanceof ApplicationFailure) return e;
  return undefined;
}

/** The ApplicationFailure type behind an update/workflow failure, if there is one. */
export function failureType(err: unknown): string | undefined {
  return applicationFailureOf(err)?.type ?? undefined;
}

/** The most specific message: the ApplicationFailure's own, else the error's. */
export function failureMessage(err: unknown): string {
  const failure = applicationFailureOf(err);
  if (failure?.message) return failure.message;
  return (err as Error)?.message ?? String(err);
}

/** Every message of the chain joined (for logs and a demo's recorded error). */
export function chainMessage(err: unknown, maxParts = 4): string {
  const parts: string[] = [];
  for (const e of causeChain(err, 20)) {
    if (parts.length >= maxParts) break;
    if (typeof e.message === 'string' && e.message) parts.push(e.message);
  }
  return parts.join(': ').slice(0, 1000);
}
