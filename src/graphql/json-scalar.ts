import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import type { JsonScalar } from '../domain/export-values.js';

/**
 * `JSONScalar`: one JSON string, number, boolean or null; never an object or a list. Export filter values use
 * it, so that a client sends `5`, `"5"` or `true` as it holds them and the service coerces each to its column's
 * type with an error naming the field. Objects and lists are refused here, before they reach the service.
 *
 * Integers beyond 2^53 lose digits as JSON numbers; give 64-bit integers as strings (the service refuses a number
 * that is no longer exact).
 */
export const JSONScalar = new GraphQLScalarType<JsonScalar, JsonScalar>({
  name: 'JSONScalar',
  description:
    'A JSON string, number, boolean or null (no objects or lists). Give 64-bit integers beyond 2^53 as strings.',
  serialize: scalarValue,
  parseValue: scalarValue,
  parseLiteral: (ast) => literal(ast),
});

function scalarValue(value: unknown): JsonScalar {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new GraphQLError(`JSONScalar cannot represent a non-finite number: ${value}`);
    return value;
  }
  throw new GraphQLError(`JSONScalar cannot represent ${describe(value)}: expected a string, number, boolean or null`);
}

function literal(ast: ValueNode): JsonScalar {
  switch (ast.kind) {
    case Kind.STRING:
      return ast.value;
    case Kind.ENUM:
      throw new GraphQLError(`JSONScalar cannot represent the bare word ${ast.value}: quote strings`, { nodes: ast });
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.NULL:
      return null;
    case Kind.LIST:
      throw new GraphQLError('JSONScalar cannot represent a list: expected a string, number, boolean or null', {
        nodes: ast,
      });
    case Kind.OBJECT:
      throw new GraphQLError('JSONScalar cannot represent an object: expected a string, number, boolean or null', {
        nodes: ast,
      });
    case Kind.VARIABLE:
      throw new GraphQLError('JSONScalar: a variable inside a literal is not supported', { nodes: ast });
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `a value of type ${typeof value}`;
}
