import { registerEnumType } from 'type-graphql';
import type { ColumnKind } from '../../domain/column-type.js';

/** The column types of the API: one set for every catalog and engine (see src/domain/column-type.ts). */
export enum ColumnTypeEnum {
  STRING = 'STRING',
  INT = 'INT',
  BIGINT = 'BIGINT',
  FLOAT = 'FLOAT',
  DOUBLE = 'DOUBLE',
  BOOLEAN = 'BOOLEAN',
  TIMESTAMP = 'TIMESTAMP',
  DATE = 'DATE',
  DECIMAL = 'DECIMAL',
}

registerEnumType(ColumnTypeEnum, {
  name: 'ColumnType',
  description:
    'Kind of a column. DECIMAL carries its precision and scale in `Column.precision`/`Column.scale`, and `Column.typeText` spells the whole type, e.g. `decimal(12,2)`.',
  valuesConfig: {
    STRING: { description: 'UTF-8 text.' },
    INT: { description: '32-bit signed integer.' },
    BIGINT: { description: '64-bit signed integer.' },
    FLOAT: { description: '32-bit IEEE 754 floating point.' },
    DOUBLE: { description: '64-bit IEEE 754 floating point.' },
    BOOLEAN: { description: 'true or false.' },
    TIMESTAMP: { description: 'An instant in UTC, microsecond precision.' },
    DATE: { description: 'A calendar day.' },
    DECIMAL: { description: 'Exact decimal number with a fixed precision and scale.' },
  },
});

export function columnTypeEnum(kind: ColumnKind): ColumnTypeEnum {
  return kind.toUpperCase() as ColumnTypeEnum;
}
