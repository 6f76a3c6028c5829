import type { StoreCallCounts } from './counting-store.js';

/** Messages between the `api` benchmark and its server processes (Node IPC over `fork`). */

/** Parent → server. */
export type ServerRequest = { type: 'stats' } | { type: 'reset' } | { type: 'stop' };

/** Server → parent. */
export type ServerMessage =
  | { type: 'ready'; url: string }
  | { type: 'stats'; maxRssBytes: number; storeCalls: StoreCallCounts }
  | { type: 'reset' };
