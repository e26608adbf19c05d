/** Node flags of the Procfile's web line (`web: node <flags> dist/server.js`) in `root`. */
export function procfileNodeArgs (root: string): string[]
