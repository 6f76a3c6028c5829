import { BadInputError } from './errors.js';
import type { EffectiveGrant, MaskMethod } from './export-grant.js';
import { rowFilterKeeps } from './export-partitions.js';
import {
  exportableColumns,
  type ExportFilterOp,
  type ExportPredicateInput,
  normalizedRowFilter,
} from './export-request.js';
import { coercedOrUndefined, type JsonScalar } from './export-values.js';
import type { TableColumn, TableDefinition } from './table.js';

/**
 * The access policy as a pure model: roles → dataset rules → columns, masks and row filters, plus what each role
 * may do. Parsing and validating the policy file is src/auth/policy.ts; this file only decides.
 */

/** What a role may do besides reading metadata of the datasets it sees. All default to false. */
export const CAPABILITIES = [
  /**
   * Administrative operations: every caller's feeds (list, delete) where the administrator's own access allows them,
   * and the run messages of datasets without a table yet. No data, and not other callers' export jobs.
   */
  'admin',
  /** `requestExport` and `estimateExport`. */
  'canExport',
  /** `Dataset.preview`. */
  'canPreview',
  /** Column statistics (null count, min, max) of visible, unmasked columns, and the newest event time of freshness. */
  'canSeeStats',
  /** `pipeline` and `pipelineRuns`, for the datasets the role sees. */
  'canSeePipeline',
  /** Introspection (GraphiQL, Sandbox, codegen) where introspection is enabled. */
  'canUseGraphiql',
] as const;
export type Capability = (typeof CAPABILITIES)[number];
export type Capabilities = Readonly<Record<Capability, boolean>>;

/** How a rule treats columns flagged as PII in the catalog, unless a column is denied or masked by name. */
export const PII_HANDLINGS = ['allow', 'hash', 'redact', 'deny'] as const;
export type PiiHandling = (typeof PII_HANDLINGS)[number];

/** Fields of the caller a row filter may use: `$caller.id`, `$caller.subject`, `$caller.name`, `$caller.role`. */
export const CALLER_FIELDS = ['id', 'subject', 'name', 'role'] as const;
export type CallerField = (typeof CALLER_FIELDS)[number];

/** A value in a row-filter predicate: a literal, or a reference to the caller resolved per request. */
export type PolicyValue =
  { kind: 'literal'; value: JsonScalar } | { kind: 'caller'; field: CallerField } | { kind: 'attribute'; name: string };

export interface PolicyPredicate {
  column: string;
  op: ExportFilterOp;
  values: readonly PolicyValue[];
}

export interface MaskRule {
  /** A column name or glob. */
  column: string;
  method: MaskMethod;
}

/** One rule of a role. The first rule whose `match` names a dataset decides everything about it. */
export interface DatasetRule {
  /** Dataset names or globs (`*` any run of characters, `?` one character). */
  match: readonly string[];
  /** Column names or globs the rule shows, or `*` for all. */
  allowedColumns: readonly string[] | '*';
  /** Never shown, whatever else says so. */
  deniedColumns: readonly string[];
  /** Shown masked; the first matching entry decides the method. */
  maskedColumns: readonly MaskRule[];
  pii: PiiHandling;
  /** ANDed to every read of the dataset: exports, previews, counts. */
  rowFilter: readonly PolicyPredicate[];
}

export interface RolePolicy {
  name: string;
  description: string;
  capabilities: Capabilities;
  datasets: readonly DatasetRule[];
}

export interface AccessPolicy {
  /** Where the policy came from (a file path), for messages. */
  source: string;
  roles: ReadonlyMap<string, RolePolicy>;
  /** JWT role-claim values → role names; a claim value without an entry must name a role itself. */
  jwtRoles: ReadonlyMap<string, string>;
}

export type CallerAttribute = string | number | boolean | readonly (string | number | boolean)[];

/** Who is asking, as the policy sees it. Filled by authentication (API key or JWT). */
export interface PolicyCaller {
  /** Stable and namespaced by how the caller signed in: `key:<key id>` or `jwt:<subject>`. Owns export jobs. */
  id: string;
  /** The key id or the token subject, without namespace. */
  subject: string;
  /** The key's name, or the token's name claim (else its subject). */
  name: string;
  role: string;
  /** Attributes row filters may use: an API key's stored attributes, or a token's scalar claims. */
  attributes: Readonly<Record<string, CallerAttribute>>;
}

