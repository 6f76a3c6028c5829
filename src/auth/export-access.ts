import type { PolicyCaller } from '../domain/policy.js';
import { grantCoversExport, type NormalizedExportRequest } from '../domain/export-request.js';
import type { TableDefinition } from '../domain/table.js';
import type { AccessControl } from './access-control.js';

/**
 * Whether `caller`, with its access as it stands now, may still have the result of an export it requested: it may
 * still export, still see the dataset, and its grant still shows everything the result holds (grantCoversExport). A
 * policy or a dataset withdrawn since the request, or a grant narrowed since (a column denied or newly masked, a
 * row filter added), answers false. `table` is the dataset as the catalog has it now (undefined: gone).
 */
export function mayStillHaveExport(
  access: AccessControl,
  caller: PolicyCaller,
  job: { request: NormalizedExportRequest },
  table: TableDefinition | undefined,
): boolean {
  if (table === undefined || !access.can(caller, 'canExport')) return false;
  const grant = access.grant(caller, table);
  return grant !== undefined && grantCoversExport(job.request, table, grant);
}
