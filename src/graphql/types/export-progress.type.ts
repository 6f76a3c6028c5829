import { Field, Float, ObjectType } from 'type-graphql';
import type { ExportJobProgress } from '../../domain/export-job.js';
import { SafeIntScalar } from '../scalars.js';

@ObjectType('ExportProgress', { description: 'How far an export job is.' })
export class ExportProgress {
  @Field(() => SafeIntScalar, {
    description:
      'Rows written: estimated from the scan while running, exact once SUCCEEDED. Under a row filter of the access policy only the exact count is shown (0 before), as the estimate counts rows you may not see.',
  })
  rowsWritten!: number;

  @Field(() => SafeIntScalar, {
    nullable: true,
    description:
      'Rows expected, from the pre-flight estimate capped by the limit. Null under a row filter of the access policy, as `ExportEstimate.rows`.',
  })
  rowsEstimated!: number | null;

  @Field(() => SafeIntScalar, {
    description:
      'Bytes written so far by the current step: the CSV while the query runs; for a GZIP export, the compressed parts once they are written (so it starts again from 0 and ends at the result size). Use `fraction` for a progress bar.',
  })
  bytesWritten!: number;

  @Field(() => Float, { description: 'From 0 to 1.' })
  fraction!: number;

  /**
   * `rowFiltered`: the job runs under a row filter. Its estimate counts every row of the files, and so does a running
   * engine's row figure (the scanned fraction of the estimate); only the final, exact count is shown.
   */
  static from(p: ExportJobProgress, rowFiltered: boolean, exact: boolean): ExportProgress {
    return Object.assign(new ExportProgress(), {
      rowsWritten: rowFiltered && !exact ? 0 : p.rowsWritten,
      rowsEstimated: rowFiltered ? null : p.rowsEstimated,
      bytesWritten: p.bytesWritten,
      fraction: p.fraction,
    });
  }
}
