// One Vary header for every hook that adds a field to it: CORS sets Origin, the auth hook adds
// Authorization, the public cache Accept-Encoding. Each appends, so none drops another's.
// (The `vary` package does the same on a raw ServerResponse, where Fastify's own headers,
// written later by writeHead, would replace it.)

/** The Vary value with `field` appended to what is already there. */
export function appendVary (current: unknown, field: string): string {
  return current ? `${String(current)}, ${field}` : field
}
