import { Field, Float, ObjectType } from 'type-graphql';
import type { ExportJobProgress } from '../../domain/export-job.js';
import { SafeIntScalar } from '../scalars.js';

@ObjectType('ExportProgress', { description: 'How far an export job is.' })
export class ExportProgress {
  @Field(() => SafeIntScalar, { description: 'Rows written: estimated from the scan while running, exact when done.' })
  rowsWritten!: number;

  @Field(() => SafeIntScalar, { description: 'Rows expected, from the pre-flight estimate capped by the limit.' })
  rowsEstimated!: number;

  @Field(() => SafeIntScalar, { description: 'CSV bytes written so far.' })
  bytesWritten!: number;

  @Field(() => Float, { description: 'From 0 to 1.' })
  fraction!: number;

  static from(p: ExportJobProgress): ExportProgress {
    return Object.assign(new ExportProgress(), {
      rowsWritten: p.rowsWritten,
      rowsEstimated: p.rowsEstimated,
      bytesWritten: p.bytesWritten,
      fraction: p.fraction,
    });
  }
}
