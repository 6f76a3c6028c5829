import { Field, Int, ObjectType } from 'type-graphql';
import type {
  DatasetPipelineStatus as DatasetStatusRecord,
  PipelineStatus as StatusRecord,
} from '../../services/pipeline-service.js';
import { DateTimeScalar, SafeIntScalar } from '../scalars.js';
import { Freshness } from './freshness.type.js';
import { PipelineHealthEnum } from './pipeline-health.enum.js';
import { PipelineRun } from './pipeline-run.type.js';

@ObjectType('DatasetPipelineStatus', { description: 'Pipeline health of one dataset.' })
export class DatasetPipelineStatus {
  @Field()
  dataset!: string;

  @Field(() => PipelineHealthEnum)
  health!: PipelineHealthEnum;

  @Field(() => PipelineRun, { nullable: true, description: 'The most recently started run.' })
  lastRun!: PipelineRun | null;

  @Field(() => PipelineRun, { nullable: true, description: 'The most recently started run that succeeded.' })
  lastSuccess!: PipelineRun | null;

  @Field(() => PipelineRun, {
    nullable: true,
    description:
      'The most recently started run that failed (with its error): why health is FAILING when the last run was a skipped re-ingest.',
  })
  lastFailure!: PipelineRun | null;

  @Field(() => Int, { description: 'Runs started within the window.' })
  runCount!: number;

  @Field(() => Int, { description: 'Failed runs started within the window.' })
  failureCount!: number;

  @Field(() => SafeIntScalar, {
    description:
      'Rows quarantined by runs started within the window: rows rejected into a quarantine file (a run that failed `no_valid_records` publishes none; its rejects are only counted on the run).',
  })
  rowsQuarantined!: number;

  @Field(() => Freshness, {
    nullable: true,
    description: 'Null while the dataset has no table (no run succeeded yet).',
  })
  freshness!: Freshness | null;

  static from(status: DatasetStatusRecord): DatasetPipelineStatus {
    return Object.assign(new DatasetPipelineStatus(), {
      dataset: status.dataset,
      health: status.health as PipelineHealthEnum,
      lastRun: status.lastRun === null ? null : PipelineRun.from(status.lastRun),
      lastSuccess: status.lastSuccess === null ? null : PipelineRun.from(status.lastSuccess),
      lastFailure: status.lastFailure === null ? null : PipelineRun.from(status.lastFailure),
      runCount: status.runCount,
      failureCount: status.failureCount,
      rowsQuarantined: status.rowsQuarantined,
      freshness: status.freshness === null ? null : Freshness.from(status.freshness),
    });
  }
}

@ObjectType('PipelineStatus', { description: 'Pipeline health of every dataset over a window of time.' })
export class PipelineStatus {
  @Field(() => DateTimeScalar)
  windowStart!: Date;

  @Field(() => DateTimeScalar)
  windowEnd!: Date;

  @Field(() => [DatasetPipelineStatus], { description: 'One entry per dataset, in name order.' })
  datasets!: DatasetPipelineStatus[];

  static from(status: StatusRecord): PipelineStatus {
    return Object.assign(new PipelineStatus(), {
      windowStart: status.windowStart,
      windowEnd: status.windowEnd,
      datasets: status.datasets.map((d) => DatasetPipelineStatus.from(d)),
    });
  }
}
