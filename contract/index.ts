/**
 * The contract: every name and shape the layers share — workflow, update, signal and query
 * definitions, task queues, search attributes, statuses, limits, id formats, failure types. The
 * bottom of the import graph: it imports nothing of dmx's, and everything else may import it.
 * Deterministic-safe (workflows import it).
 */
export * from './claims';
export * from './demo';
export * from './failures';
export * from './ids';
export * from './limits';
export * from './pool';
export * from './reconcile';
export * from './search-attributes';
export * from './task-queues';
