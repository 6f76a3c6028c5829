import { registerEnumType } from 'type-graphql';

export enum SchemaCompatibilityEnum {
  SAFE = 'SAFE',
  WIDENING = 'WIDENING',
  BREAKING = 'BREAKING',
}

registerEnumType(SchemaCompatibilityEnum, {
  name: 'SchemaCompatibility',
  description: 'How a schema change affects readers of the data.',
  valuesConfig: {
    SAFE: { description: 'Old readers and old files keep working (e.g. a nullable column added).' },
    WIDENING: {
      description:
        'Every old value still fits, in a wider type or now possibly null (int to bigint, decimal(10,2) to decimal(12,2), required to nullable).',
    },
    BREAKING: {
      description: 'A column removed, narrowed or changed incompatibly, made required, or a required column added.',
    },
  },
});
