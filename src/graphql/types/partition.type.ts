import { Field, Int, ObjectType } from 'type-graphql';
import type { PartitionSummary } from '../../services/dataset-partitions.js';
import { DateTimeScalar, SafeIntScalar } from '../scalars.js';

@ObjectType('PartitionValue', { description: 'The value of one partition key.' })
export class PartitionValue {
  @Field()
  key!: string;

  @Field({ description: 'As text, as in the folder name (`__HIVE_DEFAULT_PARTITION__` stands for null).' })
  value!: string;
}

@ObjectType('Partition', { description: 'One partition of a dataset with figures from its files.' })
export class Partition {
  @Field({ description: 'Hive form, `event_date=2024-01-01`; partitions are listed in this order.' })
  name!: string;

  @Field(() => [PartitionValue], { description: "In the dataset's partition key order." })
  values!: PartitionValue[];

  @Field(() => SafeIntScalar, {
    nullable: true,
    description:
      'Rows in its readable files, from their footers. Null when the access policy filters your rows: footers count every row.',
  })
  rowCount!: number | null;

  @Field(() => SafeIntScalar, {
    nullable: true,
    description: 'Bytes of its data files. Null when the access policy filters your rows, as `rowCount`.',
  })
  sizeBytes!: number | null;

  @Field(() => Int)
  fileCount!: number;

  @Field(() => Int)
  unreadableFileCount!: number;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: 'Newest file write; null for a partition without files.',
  })
  lastModified!: Date | null;

  @Field({ description: 'The catalog has it registered (false: found only in the files).' })
  registered!: boolean;

  /** For the `producedBy` resolver; not part of the schema. */
  dataset!: string;
  fileKeys!: string[];
  /** Whether the caller's rows are filtered: then no whole-file figure is shown. Not part of the schema. */
  rowFiltered!: boolean;
  /**
   * Whether the runs that wrote it are not shown (`producedBy` answers empty): under a row filter, or when a
   * partition key is hidden or masked (run records name every partition and file). Not part of the schema.
   */
  runsHidden!: boolean;

  /** `rowFiltered`: the caller reads the dataset under a row filter, so whole-file figures are not shown. */
  static from(
    dataset: string,
    keys: readonly string[],
    p: PartitionSummary,
    rowFiltered: boolean,
    runsHidden = rowFiltered,
  ): Partition {
    return Object.assign(new Partition(), {
      name: p.name,
      values: keys
        .filter((k) => p.values[k] !== undefined)
        .map((k) => Object.assign(new PartitionValue(), { key: k, value: p.values[k]! })),
      rowCount: rowFiltered ? null : p.rowCount,
      sizeBytes: rowFiltered ? null : p.sizeBytes,
      fileCount: p.fileCount,
      unreadableFileCount: p.unreadableFileCount,
      lastModified: p.lastModified,
      registered: p.registered,
      dataset,
      fileKeys: p.fileKeys,
      rowFiltered,
      runsHidden,
    });
  }
}
