/**
 * The one Temporal client module: connect, start, claim, read, extend, release and list demos,
 * pools, and the reconciler's schedule. Used by the API, the CLI, the worker process and the
 * benchmark; it returns Temporal's own errors, which each caller presents its way.
 */
export * from './claim-delivery';
export * from './claims';
export * from './connection';
export * from './demos';
export * from './errors';
export * from './pools';
export * from './retry';
export * from './schedules';
