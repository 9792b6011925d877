import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** What demos and pools publish for the Web UI, `temporal workflow list` and the list endpoints. */
export const SEARCH_ATTRIBUTES = {
  status: defineSearchAttributeKey('DmxStatus', SearchAttributeType.KEYWORD),
  template: defineSearchAttributeKey('DmxTemplate', SearchAttributeType.KEYWORD),
  expiresAt: defineSearchAttributeKey('DmxExpiresAt', SearchAttributeType.DATETIME),
  host: defineSearchAttributeKey('DmxHost', SearchAttributeType.KEYWORD),
  kind: defineSearchAttributeKey('DmxKind', SearchAttributeType.KEYWORD),
} as const;

/** `DmxKind`: what a dmx workflow is. */
export type WorkflowKind = 'demo' | 'pool';
