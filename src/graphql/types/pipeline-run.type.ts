import { Field, Int, ObjectType } from 'type-graphql';
import type { RunRecord } from '../../domain/run-record.js';
import { DateTimeScalar, SafeIntScalar } from '../scalars.js';
import { RunStatusEnum } from './run-status.enum.js';

@ObjectType('RunError', { description: 'Why a run failed as a whole.' })
export class RunError {
  @Field({ description: 'Machine-readable reason, e.g. `truncated_gzip`, `too_large`, `incompatible_schema`.' })
  reason!: string;

  @Field()
  message!: string;
}

@ObjectType('PipelineRun', { description: 'One ETL run over one source object, from its run record.' })
export class PipelineRun {
  @Field()
  runId!: string;

  @Field()
  dataset!: string;

  @Field(() => RunStatusEnum)
  status!: RunStatusEnum;

  @Field({ description: 'Key of the source object in the raw bucket.' })
  sourceKey!: string;

  @Field({ description: 'Version id of the source object, or its ETag where the store has no versions.' })
  sourceVersion!: string;

  @Field(() => SafeIntScalar)
  rowsRead!: number;

  @Field(() => SafeIntScalar)
  rowsWritten!: number;

  @Field(() => SafeIntScalar, { description: 'Rows sent to quarantine with a reason.' })
  rowsRejected!: number;

  @Field(() => SafeIntScalar, { description: 'Rows dropped as duplicates of an event already in the partition.' })
  rowsDuplicate!: number;

  @Field(() => SafeIntScalar)
  bytesRead!: number;

  @Field(() => SafeIntScalar)
  bytesWritten!: number;

  /** Every file the run wrote; served a slice at a time by the `outputKeys` field (pipeline-run.resolver.ts). */
  allOutputKeys!: string[];

  @Field(() => Int, { description: 'Parquet files the run wrote (`outputKeys` lists them a slice at a time).' })
  outputCount!: number;

  @Field(() => String, {
    nullable: true,
    description: 'Processed key of the quarantine file, when rows were rejected.',
  })
  quarantineKey!: string | null;

  /** Every partition the run wrote; served a slice at a time by the `partitions` field. */
  allPartitions!: string[];

  @Field(() => Int, { description: 'Partitions the run wrote (`partitions` lists them a slice at a time).' })
  partitionCount!: number;

  @Field(() => Int, { nullable: true })
  schemaVersion!: number | null;

  @Field(() => DateTimeScalar)
  startedAt!: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  finishedAt!: Date | null;

  @Field(() => SafeIntScalar, { nullable: true })
  durationMs!: number | null;

  /** The run's error as recorded; the `error` field (pipeline-run.resolver.ts) shows it as the caller may see it. */
  runError!: RunError | null;

  /** The run's warnings as recorded; the `warnings` field shows those the caller may see. */
  runWarnings!: string[];

  static from(run: RunRecord): PipelineRun {
    return Object.assign(new PipelineRun(), {
      runId: run.runId,
      dataset: run.dataset,
      status: run.status as RunStatusEnum,
      sourceKey: run.sourceKey,
      sourceVersion: run.sourceVersion,
      rowsRead: run.rowsRead,
      rowsWritten: run.rowsWritten,
      rowsRejected: run.rowsRejected,
      rowsDuplicate: run.rowsDuplicate,
      bytesRead: run.bytesRead,
      bytesWritten: run.bytesWritten,
      allOutputKeys: run.outputKeys,
      outputCount: run.outputKeys.length,
      quarantineKey: run.quarantineKey,
      allPartitions: run.partitions,
      partitionCount: run.partitions.length,
      schemaVersion: run.schemaVersion,
      startedAt: new Date(run.startedAt),
      finishedAt: run.finishedAt === null ? null : new Date(run.finishedAt),
      durationMs: run.durationMs,
      runError: run.error === null ? null : Object.assign(new RunError(), run.error),
      runWarnings: run.warnings ?? [],
    });
  }
}
