import { Field, ObjectType } from 'type-graphql';
import type { CsvOptions } from '../../domain/export-request.js';

@ObjectType('CsvOptions', { description: 'CSV options as the job applies them, defaults filled in.' })
export class CsvOptionsType {
  @Field({ description: 'A header row at the start of every file.' })
  header!: boolean;

  @Field({ description: 'One printable ASCII character, or tab.' })
  delimiter!: string;

  @Field({ description: 'Every value double-quoted.' })
  quoteAll!: boolean;

  @Field({ description: 'Text written for null.' })
  nullText!: string;

  @Field({ description: 'A UTF-8 byte order mark at the start of every file, for Excel.' })
  bom!: boolean;

  @Field({ description: "Text cells starting with =, +, -, @, tab or CR get a leading ' (OWASP CSV injection)." })
  neutralizeFormulas!: boolean;

  static from(c: CsvOptions): CsvOptionsType {
    return Object.assign(new CsvOptionsType(), { ...c });
  }
}
