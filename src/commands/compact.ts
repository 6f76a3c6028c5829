import { type PartitionCompaction, compactPartition, countParquetFiles } from '../../lambda/pipeline/compact.js';
import { partitionPrefix } from '../../lambda/pipeline/lake-keys.js';
import { etlDepsOf } from '../../lambda/runtime.js';
import type { Runtime } from '../composition.js';
import { BadInputError, NotFoundError } from '../domain/errors.js';
import { etlDataset } from './etl-dataset.js';

/** Partition values are days (the partition column is the day of a timestamp or date column). */
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * `careplus compact --dataset <name> [--partition <yyyy-mm-dd>]`: merges each partition's small Parquet files
 * (all partitions by default) and prints one line per partition: Parquet files before → after, and the rows of
 * the merged files before → after (duplicates dropped). Returns what was done, partition by partition.
 */
export async function compact(
  rt: Runtime,
  dataset: string,
  partition?: string,
  out: (text: string) => void = (t) => process.stdout.write(t),
  stopRequested: () => boolean = () => false,
): Promise<PartitionCompaction[]> {
  const def = await etlDataset(rt, dataset, 'compacted');
  // A calendar day: 2024-13-01 matches the pattern but is none (Date rolls it over into another day).
  if (partition !== undefined && !(DAY.test(partition) && isoDay(partition) === partition)) {
    throw new BadInputError(`partition "${partition}" is not a day (yyyy-mm-dd)`);
  }
  // A day with no files is no partition to readers either: say so, rather than "nothing to merge" (a typo'd date
  // would otherwise look like a partition already compacted).
  if (
    partition !== undefined &&
    !(await hasParquetFiles(rt, partitionPrefix(dataset, def.partition.column, partition)))
  ) {
    throw new NotFoundError(`${dataset} has no partition ${def.partition.column}=${partition}`);
  }
  // Each partition's line as soon as it is done: a run over thousands of partitions printed nothing for minutes, and
  // nothing at all when it was killed.
  const printLine = async (r: PartitionCompaction): Promise<void> => {
    // Files now in the partition; before the merge there were the inputs instead of the outputs.
    const after = await countParquetFiles(rt.store, partitionPrefix(dataset, def.partition.column, r.partition));
    const before = r.stoppedRun?.filesBefore ?? after - r.outputKeys.length + r.inputKeys.length;
    // A compaction killed half-way is finished first: say so, rather than "nothing to merge" over files it merged.
    const stopped =
      r.stoppedRun === undefined
        ? undefined
        : r.stoppedRun.outcome === 'completed'
          ? 'finished the merge of a compaction that had stopped after its commit'
          : 'rolled back the upload of a compaction that had stopped before its commit';
    const rows =
      r.inputKeys.length === 0
        ? stopped === undefined
          ? 'nothing to merge'
          : `${stopped}; nothing more to merge`
        : `rows ${r.rowsBefore} → ${r.rowsAfter} (${r.rowsDuplicate} duplicate)\tbytes ${r.bytesBefore} → ${r.bytesAfter}` +
          (stopped === undefined ? '' : `\t(first ${stopped})`);
    out(`${dataset} ${def.partition.column}=${r.partition}\tfiles ${before} → ${after}\t${rows}\n`);
  };
  const results = await compactPartition(etlDepsOf(rt), dataset, partition, { stopRequested, onPartition: printLine });
  if (results.length === 0 && !stopRequested()) out(`${dataset}: no partitions\n`);
  if (stopRequested()) out(`interrupted: partitions after the ${results.length} above were not compacted\n`);
  return results;
}

async function hasParquetFiles(rt: Runtime, prefix: string): Promise<boolean> {
  for await (const o of rt.store.listAll('processed', prefix)) if (o.key.endsWith('.parquet')) return true;
  return false;
}

function isoDay(day: string): string | undefined {
  const t = Date.parse(`${day}T00:00:00Z`);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString().slice(0, 10);
}