/** The caller an API key signs in as: `key:<key id>`, with the key's name, role and attributes. */
export function apiKeyCaller(
  keyId: string,
  key: { name: string; role: string; attributes: Readonly<Record<string, CallerAttribute>> },
): PolicyCaller {
  return { id: `key:${keyId}`, subject: keyId, name: key.name, role: key.role, attributes: key.attributes };
}

/** The API key id of a caller that signed in with one (see apiKeyCaller); undefined for a token's caller. */
export function apiKeyIdOf(callerId: string): string | undefined {
  return callerId.startsWith('key:') ? callerId.slice('key:'.length) : undefined;
}

/**
 * When the credential a caller signed in with stops being valid: a JWT's `exp` (a required claim, kept among its
 * scalar attributes); undefined for an API key (valid until revoked). What a caller obtains with it (a download link)
 * should not outlive it.
 */
export function credentialExpiresAt(caller: {
  id: string;
  attributes?: Readonly<Record<string, unknown>> | undefined;
}): Date | undefined {
  if (!caller.id.startsWith('jwt:')) return undefined;
  const exp = caller.attributes?.['exp'];
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return undefined;
  // A token the verifier accepts may name an `exp` past the last instant a Date holds (year 275760): an invalid
  // Date there made links that said `expires=NaN` (refused) and failed `urlExpiresAt`. It ends no sooner than that.
  return new Date(Math.min(exp * 1000, LAST_DATE_MS));
}

/** The largest time a JavaScript Date holds (ECMAScript: 8.64e15 ms after the epoch). */
const LAST_DATE_MS = 8.64e15;

/** The capabilities of an unknown role: none. */
export const NO_CAPABILITIES: Capabilities = Object.freeze({
  admin: false,
  canExport: false,
  canPreview: false,
  canSeeStats: false,
  canSeePipeline: false,
  canUseGraphiql: false,
});

/** The capabilities of a role; none for a role the policy does not define. */
export function capabilitiesOf(policy: AccessPolicy, role: string): Capabilities {
  return policy.roles.get(role)?.capabilities ?? NO_CAPABILITIES;
}

