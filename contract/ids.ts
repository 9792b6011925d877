/**
 * Identifier formats. Pure (no Node builtins), so workflows, activities, the API and the CLI all
 * validate with the same rules before an id reaches SQL, a shell argument, a Caddy matcher or a
 * workflow id.
 */

/** 16 characters of [a-z0-9]: a DNS label, a SQL identifier fragment and an unguessable subdomain (~80 bits). */
export const DEMO_ID_SOURCE = '[a-z0-9]{16}';
export const DEMO_ID_PATTERN = new RegExp(`^${DEMO_ID_SOURCE}$`);
export const DEMO_ID_FORMAT = '16 characters of [a-z0-9]';
export const DEMO_ID_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';
export const TEMPLATE_NAME_FORMAT = '[a-z][a-z0-9-]{0,30}';
export const TEMPLATE_NAME_PATTERN = new RegExp(`^${TEMPLATE_NAME_FORMAT}$`);
export const REQUEST_ID_FORMAT = '[A-Za-z0-9_.:-]{1,100}';
/** Idempotency keys, extend request ids and HTTP request ids: safe in a Temporal update id and a log line. */
export const REQUEST_ID_PATTERN = new RegExp(`^${REQUEST_ID_FORMAT}$`);

export function isDemoId(value: unknown): value is string {
  return typeof value === 'string' && DEMO_ID_PATTERN.test(value);
}

export function isTemplateName(value: unknown): value is string {
  return typeof value === 'string' && TEMPLATE_NAME_PATTERN.test(value);
}

export function assertDemoId(value: unknown): string {
  if (!isDemoId(value)) throw new TypeError(`invalid demo id ${JSON.stringify(value)?.slice(0, 80)}: expected ${DEMO_ID_FORMAT}`);
  return value;
}

export function assertTemplateName(value: unknown): string {
  if (!isTemplateName(value)) {
    throw new TypeError(`invalid template name ${JSON.stringify(value)?.slice(0, 80)}: expected ${TEMPLATE_NAME_FORMAT}`);
  }
  return value;
}

/** Maps random bytes onto the demo id alphabet (32 symbols, so no modulo bias). */
export function demoIdFromBytes(bytes: ArrayLike<number>): string {
  if (bytes.length < 16) throw new RangeError('need 16 random bytes for a demo id');
  let id = '';
  for (let i = 0; i < 16; i++) id += DEMO_ID_ALPHABET[bytes[i]! & 31];
  return id;
}

const DEMO_WORKFLOW_ID_PATTERN = new RegExp(`^demo-(${DEMO_ID_SOURCE})$`);
export const demoWorkflowId = (demoId: string) => `demo-${assertDemoId(demoId)}`;
export function demoIdFromWorkflowId(workflowId: string): string | undefined {
  const m = DEMO_WORKFLOW_ID_PATTERN.exec(workflowId);
  return m?.[1];
}

/** Every demo container of a profile is named `<prefix><id>`; Caddy's demo router dials that name. */
export const demoContainerPrefix = (profile: string) => `dmx-${profile}-`;

/** Names of what a demo owns; all derived from its id so every teardown step can be repeated blindly. */
export function demoResourceNames(profile: string, demoId: string) {
  assertDemoId(demoId);
  return {
    container: `${demoContainerPrefix(profile)}${demoId}`,
    database: `dmx_d_${demoId}`,
    account: `dmx_d_${demoId}`,
    tablePrefix: `d${demoId}_`,
    valkeyKey: `dmx:demo:${demoId}`,
  };
}
