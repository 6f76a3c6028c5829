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

  @Field(() => SafeIntScalar, { description: 'Rows in its readable files, from their footers.' })
  rowCount!: number;

  @Field(() => SafeIntScalar)
  sizeBytes!: number;

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

  static from(dataset: string, keys: readonly string[], p: PartitionSummary): Partition {
    return Object.assign(new Partition(), {
      name: p.name,
      values: keys
        .filter((k) => p.values[k] !== undefined)
        .map((k) => Object.assign(new PartitionValue(), { key: k, value: p.values[k]! })),
      rowCount: p.rowCount,
      sizeBytes: p.sizeBytes,
      fileCount: p.fileCount,
      unreadableFileCount: p.unreadableFileCount,
      lastModified: p.lastModified,
      registered: p.registered,
      dataset,
      fileKeys: p.fileKeys,
    });
  }
}
