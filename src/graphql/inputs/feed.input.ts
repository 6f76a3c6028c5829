import { Field, InputType } from 'type-graphql';
import { ExportRequestInput } from './export-request.input.js';

@InputType('CreateFeedInput', { description: 'A new BI feed: a name and the export it serves.' })
export class CreateFeedInput {
  @Field({
    description: '1 to 64 lower-case letters, digits, "_" or "-", starting with a letter or digit; unique.',
  })
  name!: string;

  @Field(() => ExportRequestInput, {
    description:
      'The export, as for `requestExport` (validated the same way; `idempotencyKey` is ignored). Every build runs it again on the data as it is then.',
  })
  request!: ExportRequestInput;
}
