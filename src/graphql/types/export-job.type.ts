import { Field, ID, ObjectType } from 'type-graphql';
import type { ExportJobView } from '../../domain/export-job.js';
import { DateTimeScalar } from '../scalars.js';
import { ExportEngineEnum, exportEngineEnum } from './export-engine.enum.js';
import { ExportError } from './export-error.type.js';
import { ExportEstimateType } from './export-estimate.type.js';
import { ExportProgress } from './export-progress.type.js';
import { ExportRequestType } from './export-request.type.js';
import { ExportResult } from './export-result.type.js';
import { ExportStatusEnum, exportStatusEnum } from './export-status.enum.js';

@ObjectType('ExportJob', {
  description:
    'An export of a dataset slice to CSV. Read it again (`export(id)`) for progress and, once SUCCEEDED, fresh download links.',
})
export class ExportJob {
  @Field(() => ID)
  id!: string;

  @Field(() => ExportStatusEnum)
  status!: ExportStatusEnum;

  @Field(() => ExportEngineEnum)
  engine!: ExportEngineEnum;

  @Field({ description: 'The dataset exported.' })
  dataset!: string;

  @Field(() => ExportRequestType)
  request!: ExportRequestType;

  @Field(() => ExportProgress)
  progress!: ExportProgress;

  @Field(() => ExportEstimateType, { description: 'The pre-flight estimate made when the job was requested.' })
  estimate!: ExportEstimateType;

  @Field(() => DateTimeScalar)
  createdAt!: Date;

  @Field(() => DateTimeScalar, { nullable: true, description: 'When the current run started; null while queued.' })
  startedAt!: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  finishedAt!: Date | null;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: 'When retention deletes the result (the job then says EXPIRED); null until it succeeds.',
  })
  expiresAt!: Date | null;

  @Field({ description: 'Id of the caller who requested it.' })
  requestedBy!: string;

  @Field(() => ExportError, { nullable: true, description: 'Set when FAILED.' })
  error!: ExportError | null;

  @Field(() => ExportResult, {
    nullable: true,
    description: 'Set once SUCCEEDED (and kept, without links, when it expires).',
  })
  result!: ExportResult | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      'Set by `requestExport` only: true when it answered with a job that already existed (the same request on unchanged data, maybe from another client of yours), false when it started this one. A client that did not start a job should not cancel it when its own user gives up. Null when read otherwise.',
  })
  reused!: boolean | null;

  @Field(() => String, {
    nullable: true,
    description:
      "Set by `requestExport` only: this request's place among the requests waiting for the job, to pass to `releaseExport` when it gives up (the same for every repeat of a request with one idempotency key). Null when read otherwise.",
  })
  waiter!: string | null;

  static from(job: ExportJobView): ExportJob {
    // The normalised request carries the grant's row filter: under one, whole-file row figures are not shown.
    const rowFiltered = job.request.rowFilter.length > 0;
    return Object.assign(new ExportJob(), {
      id: job.id,
      status: exportStatusEnum(job.status),
      engine: exportEngineEnum(job.engine),
      dataset: job.dataset,
      request: ExportRequestType.from(job.request),
      // Only a succeeded job's row count is exact (a failed or cancelled one keeps the last running estimate).
      progress: ExportProgress.from(
        job.progress,
        rowFiltered,
        job.status === 'SUCCEEDED' || job.status === 'EXPIRED',
        job.request.where.length > 0,
      ),
      estimate: ExportEstimateType.from(job.estimate, rowFiltered),
      createdAt: job.createdAt,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
      expiresAt: job.expiresAt,
      requestedBy: job.requestedBy,
      error: job.error === null ? null : ExportError.from(job.error),
      result: job.result === null ? null : ExportResult.from(job.result),
      reused: null,
      waiter: null,
    });
  }
}
