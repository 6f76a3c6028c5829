import { Field, Int, ObjectType } from 'type-graphql';
import type { ExportEstimate } from '../../domain/export-plan.js';
import { SafeIntScalar } from '../scalars.js';

@ObjectType('ExportEstimate', {
  description:
    "The pre-flight figures of an export, from Parquet footers after partition pruning and pruning by the footers' statistics; `where` is not otherwise counted, so `rows` is an upper bound.",
})
export class ExportEstimateType {
  @Field(() => SafeIntScalar, {
    nullable: true,
    description:
      "Rows in the files to read: an upper bound on the rows exported, before `where` (applied while exporting; partition pruning, and under no row filter the files' min/max statistics, narrow the files) and `limit`. Null when the access policy filters your rows: the footers count every row of the files.",
  })
  rows!: number | null;

  @Field(() => SafeIntScalar, {
    nullable: true,
    description:
      "Parquet bytes to read: the compressed column chunks of the columns the export writes, filters on and sorts by, and each file's footer (either engine reads only those; a file whose footer could not be read counts whole). The scan limit applies to it. Null when the access policy filters your rows: bytes per row are easy to learn from a result of your own, so the size of every row would tell how many there are.",
  })
  bytesToScan!: number | null;

  @Field(() => Int, {
    nullable: true,
    description:
      'Partitions to read, named by the partition keys you see as they are (as `Dataset.partitions` names them). Null when the access policy hides or masks every partition key of the dataset from you: the count would be the number of distinct values of a column you may not see. Under a row filter it counts partitions whether or not they hold rows you may read.',
  })
  partitions!: number | null;

  @Field(() => Int, {
    description:
      'Files to read. Under a row filter it counts files whether or not they hold rows you may read (files are layout, as `Dataset.fileCount`).',
  })
  files!: number;

  @Field(() => Int, { description: 'Files whose footer could not be read; an export of them fails with DATA_CORRUPT.' })
  unreadableFiles!: number;

  /** `rowFiltered`: the request runs under a row filter of the access policy: no row count, no byte size. */
  static from(e: ExportEstimate, rowFiltered: boolean): ExportEstimateType {
    return Object.assign(new ExportEstimateType(), {
      rows: rowFiltered ? null : e.rows,
      bytesToScan: rowFiltered ? null : e.bytesToScan,
      partitions: e.partitions,
      files: e.files,
      unreadableFiles: e.unreadableFiles,
    });
  }
}
