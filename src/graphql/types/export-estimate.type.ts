import { Field, Int, ObjectType } from 'type-graphql';
import type { ExportEstimate } from '../../domain/export-plan.js';
import { SafeIntScalar } from '../scalars.js';

@ObjectType('ExportEstimate', {
  description:
    'The pre-flight figures of an export, from Parquet footers after partition pruning; other predicates are not counted, so `rows` is an upper bound.',
})
export class ExportEstimateType {
  @Field(() => SafeIntScalar, { description: 'Rows in the files to read.' })
  rows!: number;

  @Field(() => SafeIntScalar, { description: 'Parquet bytes to read.' })
  bytesToScan!: number;

  @Field(() => Int, { description: 'Partitions to read.' })
  partitions!: number;

  @Field(() => Int, { description: 'Files to read.' })
  files!: number;

  @Field(() => Int, { description: 'Files whose footer could not be read; an export of them fails with DATA_CORRUPT.' })
  unreadableFiles!: number;

  static from(e: ExportEstimate): ExportEstimateType {
    return Object.assign(new ExportEstimateType(), {
      rows: e.rows,
      bytesToScan: e.bytesToScan,
      partitions: e.partitions,
      files: e.files,
      unreadableFiles: e.unreadableFiles,
    });
  }
}
