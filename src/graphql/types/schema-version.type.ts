import { Field, Int, ObjectType } from 'type-graphql';
import type { TableColumn } from '../../domain/table.js';
import type { ColumnChange, SchemaDiff, SchemaVersionView } from '../../services/schema-history.js';
import { DateTimeScalar } from '../scalars.js';
import { ColumnTypeEnum, columnTypeEnum } from './column-type.enum.js';
import { SchemaCompatibilityEnum } from './schema-compatibility.enum.js';

@ObjectType('SchemaColumn', { description: 'A column as a schema version recorded it.' })
export class SchemaColumn {
  @Field()
  name!: string;

  @Field(() => ColumnTypeEnum)
  type!: ColumnTypeEnum;

  @Field()
  typeText!: string;

  @Field()
  nullable!: boolean;

  @Field()
  description!: string;

  @Field()
  pii!: boolean;

  static from(c: TableColumn): SchemaColumn {
    return Object.assign(new SchemaColumn(), {
      name: c.name,
      type: columnTypeEnum(c.kind),
      typeText: c.type,
      nullable: c.nullable,
      description: c.description,
      pii: c.pii,
    });
  }
}

@ObjectType('ColumnChange', { description: 'A column whose type or nullability changed.' })
export class ColumnChangeType {
  @Field()
  name!: string;

  @Field(() => SchemaColumn)
  from!: SchemaColumn;

  @Field(() => SchemaColumn)
  to!: SchemaColumn;

  @Field(() => SchemaCompatibilityEnum)
  compatibility!: SchemaCompatibilityEnum;

  static from(c: ColumnChange): ColumnChangeType {
    return Object.assign(new ColumnChangeType(), {
      name: c.name,
      from: SchemaColumn.from(c.from),
      to: SchemaColumn.from(c.to),
      compatibility: c.compatibility as SchemaCompatibilityEnum,
    });
  }
}

@ObjectType('SchemaChange', { description: 'The change from the previous schema version.' })
export class SchemaChange {
  @Field(() => [SchemaColumn])
  added!: SchemaColumn[];

  @Field(() => [SchemaColumn])
  removed!: SchemaColumn[];

  @Field(() => [ColumnChangeType], { description: 'Columns whose type or nullability changed.' })
  changed!: ColumnChangeType[];

  @Field(() => SchemaCompatibilityEnum, { description: 'The least compatible of the changes.' })
  compatibility!: SchemaCompatibilityEnum;

  static from(d: SchemaDiff): SchemaChange {
    return Object.assign(new SchemaChange(), {
      added: d.added.map((c) => SchemaColumn.from(c)),
      removed: d.removed.map((c) => SchemaColumn.from(c)),
      changed: d.changed.map((c) => ColumnChangeType.from(c)),
      compatibility: d.compatibility as SchemaCompatibilityEnum,
    });
  }
}

@ObjectType('SchemaVersion', { description: 'One version of the columns of a dataset.' })
export class SchemaVersionType {
  @Field(() => Int)
  version!: number;

  @Field(() => DateTimeScalar)
  createdAt!: Date;

  @Field(() => [SchemaColumn])
  columns!: SchemaColumn[];

  @Field(() => SchemaChange, { nullable: true, description: 'Null for the first version.' })
  change!: SchemaChange | null;

  static from(v: SchemaVersionView): SchemaVersionType {
    return Object.assign(new SchemaVersionType(), {
      version: v.version,
      createdAt: new Date(v.createdAt),
      columns: v.columns.map((c) => SchemaColumn.from(c)),
      change: v.change === null ? null : SchemaChange.from(v.change),
    });
  }
}
