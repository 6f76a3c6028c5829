import { Field, Int, ObjectType } from 'type-graphql';
import type { DatasetAccess } from '../../auth/access-control.js';
import type { EffectiveGrant } from '../../domain/export-grant.js';
import { restrictTable } from '../../domain/policy.js';
import type { TableDefinition } from '../../domain/table.js';
import { Column } from './column.type.js';
import { DatasetOriginEnum, datasetOriginEnum } from './dataset-origin.enum.js';

/**
 * A dataset as the API shows it to one caller: only the columns the caller's grant shows. Figures that need the
 * files (row count, size, statistics) are field resolvers in DatasetResolver, so a client that does not ask for
 * them costs no store call. Made only from a DatasetAccess, so no dataset reaches a client unchecked.
 */
@ObjectType('Dataset', {
  description: 'A table of analyst-ready Parquet data in the processed bucket.',
  // Plain fields read the property with GraphQL's default resolver: no type-graphql wrapper per field and request.
  simpleResolvers: true,
})
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

  /** The catalog record as the caller may see it (hidden columns removed): what metadata is read from. */
  table!: TableDefinition;
  /** The whole catalog record, for reads under the grant (a row filter may use hidden columns); not in the schema. */
  source!: TableDefinition;
  /** The caller's grant on the dataset; not part of the schema. */
  grant!: EffectiveGrant;

  static from(access: DatasetAccess): Dataset {
    const { grant } = access;
    const table = restrictTable(grant, access.table);
    return Object.assign(new Dataset(), {
      name: table.name,
      description: table.description,
      columns: table.columns.map((c) => Column.from(table, c, false, grant)),
      partitionKeys: table.partitionKeys.map((c) => Column.from(table, c, true, grant)),
      schemaVersion: table.schemaVersion,
      origin: datasetOriginEnum(table.origin),
      table,
      source: access.table,
      grant,
    });
  }
}
