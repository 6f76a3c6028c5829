import { Field, InputType } from 'type-graphql';

@InputType('CsvOptionsInput', { description: 'How the CSV is written. Every field is optional.' })
export class CsvOptionsInput {
  @Field(() => Boolean, { nullable: true, description: 'A header row at the start of every file. Default true.' })
  header?: boolean | null;

  @Field(() => String, {
    nullable: true,
    description: 'One printable ASCII character (not a double quote) or tab. Default `,`.',
  })
  delimiter?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Double-quote every value. Default false.' })
  quoteAll?: boolean | null;

  @Field(() => String, { nullable: true, description: 'Text for null, at most 32 characters. Default empty.' })
  nullText?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'A UTF-8 byte order mark for Excel. Default false.' })
  bom?: boolean | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      "Make text cells starting with =, +, -, @, tab or CR inert with a leading ' (OWASP). Numbers, dates and booleans are never altered. Default true.",
  })
  neutralizeFormulas?: boolean | null;
}
