/** Bounds the workflows enforce and the API, the CLI and the OpenAPI document state. */

/** A pool keeps at most this many ready, unclaimed demos. */
export const MAX_POOL_TARGET = 500;
/** A claim waits at most this long for a cold provision when the pool is empty. */
export const MAX_CLAIM_WAIT_SECONDS = 300;
/** One extend adds at most this much (the maximum lifetime bounds the sum). */
export const MAX_EXTEND_SECONDS = 30 * 24 * 3600;
/** Demos one list call returns at most. */
export const MAX_LIST_LIMIT = 1000;
/** Free text recorded in a workflow (release reasons). */
export const MAX_REASON_LENGTH = 200;
