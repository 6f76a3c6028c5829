import type { StoreCallCounts } from './counting-store.js';

/** Messages between the `api` benchmark and its server processes (Node IPC over `fork`). */

/** Parent → server. */
export type ServerRequest = { type: 'stats' } | { type: 'reset' } | { type: 'stop' };

/** Server → parent. */
export type ServerMessage =
  /** `authorization`: the header value requests must carry, when the server requires one. */
  | { type: 'ready'; url: string; authorization?: string }
  | { type: 'stats'; maxRssBytes: number; storeCalls: StoreCallCounts }
  | { type: 'reset' };
