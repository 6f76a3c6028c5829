import { Field, Int, ObjectType } from 'type-graphql';
import type { TableDefinition } from '../../domain/table.js';
import { Column } from './column.type.js';
import { DatasetOriginEnum, datasetOriginEnum } from './dataset-origin.enum.js';

/**
 * A dataset as the API shows it. Figures that need the files (row count, size, statistics) are field
 * resolvers in DatasetResolver, so a client that does not ask for them costs no store call.
 */
@ObjectType('Dataset', { description: 'A table of analyst-ready Parquet data in the processed bucket.' })
export class Dataset {
  @Field({ description: 'Unique name; datasets are listed in name order.' })
  name!: string;

  @Field()
  description!: string;

  @Field(() => [Column], { description: 'Data columns, in file order.' })
  columns!: Column[];

  @Field(() => [Column], { description: 'Partition key columns, in folder order (e.g. `event_date`).' })
  partitionKeys!: Column[];

  @Field(() => Int, { description: 'Current schema version; it grows by one with every change of the columns.' })
  schemaVersion!: number;

  @Field(() => DatasetOriginEnum)
  origin!: DatasetOriginEnum;

  /** The catalog record the field resolvers read; not part of the schema. */
  table!: TableDefinition;

  static from(table: TableDefinition): Dataset {
    return Object.assign(new Dataset(), {
      name: table.name,
      description: table.description,
      columns: table.columns.map((c) => Column.from(table, c, false)),
      partitionKeys: table.partitionKeys.map((c) => Column.from(table, c, true)),
      schemaVersion: table.schemaVersion,
      origin: datasetOriginEnum(table.origin),
      table,
    });
  }
}
