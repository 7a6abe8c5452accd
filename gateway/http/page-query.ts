// The query parameters of a paged list (`limit`, `cursor`), as the projections' readers take them:
// they validate both (projections/cursor.ts), so a route only passes them on.
export function pageQuery(query: URLSearchParams): { limit: string | undefined; cursor: string | undefined } {
  return { limit: query.get('limit') ?? undefined, cursor: query.get('cursor') ?? undefined };
}
