/** Option objects from callers (CLI flags, the worker protocol, saved page state). */

/** The options actually given: an option present but `undefined` takes its default when spread over the defaults. */
export function givenOptions<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
