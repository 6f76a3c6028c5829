import { Field, Float, ObjectType } from 'type-graphql';
import type { ExportJobProgress } from '../../domain/export-job.js';
import { SafeIntScalar } from '../scalars.js';

@ObjectType('ExportProgress', { description: 'How far an export job is.' })
export class ExportProgress {
  @Field(() => SafeIntScalar, {
    description:
      'Rows written: estimated from the scan while running, exact once SUCCEEDED. When the request has a `where`, or runs under a row filter of the access policy, only the exact count is shown (0 before): the running estimate scales the unfiltered row count (and would fall back when the count arrives), and under a row filter it counts rows you may not see.',
  })
  rowsWritten!: number;

  @Field(() => SafeIntScalar, {
    nullable: true,
    description:
      "Rows expected, from the pre-flight estimate capped by the limit: an upper bound when the request has a `where` (the estimate counts the files' rows). Null under a row filter of the access policy, as `ExportEstimate.rows`.",
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
   * engine's row figure (the scanned fraction of the estimate); only the final, exact count is shown. `filtered`: the
   * request has a `where`, so that running figure overstates the rows (a helper saw 2,142,660 fall to 600,782).
   */
  static from(p: ExportJobProgress, rowFiltered: boolean, exact: boolean, filtered = false): ExportProgress {
    return Object.assign(new ExportProgress(), {
      rowsWritten: (rowFiltered || filtered) && !exact ? 0 : p.rowsWritten,
      rowsEstimated: rowFiltered ? null : p.rowsEstimated,
      bytesWritten: p.bytesWritten,
      fraction: p.fraction,
    });
  }
}
