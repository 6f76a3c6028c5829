import { registerEnumType } from 'type-graphql';
import type { MaskMethod } from '../../domain/export-grant.js';

export enum MaskMethodEnum {
  HASH = 'HASH',
  REDACT = 'REDACT',
}

registerEnumType(MaskMethodEnum, {
  name: 'MaskMethod',
  description: 'How the access policy shows a column to a caller who may see it only masked.',
  valuesConfig: {
    HASH: {
      description:
        "The lower-case hex SHA-256 of the deployment's secret key followed by the value as text (a double or float: its IEEE 754 bytes, big-endian; a timestamp: its export text): equal values stay equal, so they still join and count, but a guessed value cannot be hashed and compared without the key.",
    },
    REDACT: { description: 'The fixed text `REDACTED` in place of every value.' },
  },
});

export function maskMethodEnum(method: MaskMethod): MaskMethodEnum {
  return method === 'hash' ? MaskMethodEnum.HASH : MaskMethodEnum.REDACT;
}
