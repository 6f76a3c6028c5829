import { GraphQLDateTime, GraphQLSafeInt } from 'graphql-scalars';

/**
 * Scalars of the API.
 *
 * - `DateTime`: an RFC 3339 instant in UTC, serialised as `2024-01-01T10:00:00.000Z`.
 * - `SafeInt`: a whole number in ±(2^53 − 1), sent as a plain JSON number. Row counts and byte sizes use it:
 *   GraphQL `Int` is 32-bit (a 3 GB dataset would not fit), while every JSON parser, JavaScript's included,
 *   reads integers up to 2^53 exactly (9 PB, 9 × 10^15 rows). A string-encoded BigInt would cost every
 *   client a conversion for sizes no dataset here reaches.
 */
export const DateTimeScalar = GraphQLDateTime;
export const SafeIntScalar = GraphQLSafeInt;
