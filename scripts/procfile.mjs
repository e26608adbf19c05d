// The Procfile's web line, read by the build (which fills the compile cache with its node flags:
// V8 reads a cache only under the flags it was made with) and by the tests and the bench (which
// start the built server as Heroku does). One parser, so the two cannot disagree. Plain .mjs:
// the build runs on whatever Node npm is run with, before Node 24 is in place.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Node flags of the Procfile's web line (`web: node <flags> dist/server.js`) in `root`. */
export function procfileNodeArgs (root) {
  const web = readFileSync(join(root, 'Procfile'), 'utf8').split('\n').find(l => l.startsWith('web:')) ?? ''
  const words = web.slice(4).trim().split(/\s+/)
  return words[0] === 'node' ? words.slice(1, -1) : []
}
