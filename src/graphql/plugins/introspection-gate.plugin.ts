import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { type FragmentDefinitionNode, Kind, type SelectionSetNode } from 'graphql';
import { ForbiddenError } from '../../auth/auth-errors.js';
import { toRequestError } from '../errors.js';

/** The refusal where introspection is turned off for everyone (config.limits.introspection false). */
export const INTROSPECTION_OFF = 'schema introspection is turned off on this server (CAREPLUS_INTROSPECTION=false)';

/**
 * Lets only callers that may (`mayIntrospect`: where introspection is enabled, the roles with the `canUseGraphiql`
 * capability; where it is disabled, no one) run `__schema` / `__type`, refusing the others with FORBIDDEN and
 * `refusal`; `__typename` is always allowed. Apollo's own switch is left on: its refusal told operators to "pass
 * introspection: true to ApolloServer", not which setting turned it off.
 */
export function introspectionGatePlugin<TContext extends BaseContext>(
  mayIntrospect: (context: TContext) => boolean,
  refusal = 'schema introspection is not allowed for your role',
): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, contextValue }) {
          if (operation === undefined) return;
          const fragments = new Map<string, FragmentDefinitionNode>();
          for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
          if (selectsIntrospection(operation.selectionSet, fragments, new Set()) && !mayIntrospect(contextValue)) {
            // Thrown before execution: toRequestError carries the HTTP status (403) Apollo would otherwise make a 500.
            throw toRequestError(new ForbiddenError(refusal));
          }
        },
      };
    },
  };
}

/** Whether a root selection set asks for `__schema` or `__type` (directly or through fragments). */
function selectsIntrospection(
  set: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  seen: Set<string>,
): boolean {
  return set.selections.some((s) => {
    if (s.kind === Kind.FIELD) return s.name.value === '__schema' || s.name.value === '__type';
    if (s.kind === Kind.INLINE_FRAGMENT) return selectsIntrospection(s.selectionSet, fragments, seen);
    const f = fragments.get(s.name.value);
    if (f === undefined || seen.has(s.name.value)) return false;
    seen.add(s.name.value);
    return selectsIntrospection(f.selectionSet, fragments, seen);
  });
}
