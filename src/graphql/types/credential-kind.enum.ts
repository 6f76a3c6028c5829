import { registerEnumType } from 'type-graphql';

export enum CredentialKindEnum {
  API_KEY = 'API_KEY',
  JWT = 'JWT',
}

registerEnumType(CredentialKindEnum, {
  name: 'CredentialKind',
  description: 'How a caller signed in.',
  valuesConfig: {
    API_KEY: { description: 'An API key (`careplus keys create`).' },
    JWT: { description: 'A JWT bearer token from the configured identity provider.' },
  },
});
