import { NotFoundError } from '../domain/errors.js';
import type { EffectiveGrant, MaskMethod } from '../domain/export-grant.js';
import type { ExportPredicateInput } from '../domain/export-request.js';
import {
  type AccessPolicy,
  aggregatesVisible,
  partitionValuesVisible,
  type Capabilities,
  type Capability,
  capabilitiesOf,
  globMatches,
  type PolicyCaller,
  resolveGrant,
  ruleFor,
  visibleColumns,
} from '../domain/policy.js';
import type { TableColumn, TableDefinition } from '../domain/table.js';
import type { AuditLog } from './audit-log.js';
import { ForbiddenError } from './auth-errors.js';

/** A dataset the caller may see, with what it may see of it. */
export interface DatasetAccess {
  table: TableDefinition;
  grant: EffectiveGrant;
}

/** What `me` shows: the caller, its role, capabilities and effective grants. */
export interface CallerDescription {
  id: string;
  name: string;
  role: string;
  capabilities: Capabilities;
  datasets: {
    dataset: string;
    columns: string[];
    maskedColumns: { column: string; method: MaskMethod }[];
    /** Predicates on columns the caller sees in clear. */
    rowFilter: ExportPredicateInput[];
    /** Predicates on columns it sees masked or not at all: applied, not shown (their values would unmask them). */
    hiddenRowFilters: number;
  }[];
}

const CAPABILITY_TEXT: Record<Capability, string> = {
  admin: 'administer the service',
  canExport: 'export data',
  canPreview: 'preview data',
  canSeeStats: 'see column statistics',
  canSeePipeline: 'see pipeline status',
  canUseGraphiql: 'introspect the schema',
};

/**
 * The one place the policy is applied to requests. Every path (datasets, dataset, stats, preview,
 * estimateExport, requestExport on either engine, pipeline, `me`) asks here and passes the grant on; services
 * then enforce the grant (normalizeExportRequest, compileExportQuery) without reading the policy.
 */
export class AccessControl {
  constructor(
    readonly policy: AccessPolicy,
    private readonly audit?: AuditLog,
  ) {}

  capabilities(caller: PolicyCaller): Capabilities {
    return capabilitiesOf(this.policy, caller.role);
  }

  can(caller: PolicyCaller, capability: Capability): boolean {
    return this.capabilities(caller)[capability];
  }

  /** Throws FORBIDDEN (audited) unless the caller's role has the capability. Check dataset visibility first. */
  requireCapability(caller: PolicyCaller, capability: Capability, action: string, dataset?: string): void {
    if (this.can(caller, capability)) return;
    this.audit?.accessDenied(caller, { action, ...(dataset !== undefined ? { dataset } : {}) }, `lacks ${capability}`);
    throw new ForbiddenError(`your role "${caller.role}" may not ${CAPABILITY_TEXT[capability]}`);
  }

  /** The caller's grant on a table; undefined when it may not see it. */
  grant(caller: PolicyCaller, table: TableDefinition): EffectiveGrant | undefined {
    return resolveGrant(this.policy, caller, table);
  }

  /** The tables the caller may see, each with its grant, in the given order. Filter BEFORE paginating. */
  visible(caller: PolicyCaller, tables: readonly TableDefinition[]): DatasetAccess[] {
    const out: DatasetAccess[] = [];
    for (const table of tables) {
      const grant = this.grant(caller, table);
      if (grant !== undefined) out.push({ table, grant });
    }
    return out;
  }

  /**
   * The table and grant for a dataset the caller names, or NOT_FOUND with exactly the message of a dataset that
   * does not exist (`dataset "x" not found`). A hidden, existing dataset is audited as a denial.
   */
  requireDataset(
    caller: PolicyCaller,
    name: string,
    table: TableDefinition | undefined,
    action: string,
  ): DatasetAccess {
    const grant = table === undefined ? undefined : this.grant(caller, table);
    if (table === undefined || grant === undefined) {
      if (table !== undefined) this.audit?.accessDenied(caller, { action, dataset: name }, 'dataset not visible');
      throw new NotFoundError(`dataset "${name}" not found`);
    }
    return { table, grant };
  }

  /**
   * Whether a dataset known only by name (a definition or run records without a catalog table yet, as the pipeline
   * status lists them) is one the caller's role has a rule for. With a table, use `grant` instead.
   */
  datasetNameVisible(caller: PolicyCaller, name: string): boolean {
    const role = this.policy.roles.get(caller.role);
    return role !== undefined && role.datasets.some((r) => r.match.some((p) => globMatches(p, name)));
  }

  /**
   * Whether the pipeline status and run records of a dataset may be shown: the caller's role has `canSeePipeline`,
   * sees the dataset (by its table, else by name for a dataset that has no table yet) and reads it without a row
   * filter. Run records count every row of the files a run read and wrote (rows read, written, quarantined), which
   * a row filter exists to hide, so a row-filtered dataset has no pipeline status for its caller.
   */
  pipelineVisible(caller: PolicyCaller, name: string, table: TableDefinition | undefined): boolean {
    if (!this.can(caller, 'canSeePipeline')) return false;
    if (table !== undefined) {
      const grant = this.grant(caller, table);
      // Run records also name the partitions and files they wrote: shown only with every partition key in clear.
      return grant !== undefined && aggregatesVisible(grant) && partitionValuesVisible(grant, table);
    }
    const role = this.policy.roles.get(caller.role);
    const rule = role === undefined ? undefined : ruleFor(role, name);
    return rule !== undefined && rule.rowFilter.length === 0;
  }

  /**
   * The names among `columns` (of a past schema version) the caller may see, judged by the same rule as the current
   * table's columns: a column still in the table is visible exactly when the current grant shows it; a column since
   * removed is judged as if it were still there. Empty when the caller may not see the dataset.
   */
  visibleSchemaColumns(caller: PolicyCaller, table: TableDefinition, columns: readonly TableColumn[]): Set<string> {
    const current = new Set([...table.columns, ...table.partitionKeys].map((c) => c.name));
    const removed = columns.filter((c) => !current.has(c.name));
    const grant = this.grant(caller, { ...table, columns: [...table.columns, ...removed] });
    if (grant === undefined) return new Set();
    const shown = new Set(grant.allowedColumns ?? columns.map((c) => c.name));
    return new Set(columns.map((c) => c.name).filter((n) => shown.has(n)));
  }

  /** `me`: who the caller is and what it may see of each visible table. */
  describe(caller: PolicyCaller, tables: readonly TableDefinition[]): CallerDescription {
    return {
      id: caller.id,
      name: caller.name,
      role: caller.role,
      capabilities: this.capabilities(caller),
      datasets: this.visible(caller, tables).map(({ table, grant }) => {
        const columns = visibleColumns(grant, table).map((c) => c.name);
        const masked = new Set(grant.maskedColumns.map((m) => m.column));
        const clear = new Set(columns.filter((c) => !masked.has(c)));
        const shown = grant.rowFilter.filter((p) => clear.has(p.column));
        return {
          dataset: table.name,
          columns,
          maskedColumns: grant.maskedColumns.map((m) => ({ ...m })),
          rowFilter: shown.map((p) => ({ column: p.column, op: p.op, values: [...(p.values ?? [])] })),
          hiddenRowFilters: grant.rowFilter.length - shown.length,
        };
      }),
    };
  }
}
