import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, FieldResolver, Info, Int, Query, Resolver, Root } from 'type-graphql';
import type { DatasetAccess } from '../../auth/access-control.js';
import {
  aggregatesVisible,
  partitionsKept,
  partitionValuesVisible,
  restrictTable,
  withoutMaskedPartitionKeys,
} from '../../domain/policy.js';
import { type ApiContext, callerOf } from '../context.js';
import { requireDataset } from '../dataset-access.js';
import { type DatasetDemand, datasetDemand } from '../dataset-demand.js';
import type { PartitionKeep } from '../../services/dataset-service.js';
import { mapMaybe, type MaybePromise } from '../../services/maybe-promise.js';
import { DatasetFilterInput } from '../inputs/dataset-filter.input.js';
import { PartitionFilterInput } from '../inputs/partition-filter.input.js';
import { DateTimeScalar, SafeIntScalar } from '../scalars.js';
import { toConnection } from '../types/connection.type.js';
import { DatasetConnection } from '../types/dataset-connection.type.js';
import { DatasetPreview } from '../types/dataset-preview.type.js';
import { Dataset } from '../types/dataset.type.js';
import { Freshness } from '../types/freshness.type.js';
import { PartitionConnection } from '../types/partition-connection.type.js';
import { Partition } from '../types/partition.type.js';
import { SchemaVersionType } from '../types/schema-version.type.js';

/**
 * Datasets as the caller may see them. Every Dataset is made from a DatasetAccess (the access policy's answer for
 * this caller), carries the restricted table and the grant, and every field below reads only through them.
 */
