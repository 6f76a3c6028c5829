import { registerEnumType } from 'type-graphql';

export enum SortDirectionEnum {
  ASC = 'ASC',
  DESC = 'DESC',
}

registerEnumType(SortDirectionEnum, {
  name: 'SortDirection',
  description: 'Order of a sort key.',
  valuesConfig: {
    ASC: { description: 'Smallest first.' },
    DESC: { description: 'Largest first.' },
  },
});
