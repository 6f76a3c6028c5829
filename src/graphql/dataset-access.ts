import type { DatasetAccess } from '../auth/access-control.js';
import { type ApiContext, callerOf } from './context.js';

/**
 * The dataset a client names, with the caller's grant on it; NOT_FOUND with exactly the message of a dataset that
 * does not exist when there is none or the caller may not see it (audited as a denial then). `action` names the
 * field for the audit log.
 */
export async function requireDataset(ctx: ApiContext, name: string, action: string): Promise<DatasetAccess> {
  const caller = callerOf(ctx);
  const table = await ctx.services.datasets.find(name, ctx.loaders.datasets);
  return ctx.services.access.requireDataset(caller, name, table, action);
}
