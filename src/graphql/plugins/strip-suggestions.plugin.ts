import type { ApolloServerPlugin, BaseContext } from '@apollo/server';

const SUGGESTION = / ?Did you mean(.+?)\?$/;

/**
 * Removes graphql-js's "Did you mean ...?" hints from every error message, outside development: they name fields,
 * arguments and enum values a client did not ask for, which maps the schema even with introspection off. Apollo's
 * own `hideSchemaDetailsFromClientErrors` covers validation errors only; this also covers variable coercion errors
 * raised during execution (`Value "X" does not exist in "Status" enum. Did you mean the enum value "Y"?`).
 * Runs in `didEncounterErrors`, which Apollo calls before it formats errors.
 */
export function stripSuggestionsPlugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors }) {
          for (const error of errors) error.message = withoutSuggestion(error.message);
        },
      };
    },
  };
}

/** A message without graphql-js's trailing "Did you mean ...?" hint; the websocket path applies it too. */
export function withoutSuggestion(message: string): string {
  return message.replace(SUGGESTION, '');
}
