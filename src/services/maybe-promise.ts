/**
 * A value that is there already or will be. Metadata resolvers return figures synchronously once a request has
 * loaded them: GraphQL then completes the fields in the same turn, without a promise per field, which keeps the
 * garbage of a request short-lived (see DatasetService.prefetch).
 */
export type MaybePromise<T> = T | Promise<T>;

export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return value instanceof Promise;
}

/** `f(value)`, now when the value is there, else when it is. */
export function mapMaybe<T, R>(value: MaybePromise<T>, f: (value: T) => R): MaybePromise<R> {
  return isPromise(value) ? value.then(f) : f(value);
}
