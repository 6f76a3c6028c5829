import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  getNamedType,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  isCompositeType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isInputType,
  isInterfaceType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type GraphQLType,
  getVariableValues,
  typeFromAST,
  valueFromAST,
} from 'graphql';
import { PARTITION_PAGE_LIMITS, PREVIEW_LIMITS } from '../../services/dataset-service.js';
import { DEFAULT_PAGE_LIMITS } from '../../services/pagination.js';

/**
 * A static estimate of what an operation will cost to execute, computed from the document, the schema and the
 * variables before anything runs:
 *
 *   cost(field) = own cost + size × cost(its selection)
 *
 * - own cost: `fieldCosts["Type.field"]`, else 1 for a field returning an object, 0 for a scalar or enum;
 * - size: the value of a size argument (`first`, `last`, `limit`; its default when omitted; at most `maxSize`, over
 *   which the field refuses the argument), else a configured
 *   `listSizes["Type.field"]` for lists without one, else 1 (a connection's `nodes` is counted by its parent's
 *   `first`);
 * - every alias is a separate field, so 1,000 aliases cost 1,000 times one; fragments count where they are spread;
 *   `@skip`/`@include` are ignored (the estimate is an upper bound);
 * - a leaf (scalar or enum, `__typename` too) is free under its own name, where the schema bounds how many an
 *   object has; under an alias it repeats its value, so it costs 1. Else 5,000 aliases of `name` on a page of 100
 *   partitions cost nothing and build a response of tens of megabytes;
 * - a list of leaves with a size argument (a run's `outputKeys`, `partitions`) costs a tenth of its size, rounded up
 *   (at least 1 under an alias): an item is a value of tens of bytes where an object is a row of them, but a page of
 *   100 is not free. Else 24 aliases of a dataset, each listing the keys of the runs behind its 100 partitions, built
 *   72 MB within the cost limit.
 *
 * It also counts the rate-limit tokens the operation takes: one per mutation root field and one per occurrence of
 * a rate-limited field (`Column.stats`, `Dataset.preview`, `Dataset.estimateExport`), aliases included.
 */
export interface QueryCostModel {
  fieldCosts: Readonly<Record<string, number>>;
  /** Arguments whose value is the number of items a field returns; the first present one wins. */
  sizeArguments: readonly string[];
  /** Assumed sizes of list fields without a size argument. */
  listSizes: Readonly<Record<string, number>>;
  /**
   * The largest value a size argument can take: fields refuse a larger one (BAD_USER_INPUT) before returning
   * anything, so it counts as this much, and the caller hears about the argument rather than about the cost.
   */
  maxSize: number;
  /** Fields each occurrence of which takes a rate-limit token (mutation root fields always do). */
  rateLimitedFields: readonly string[];
}

/** Items of a list of leaves (scalars, enums) per cost unit: see the rules above. */
const LEAF_ITEMS_PER_COST = 10;

export const DEFAULT_COST_MODEL: QueryCostModel = {
  fieldCosts: {
    // Footer statistics: cached per file, but still a read and an aggregation per column.
    'Column.stats': 5,
    // A DuckDB query over Parquet files (staged first with the S3 store).
    'Dataset.preview': 100,
    // Partition pruning and footers of every candidate file.
    'Dataset.estimateExport': 100,
    // Fields that build their whole list before cutting a page, even for `totalCount` alone: every partition of the
    // dataset summarised from its files and sorted; every dataset in scope filtered and the page's built; every run
    // record in scope filtered; the caller's job listing (with `status`, every job record read). Priced as such, so
    // that thousands of aliases of `partitions { totalCount }` (cost 1 each, 7 ms each on 1,300 partitions) cannot
    // hold the server for seconds within the limit, while a page of 100 datasets with their partition counts fits.
    'Query.datasets': 40,
    'Dataset.partitions': 40,
    'Query.pipeline': 40,
    'Query.pipelineRuns': 40,
    'Query.exports': 40,
    // Lists without a page: the caller's feeds read from the store, each judged against its creator's access; a grant
    // per dataset the caller sees.
    'Query.feeds': 40,
    'Me.datasets': 40,
    'Mutation.requestExport': 50,
    'Mutation.cancelExport': 5,
    'Mutation.releaseExport': 5,
    'Subscription.exportUpdated': 10,
  },
  sizeArguments: ['first', 'last', 'limit'],
  // Datasets have a few dozen columns at most; versions are few.
  listSizes: { 'Dataset.columns': 25, 'Dataset.schemaVersions': 10 },
  // Every page (`first`) and the preview (`limit`) stop at 100.
  maxSize: Math.max(DEFAULT_PAGE_LIMITS.maxSize, PARTITION_PAGE_LIMITS.maxSize, PREVIEW_LIMITS.maxRows),
  rateLimitedFields: ['Column.stats', 'Dataset.preview', 'Dataset.estimateExport'],
};

export interface OperationAnalysis {
  cost: number;
  /** Rate-limit tokens: mutation root fields plus occurrences of rate-limited fields. */
  rateTokens: number;
  operation: OperationDefinitionNode;
}

/**
 * Analyses the operation Apollo (or graphql-ws) will execute. Undefined when the document has no such operation
 * (validation reports that). Call it on validated documents only.
 */
