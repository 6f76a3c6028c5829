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
        "The lower-case hex HMAC-SHA256 of the value as text under the deployment's secret key: equal values stay equal, so they still join and count, but a guessed value cannot be hashed and compared.",
    },
    REDACT: { description: 'The fixed text `REDACTED` in place of every value.' },
  },
});

export function maskMethodEnum(method: MaskMethod): MaskMethodEnum {
  return method === 'hash' ? MaskMethodEnum.HASH : MaskMethodEnum.REDACT;
}
