import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { type FragmentDefinitionNode, Kind, type SelectionSetNode } from 'graphql';
import { ForbiddenError } from '../../auth/auth-errors.js';
import { toRequestError } from '../errors.js';

/**
 * Where introspection is enabled (config.limits.introspection), lets only callers whose role may (the
 * `canUseGraphiql` capability) run `__schema` / `__type`; `__typename` is always allowed. Where introspection is
 * disabled, Apollo refuses it for everyone at validation and this plugin is not needed.
 */
export function introspectionGatePlugin<TContext extends BaseContext>(
  mayIntrospect: (context: TContext) => boolean,
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
            throw toRequestError(new ForbiddenError('schema introspection is not allowed for your role'));
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