@Resolver(() => Dataset)
export class DatasetResolver {
  @Query(() => DatasetConnection, {
    description:
      'The datasets you may see, in name order, a page at a time. `first` is at most 100; page on with `after: pageInfo.endCursor` to visit every dataset. The filter sees only what you see (a hidden column neither matches `search` nor counts for `hasPii`).',
  })
  async datasets(
    @Ctx() ctx: ApiContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20, description: 'Page size, 1 to 100.' })
    first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'Cursor after which the page starts.' })
    after: string | null,
    @Arg('filter', () => DatasetFilterInput, { nullable: true }) filter: DatasetFilterInput | null,
  ): Promise<DatasetConnection> {
    const caller = callerOf(ctx);
    const demand = datasetDemand(info, 'connection');
    // A page may hold many datasets: their data versions come from one listing, made alongside the catalog's.
    if (demand.files) ctx.loaders.datasets.readAllVersions();
    const granted = new Map<string, DatasetAccess>();
    const page = await ctx.services.datasets.list(
      { first, after, filter },
      ctx.loaders.datasets,
      (tables) =>
        ctx.services.access.visible(caller, tables).map((a) => {
          granted.set(a.table.name, a);
          return restrictTable(a.grant, a.table);
        }),
      (t) => {
        const a = granted.get(t.name)!;
        return partitionsKept(a.grant, a.table);
      },
    );
    const connection = toConnection(page, (t) => Dataset.from(granted.get(t.name)!));
    await prefetch(ctx, connection.nodes, demand);
    return connection;
  }

  @Query(() => Dataset, {
    description: 'One dataset by name; NOT_FOUND when there is none, or when you may not see it (the same answer).',
  })
  async dataset(@Ctx() ctx: ApiContext, @Info() info: GraphQLResolveInfo, @Arg('name') name: string): Promise<Dataset> {
    const dataset = Dataset.from(await requireDataset(ctx, name, 'dataset'));
    await prefetch(ctx, [dataset], datasetDemand(info, 'dataset'));
    return dataset;
  }

  @FieldResolver(() => SafeIntScalar, {
    nullable: true,
    description:
      'Rows in the readable Parquet files, from their footers. Null when the access policy filters your rows: footers count every row, including rows you may not see.',
  })
  rowCount(@Root() dataset: Dataset, @Ctx() ctx: ApiContext): MaybePromise<number | null> {
    if (!aggregatesVisible(dataset.grant)) return null;
    return mapMaybe(ctx.services.datasets.statistics(dataset.table, ctx.loaders.datasets), (s) => s.rowCount);
  }

  @FieldResolver(() => SafeIntScalar, {
    nullable: true,
    description: 'Bytes of all data files. Null when the access policy filters your rows, as `rowCount`.',
  })
  sizeBytes(@Root() dataset: Dataset, @Ctx() ctx: ApiContext): MaybePromise<number | null> {
    if (!aggregatesVisible(dataset.grant)) return null;
    return mapMaybe(ctx.services.datasets.files(dataset.table, ctx.loaders.datasets), (f) => f.sizeBytes);
  }

  @FieldResolver(() => Int, {
    description:
      'Data files (keys under `_` or `.` folders are not data). Under a row filter of the access policy on a partition key, only the files of the partitions it leaves you.',
  })
  fileCount(@Root() dataset: Dataset, @Ctx() ctx: ApiContext): MaybePromise<number> {
    const keep = keptPartitions(dataset);
    return mapMaybe(ctx.services.datasets.files(dataset.table, ctx.loaders.datasets), (f) =>
      keep === undefined ? f.files.length : f.files.filter((file) => keep(file.values)).length,
    );
  }

  @FieldResolver(() => Int, {
    description:
      'Data files whose Parquet footer could not be read; their rows are not in `rowCount`. Of the files `fileCount` counts.',
  })
  unreadableFileCount(@Root() dataset: Dataset, @Ctx() ctx: ApiContext): MaybePromise<number> {
    const statistics = ctx.services.datasets.statistics(dataset.table, ctx.loaders.datasets);
    const keep = keptPartitions(dataset);
    if (keep === undefined) return mapMaybe(statistics, (s) => s.unreadableFileCount);
    // The files kept, less those of them whose footer was read.
    const files = ctx.services.datasets.files(dataset.table, ctx.loaders.datasets);
    return Promise.all([files, statistics]).then(
      ([f, s]) =>
        f.files.filter((file) => keep(file.values)).length - s.files.filter((file) => keep(file.values)).length,
    );
  }

  @FieldResolver(() => DateTimeScalar, {
    description:
      'When the data (the newest file, or the last change a writer announced, such as a correction that only removed rows) or the schema last changed, whichever is later. Under a row filter of the access policy on a partition key, the newest file of the partitions it leaves you.',
  })
  lastUpdated(@Root() dataset: Dataset, @Ctx() ctx: ApiContext): MaybePromise<Date> {
    const keep = keptPartitions(dataset);
    return ctx.services.datasets.lastUpdated(dataset.table, ctx.loaders.datasets, keep);
  }

  @FieldResolver(() => Freshness)
  freshness(@Root() dataset: Dataset, @Ctx() ctx: ApiContext): MaybePromise<Freshness> {
    const keep = keptPartitions(dataset);
    const statistics = ctx.services.access.can(callerOf(ctx), 'canSeeStats');
    return mapMaybe(
      ctx.services.datasets.freshness(dataset.table, ctx.loaders.datasets, dataset.grant, keep, statistics),
      (f) => Freshness.from(f),
    );
  }

  @FieldResolver(() => PartitionConnection, {
    description:
      "Partitions in name order, a page at a time (`first` at most 100): the catalog's partitions and any found in the files. Partitions are named by the partition keys you may see. Under a row filter of the access policy, the partitions its predicates on partition keys rule out are not listed (their values are those of rows you may not read); a row filter on other columns leaves every partition listed.",
  })
  async partitions(
    @Root() dataset: Dataset,
    @Ctx() ctx: ApiContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20, description: 'Page size, 1 to 100.' })
    first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('filter', () => [PartitionFilterInput], { nullable: true }) filter: PartitionFilterInput[] | null,
  ): Promise<PartitionConnection> {
    // Named and filtered by the partition keys shown as they are: a masked key is left out, as a hidden one is.
    const table = withoutMaskedPartitionKeys(dataset.grant, dataset.table);
    const keep = keptPartitions(dataset);
    const page = await ctx.services.datasets.partitions(table, { first, after, filter, keep }, ctx.loaders.datasets);
    const keys = table.partitionKeys.map((k) => k.name);
    const rowFiltered = !aggregatesVisible(dataset.grant);
    const runsHidden = rowFiltered || !partitionValuesVisible(dataset.grant, dataset.source);
    return toConnection(page, (p) => Partition.from(table.name, keys, p, rowFiltered, runsHidden));
  }

  @FieldResolver(() => DatasetPreview, {
    description:
      'The first rows you may see, read from as few files as hold them. `limit` is at most 100. Masked columns come out masked; FORBIDDEN unless your role may preview.',
  })
  async preview(
    @Root() dataset: Dataset,
    @Ctx() ctx: ApiContext,
    @Arg('limit', () => Int, { nullable: true, defaultValue: 10, description: 'Rows, 0 to 100.' })
    limit: number | null,
    @Arg('columns', () => [String], { nullable: true, description: 'Columns to return; all you see when absent.' })
    columns: string[] | null,
  ): Promise<DatasetPreview> {
    ctx.services.access.requireCapability(callerOf(ctx), 'canPreview', 'preview', dataset.name);
    const preview = await ctx.services.datasets.preview(
      dataset.source,
      dataset.grant,
      { limit, columns },
      ctx.loaders.datasets,
    );
    return Object.assign(new DatasetPreview(), { columns: preview.columns.map((c) => c.name), rows: preview.rows });
  }

  @FieldResolver(() => [SchemaVersionType], {
    description:
      'Every schema version, oldest first, each with its change from the one before; only the columns you may see.',
  })
  async schemaVersions(@Root() dataset: Dataset, @Ctx() ctx: ApiContext): Promise<SchemaVersionType[]> {
    const caller = callerOf(ctx);
    const versions = await ctx.services.datasets.schemaHistory(dataset.source, (columns) =>
      ctx.services.access.visibleSchemaColumns(caller, dataset.source, columns),
    );
    return versions.map((v) => SchemaVersionType.from(v));
  }
}

/** Judged once per Dataset of an answer, for its several fields. */
const kept = new WeakMap<Dataset, { keep: PartitionKeep | undefined }>();

/** The partitions the caller's row filter leaves it of a dataset (policy.ts partitionsKept), by their values. */
function keptPartitions(dataset: Dataset): PartitionKeep | undefined {
  let entry = kept.get(dataset);
  if (entry === undefined) {
    entry = { keep: partitionsKept(dataset.grant, dataset.source) };
    kept.set(dataset, entry);
  }
  return entry.keep;
}

/**
 * Loads what the selected fields need from the files of every dataset of the answer, all at once, so that those
 * fields then answer synchronously (see DatasetService.prefetch).
 */
async function prefetch(ctx: ApiContext, datasets: readonly Dataset[], demand: DatasetDemand): Promise<void> {
  if (!demand.files || datasets.length === 0) return;
  await ctx.services.datasets.prefetch(
    datasets.map((d) => d.table),
    ctx.loaders.datasets,
    { statistics: demand.statistics },
  );
}
