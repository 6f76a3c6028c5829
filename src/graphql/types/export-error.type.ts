import { Field, ObjectType } from 'type-graphql';
import type { ExportFailureCode } from '../../domain/export-job.js';
import { ExportErrorCodeEnum, exportErrorCodeEnum } from './export-error-code.enum.js';

@ObjectType('ExportError', { description: 'Why a job failed. The message never contains a key, a path or SQL.' })
export class ExportError {
  @Field(() => ExportErrorCodeEnum)
  code!: ExportErrorCodeEnum;

  @Field()
  message!: string;

  static from(e: { code: ExportFailureCode; message: string }): ExportError {
    return Object.assign(new ExportError(), { code: exportErrorCodeEnum(e.code), message: e.message });
  }
}
