// The workflow bundle's entry point: every workflow the workers run.
export { demoLifecycle } from './demo-lifecycle';
export { templatePool } from './template-pool';
export { reconcile } from './reconcile';