export function analyzeOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  request: { operationName?: string | null | undefined; variables?: Readonly<Record<string, unknown>> | undefined },
  model: QueryCostModel = DEFAULT_COST_MODEL,
): OperationAnalysis | undefined {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const operation =
    request.operationName === null || request.operationName === undefined
      ? operations.length === 1
        ? operations[0]
        : undefined
      : operations.find((o) => o.name?.value === request.operationName);
  if (operation === undefined) return undefined;
  const root = schema.getRootType(operation.operation);
  if (root === null || root === undefined) return undefined;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);

  // Variables as execution will see them: a variable the client left out takes its declared default.
  const given = { ...(request.variables ?? {}) };
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], given);
  const walker = new CostWalker(schema, fragments, coerced.coerced ?? withDefaults(schema, operation, given), model);
  const cost = walker.selectionCost(root, operation.selectionSet, new Set());
  const mutationFields = operation.operation === 'mutation' ? walker.rootFieldCount(root, operation.selectionSet) : 0;
  return { cost, rateTokens: walker.rateTokens + mutationFields, operation };
}

/**
 * The variables with declared defaults filled in, for a request whose variables do not coerce (execution refuses
 * it, but the estimate still runs first and must not count a default as absent).
 */
function withDefaults(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  given: Record<string, unknown>,
): Record<string, unknown> {
  const out = { ...given };
  for (const d of operation.variableDefinitions ?? []) {
    const name = d.variable.name.value;
    const type = typeFromAST(schema, d.type);
    if (out[name] !== undefined || d.defaultValue === undefined || type === undefined || !isInputType(type)) continue;
    out[name] = valueFromAST(d.defaultValue, type);
  }
  return out;
}

class CostWalker {
  rateTokens = 0;
  private readonly rateLimited: ReadonlySet<string>;

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    private readonly variables: Record<string, unknown>,
    private readonly model: QueryCostModel,
  ) {
    this.rateLimited = new Set(model.rateLimitedFields);
  }

  selectionCost(parent: GraphQLNamedType, set: SelectionSetNode, fragmentsOnPath: Set<string>): number {
    let total = 0;
    for (const selection of set.selections) {
      switch (selection.kind) {
        case Kind.FIELD:
          total += this.fieldCost(parent, selection, fragmentsOnPath);
          break;
        case Kind.INLINE_FRAGMENT: {
          const type = selection.typeCondition ? this.schema.getType(selection.typeCondition.name.value) : parent;
          total += this.selectionCost(type ?? parent, selection.selectionSet, fragmentsOnPath);
          break;
        }
        case Kind.FRAGMENT_SPREAD: {
          const name = selection.name.value;
          const fragment = this.fragments.get(name);
          if (fragment === undefined || fragmentsOnPath.has(name)) break;
          const type = this.schema.getType(fragment.typeCondition.name.value) ?? parent;
          fragmentsOnPath.add(name);
          total += this.selectionCost(type, fragment.selectionSet, fragmentsOnPath);
          fragmentsOnPath.delete(name);
          break;
        }
      }
    }
    return total;
  }

  /** Root fields of a mutation, aliases included, fragments followed. */
  rootFieldCount(parent: GraphQLNamedType, set: SelectionSetNode, seen = new Set<string>()): number {
    let n = 0;
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) n += s.name.value.startsWith('__') ? 0 : 1;
      else if (s.kind === Kind.INLINE_FRAGMENT) n += this.rootFieldCount(parent, s.selectionSet, seen);
      else if (!seen.has(s.name.value)) {
        const fragment = this.fragments.get(s.name.value);
        if (fragment !== undefined) {
          seen.add(s.name.value);
          n += this.rootFieldCount(parent, fragment.selectionSet, seen);
          seen.delete(s.name.value);
        }
      }
    }
    return n;
  }

  private fieldCost(parent: GraphQLNamedType, node: FieldNode, fragmentsOnPath: Set<string>): number {
    const name = node.name.value;
    const aliased = node.alias !== undefined && node.alias.value !== name;
    if (name === '__typename') return aliased ? 1 : 0;
    const field = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
    const coordinate = `${parent.name}.${name}`;
    if (this.rateLimited.has(coordinate)) this.rateTokens += 1;
    if (field === undefined) return 1;
    const type = getNamedType(field.type);
    const own = this.model.fieldCosts[coordinate] ?? (isLeafType(type) ? 0 : 1);
    if (node.selectionSet === undefined || !isCompositeType(type)) {
      const items = this.hasSizeArgument(field)
        ? Math.ceil(this.sizeOf(coordinate, field, node) / LEAF_ITEMS_PER_COST)
        : 0;
      return own + (aliased ? Math.max(1, items) : items);
    }
    const size = this.sizeOf(coordinate, field, node);
    return own + size * this.selectionCost(type, node.selectionSet, fragmentsOnPath);
  }

  private hasSizeArgument(field: GraphQLField<unknown, unknown>): boolean {
    return isList(field.type) && field.args.some((a) => this.model.sizeArguments.includes(a.name));
  }

  private sizeOf(coordinate: string, field: GraphQLField<unknown, unknown>, node: FieldNode): number {
    for (const argName of this.model.sizeArguments) {
      const arg = field.args.find((a) => a.name === argName);
      if (arg === undefined) continue;
      const given = node.arguments?.find((a) => a.name.value === argName);
      let value: unknown = given === undefined ? undefined : valueFromAST(given.value, arg.type, this.variables);
      // Omitted, null or a variable the client did not send: the services then use the argument's default.
      if (value === undefined || value === null) value = arg.defaultValue;
      if (typeof value === 'number' && Number.isFinite(value)) return Math.min(Math.max(0, value), this.model.maxSize);
    }
    if (isList(field.type)) return this.model.listSizes[coordinate] ?? 1;
    return 1;
  }
}

function isList(type: GraphQLType): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}
