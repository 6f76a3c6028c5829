import { registerEnumType } from 'type-graphql';

export enum ExportFilterOpEnum {
  EQ = 'EQ',
  NE = 'NE',
  LT = 'LT',
  LTE = 'LTE',
  GT = 'GT',
  GTE = 'GTE',
  IN = 'IN',
  BETWEEN = 'BETWEEN',
  IS_NULL = 'IS_NULL',
  IS_NOT_NULL = 'IS_NOT_NULL',
  CONTAINS = 'CONTAINS',
  STARTS_WITH = 'STARTS_WITH',
}

registerEnumType(ExportFilterOpEnum, {
  name: 'ExportFilterOp',
  description: 'Operator of one export predicate. Comparisons use the column type; text compares by code point.',
  valuesConfig: {
    EQ: { description: 'Equal to the one value.' },
    NE: { description: 'Not equal to the one value (nulls do not match).' },
    LT: { description: 'Less than the one value.' },
    LTE: { description: 'Less than or equal to the one value.' },
    GT: { description: 'Greater than the one value.' },
    GTE: { description: 'Greater than or equal to the one value.' },
    IN: { description: 'Equal to one of the values (at least one).' },
    BETWEEN: { description: 'From the first to the second value, both inclusive.' },
    IS_NULL: { description: 'Null; takes no values.' },
    IS_NOT_NULL: { description: 'Not null; takes no values.' },
    CONTAINS: { description: 'Text containing the one value, case-sensitive (string columns).' },
    STARTS_WITH: { description: 'Text starting with the one value, case-sensitive (string columns).' },
  },
});