/** Whether a glob (`*`, `?`) or plain name matches a name. Names are safe identifiers, so no escaping is needed. */
export function globMatches(pattern: string, name: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === name;
  const source = pattern
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`).test(name);
}

function matchesAny(patterns: readonly string[], name: string): boolean {
  return patterns.some((p) => globMatches(p, name));
}

/** The rule of a role that decides a dataset, or undefined when none names it. */
export function ruleFor(role: RolePolicy, dataset: string): DatasetRule | undefined {
  return role.datasets.find((r) => matchesAny(r.match, dataset));
}

/**
 * What one caller may see of one dataset, or undefined when the dataset is invisible to it (no rule names it, the
 * role is unknown, or the rule cannot be enforced for this caller or table). Callers must answer an invisible
 * dataset exactly as a dataset that does not exist.
 *
 * - A column is visible when `allowedColumns` names it and neither `deniedColumns` nor `pii: deny` (for a PII
 *   column) excludes it. Partition keys are columns like any other.
 * - A visible column is masked by the first `maskedColumns` entry that names it, else by `pii: hash|redact` when
 *   it is PII.
 * - `allowedColumns` in the grant is always the explicit list, in table order, never "all": a column added to the
 *   table later is not visible under a grant resolved before it existed.
 * - Fails closed: a row filter naming a column the table lacks, or a caller attribute the caller does not have
 *   or whose value is not of the column's type (a key's `--attribute`, a JWT claim), makes the dataset invisible
 *   rather than unfiltered.
 */
export function resolveGrant(
  policy: AccessPolicy,
  caller: PolicyCaller,
  table: TableDefinition,
): EffectiveGrant | undefined {
  const role = policy.roles.get(caller.role);
  if (role === undefined) return undefined;
  const rule = ruleFor(role, table.name);
  if (rule === undefined) return undefined;

  const all = exportableColumns(table).map((c) => c.column);
  const allowedColumns: string[] = [];
  const maskedColumns: { column: string; method: MaskMethod }[] = [];
  for (const column of all) {
    const allowed = rule.allowedColumns === '*' || matchesAny(rule.allowedColumns, column.name);
    const denied = matchesAny(rule.deniedColumns, column.name) || (column.pii && rule.pii === 'deny');
    if (!allowed || denied) continue;
    allowedColumns.push(column.name);
    const method = maskMethodFor(rule, column);
    if (method !== null) maskedColumns.push({ column: column.name, method });
  }

  const byName = new Map(all.map((c) => [c.name, c]));
  const rowFilter: ExportPredicateInput[] = [];
  for (const p of rule.rowFilter) {
    const column = byName.get(p.column);
    if (column === undefined) return undefined;
    const values = resolveValues(p, caller, column);
    if (values === undefined) return undefined;
    rowFilter.push({ column: p.column, op: p.op, values });
  }
  return { allowedColumns, maskedColumns, rowFilter };
}

function maskMethodFor(rule: DatasetRule, column: TableColumn): MaskMethod | null {
  const named = rule.maskedColumns.find((m) => globMatches(m.column, column.name));
  if (named !== undefined) return named.method;
  if (column.pii && (rule.pii === 'hash' || rule.pii === 'redact')) return rule.pii;
  return null;
}

/**
 * The predicate's values with caller references substituted; undefined when the caller cannot satisfy them. A
 * caller's value the column's type does not take fails here, like a missing one: the policy itself is valid, so
 * this caller is not a server fault (the policy's own literals are checked where the filter is applied).
 */
function resolveValues(p: PolicyPredicate, caller: PolicyCaller, column: TableColumn): JsonScalar[] | undefined {
  const out: JsonScalar[] = [];
  for (const v of p.values) {
    if (v.kind === 'literal') {
      out.push(v.value);
      continue;
    }
    const value: CallerAttribute | undefined = v.kind === 'caller' ? caller[v.field] : caller.attributes[v.name];
    if (value === undefined) return undefined;
    const given = Array.isArray(value)
      ? (value as readonly (string | number | boolean)[])
      : [value as string | number | boolean];
    if (!given.every((g) => coercedOrUndefined(g, column) !== undefined)) return undefined;
    out.push(...given);
  }
  // A list attribute only fits where a list is expected; anything else fails closed rather than half-filtered.
  if (p.op === 'IN' && out.length === 0) return undefined;
  if (p.op === 'BETWEEN' && out.length !== 2) return undefined;
  if (p.op !== 'IN' && p.op !== 'BETWEEN' && p.op !== 'IS_NULL' && p.op !== 'IS_NOT_NULL' && out.length !== 1) {
    return undefined;
  }
  return out;
}

/** The table's columns (data columns, then partition keys not among them) that the grant shows, in table order. */
export function visibleColumns(grant: EffectiveGrant, table: TableDefinition): TableColumn[] {
  const allowed = grant.allowedColumns === null ? null : new Set(grant.allowedColumns);
  return exportableColumns(table)
    .map((c) => c.column)
    .filter((c) => allowed === null || allowed.has(c.name));
}

/**
 * The table as the caller may see it: hidden columns and partition keys removed. Services handed this view cannot
 * read or describe a hidden column even by mistake.
 */
export function restrictTable(grant: EffectiveGrant, table: TableDefinition): TableDefinition {
  const allowed = grant.allowedColumns === null ? null : new Set(grant.allowedColumns);
  const keep = (c: TableColumn): boolean => allowed === null || allowed.has(c.name);
  return { ...table, columns: table.columns.filter(keep), partitionKeys: table.partitionKeys.filter(keep) };
}

/**
 * Whether the grant shows every partition key of the table as it is (none hidden, none masked). Partition names,
 * file paths and run records spell partition values out, so they are shown only then.
 */
export function partitionValuesVisible(grant: EffectiveGrant, table: TableDefinition): boolean {
  const allowed = grant.allowedColumns === null ? null : new Set(grant.allowedColumns);
  return table.partitionKeys.every((k) => (allowed === null || allowed.has(k.name)) && maskOf(grant, k.name) === null);
}

/**
 * The (restricted) table with its masked partition keys left out too, for partition listings: a masked key's values
 * are the key's values, so partitions are named and filtered by the keys shown as they are, as for hidden keys.
 */
export function withoutMaskedPartitionKeys(grant: EffectiveGrant, table: TableDefinition): TableDefinition {
  const keys = table.partitionKeys.filter((k) => maskOf(grant, k.name) === null);
  return keys.length === table.partitionKeys.length ? table : { ...table, partitionKeys: keys };
}

/**
 * How many partitions `files` (an export plan's files) span as the grant shows partitions: counted by the partition
 * keys it shows as they are, as `Dataset.partitions` names them for it. `planned` (the plan's count over every key)
 * when the grant shows every key in clear, or there is no grant. Null when the table is partitioned and the grant
 * shows none of its keys in clear: the count would then be the number of distinct values of a column the caller may
 * not see, or sees masked, which its own partition listing does not tell it either.
 */
export function partitionCountShown(
  grant: EffectiveGrant | null,
  table: TableDefinition,
  files: readonly { partitionValues: Readonly<Record<string, string>> }[],
  planned: number | null,
): number | null {
  if (grant === null || partitionValuesVisible(grant, table)) return planned;
  const clear = table.partitionKeys
    .map((k) => k.name)
    .filter((k) => isColumnVisible(grant, k) && maskOf(grant, k) === null);
  if (clear.length === 0) return null;
  return new Set(files.map((f) => JSON.stringify(clear.map((k) => f.partitionValues[k] ?? null)))).size;
}

/**
 * Which partitions, by their values under the whole table, may hold a row the grant lets the caller read: those its
 * row filter does not rule out by a predicate on a partition key (export-partitions.ts rowFilterKeeps). A partition
 * it rules out is named by values of rows the caller may not read, so partition listings and file counts leave it
 * out. Undefined when every partition may hold such a row (no row filter, or none on a key).
 */
export function partitionsKept(
  grant: EffectiveGrant,
  table: TableDefinition,
): ((values: Record<string, string>) => boolean) | undefined {
  if (grant.rowFilter.length === 0) return undefined;
  return rowFilterKeeps(table, normalizedRowFilter(grant, table));
}

/** How a visible column is masked, or null when it is shown as is (or is not visible). */
export function maskOf(grant: EffectiveGrant, column: string): MaskMethod | null {
  return grant.maskedColumns.find((m) => m.column === column)?.method ?? null;
}

export function isColumnVisible(grant: EffectiveGrant, column: string): boolean {
  return grant.allowedColumns === null || grant.allowedColumns.includes(column);
}

/** Where a column is used: `select` may name masked columns (they come out masked); the others may not. */
export type ColumnPurpose = 'select' | 'where' | 'orderBy';

const PURPOSE_TEXT: Record<ColumnPurpose, string> = {
  select: 'selected',
  where: 'used in where',
  orderBy: 'used in orderBy',
};

/**
 * Refuses columns the grant does not allow for a purpose, naming the first at fault by its path
 * (`columns[2]`, `where[0].column`). A hidden column gets exactly the message of a column that does not exist
 * (the message of normalizeExportRequest and of `preview`), so a filter cannot probe for hidden columns; a masked
 * column in `where` or `orderBy` is refused as masked (its name is visible, its values are not).
 */
export function assertColumnsUsable(
  grant: EffectiveGrant,
  table: TableDefinition,
  columns: readonly string[],
  purpose: ColumnPurpose,
  pathOf: (index: number) => string = (i) => `${purpose}[${i}]`,
): void {
  const known = new Set(exportableColumns(table).map((c) => c.column.name));
  columns.forEach((name, i) => {
    if (!known.has(name) || !isColumnVisible(grant, name)) {
      throw new BadInputError(`${pathOf(i)}: unknown column ${JSON.stringify(name)} in dataset "${table.name}"`);
    }
    if (purpose !== 'select' && maskOf(grant, name) !== null) {
      throw new BadInputError(`${pathOf(i)}: column "${name}" is masked and cannot be ${PURPOSE_TEXT[purpose]}`);
    }
  });
}

/**
 * Whether footer statistics (null count, min, max) of a column may be shown: only for a visible, unmasked column,
 * and only without a row filter, because footers describe every row, including rows the filter hides.
 */
export function statsVisible(grant: EffectiveGrant, column: string): boolean {
  return isColumnVisible(grant, column) && maskOf(grant, column) === null && grant.rowFilter.length === 0;
}

/**
 * Whether whole-dataset figures from file metadata (row count, per-partition row counts and sizes) may be shown.
 * Not under a row filter: they would count rows the caller may not see.
 */
export function aggregatesVisible(grant: EffectiveGrant): boolean {
  return grant.rowFilter.length === 0;
}
