import {
  type ASTVisitor,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { limitExceeded } from './limit-exceeded.js';

/**
 * A validation rule refusing operations nested deeper than `maxDepth` fields (config.limits.maxQueryDepth), with
 * LIMIT_EXCEEDED. Root fields are depth 1; fragments count where they are spread. Introspection fields (`__schema`,
 * `__type`, `__typename`) are left to graphql-js's own MaxIntrospectionDepthRule, so GraphiQL and codegen keep
 * working. Counting stops one level past the limit, so a hostile document costs no more than a legal one to check.
 * Works anywhere rules run: Apollo's `validationRules` and graphql-ws's `onSubscribe` validation alike.
 */
export function depthLimitRule(maxDepth: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node: OperationDefinitionNode) {
      const depth = selectionDepth(context, node.selectionSet, maxDepth + 1, new Set());
      if (depth > maxDepth) {
        const name = node.name?.value;
        context.reportError(
          limitExceeded(
            `${name !== undefined ? `operation "${name}"` : 'the operation'} is nested deeper than the limit of ${maxDepth} levels`,
            { nodes: [node] },
          ),
        );
      }
    },
  });
}

/** Depth of the deepest field under a selection set, counted up to `cap`. */
function selectionDepth(
  context: ValidationContext,
  set: SelectionSetNode,
  cap: number,
  fragmentsOnPath: Set<string>,
): number {
  let deepest = 0;
  for (const selection of set.selections) {
    if (deepest >= cap) break;
    switch (selection.kind) {
      case Kind.FIELD: {
        if (selection.name.value.startsWith('__')) break;
        const below =
          selection.selectionSet === undefined || cap <= 1
            ? 0
            : selectionDepth(context, selection.selectionSet, cap - 1, fragmentsOnPath);
        deepest = Math.max(deepest, 1 + below);
        break;
      }
      case Kind.INLINE_FRAGMENT:
        deepest = Math.max(deepest, selectionDepth(context, selection.selectionSet, cap, fragmentsOnPath));
        break;
      case Kind.FRAGMENT_SPREAD: {
        const name = selection.name.value;
        const fragment = context.getFragment(name);
        // Unknown and cyclic fragments are other rules' errors; here they add no depth.
        if (fragment === null || fragment === undefined || fragmentsOnPath.has(name)) break;
        fragmentsOnPath.add(name);
        deepest = Math.max(deepest, selectionDepth(context, fragment.selectionSet, cap, fragmentsOnPath));
        fragmentsOnPath.delete(name);
        break;
      }
    }
  }
  return deepest;
}
