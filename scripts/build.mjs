// npm run build: the production build in dist/, bundled by esbuild.
//
// Why a bundle rather than tsc's one file per module: boot time. The server's dependencies
// are ~950 modules (typebox alone is ~370 small ESM files), and Node resolves, reads and links
// each one at start; most of the built server's boot went there, not into running our code.
// Bundled, they are a few large chunks. The layout stays what @fastify/autoload, the
// Procfile and app.json expect: one file per plugin in dist/plugins, one per route under
// dist/routes, dist/server.js and dist/bin/*.js, with the code they share split into chunks
// at the top of dist/ (chunk-*.js). Not minified, so a stack trace in a log still reads.
//
// Type checking is separate (`npm run typecheck`); esbuild only strips types. Plain .mjs so
// it runs on whatever Node npm is run with (the machines here start on Node 20).
import { build } from 'esbuild'
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { procfileNodeArgs } from './procfile.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const OUT = join(ROOT, 'dist')

function tsFiles (dir) {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return tsFiles(path)
    return /\.ts$/.test(e.name) && !/\.(test|d)\.ts$/.test(e.name) ? [path] : []
  })
}

const entryPoints = ['server.ts', ...tsFiles('bin'), ...tsFiles('plugins'), ...tsFiles('routes')]

// node:http as a CommonJS module, wherever the bundle imports it. An ES import of node:http
// (static or dynamic) makes Node build the module's ESM namespace, which reads every export,
// and three of them (WebSocket, CloseEvent, MessageEvent) are getters that load undici, Node's
// fetch: a ~760 KB script and a WebAssembly HTTP parser. Bundled dependencies do it (the AWS
// SDK's HTTP handler imports node:http for an http: endpoint, its credential chain for the
// instance metadata service), and so does our own code (plugins/errors.ts, lib/http-get.ts),
// so every process paid for undici without using it. The module object itself, from
// process.getBuiltinModule, has the same exports without that step.
// Measured on the built server: RSS after boot and after load in docs/benchmarks.md.
// @see https://github.com/nodejs/node/issues/59686
const httpAsCommonJs = {
  name: 'node-http-as-commonjs',
  setup (b) {
    b.onResolve({ filter: /^(node:)?http$/ }, (args) =>
      args.kind === 'import-statement' || args.kind === 'dynamic-import' ? { path: 'node:http', namespace: 'node-http-cjs' } : undefined)
    b.onLoad({ filter: /.*/, namespace: 'node-http-cjs' }, () =>
      ({ contents: 'module.exports = process.getBuiltinModule("node:http")', loader: 'js' }))
  }
}

rmSync(OUT, { recursive: true, force: true })
const result = await build({
  absWorkingDir: ROOT,
  entryPoints,
  outdir: OUT,
  outbase: ROOT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  sourcemap: 'linked',
  plugins: [httpAsCommonJs],
  // No keepNames: it wraps every function expression in a call that redefines its name, run
  // each time the expression is evaluated, per request on hot paths (/health measured ~15 %
  // slower with it). Code here never matches on a function's or class's name, which bundling
  // may rename on a clash (plugins/errors.ts tells Postgres errors by class).
  // Chunks at the top of dist/, beside server.js: app.ts finds plugins/ and routes/ next to
  // its own file (import.meta.dirname), wherever esbuild puts its code
  chunkNames: '[name]-[hash]',
  // Left to Node's loader: ioredis, imported only when rate limiting uses Redis. (Bundled
  // code has no __dirname of its own: plugins/openapi.ts tells swagger-ui where its files are.)
  external: ['ioredis'],
  // Bundled CommonJS dependencies call require() for Node's built-ins
  banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
  legalComments: 'external',
  logLevel: 'warning',
  metafile: true,
  // Prefer a package's ESM build over its CommonJS one (esbuild's platform 'node' default is
  // main first). The AWS SDK ships both: its CJS index (@aws-sdk/client-s3/dist-cjs, 310 KB)
  // cannot be tree-shaken, its ESM modules can. Measured: bundle 5.02 -> 4.53 MB and boot RSS
  // after one list request 105-107 -> ~100 MB (3 runs each); source text is kept resident by
  // V8, so bytes not bundled are bytes not held. minifyWhitespace would save ~3 MB more but
  // makes stack-trace line numbers useless without the source map; not taken.
  mainFields: ['module', 'main']
})
const outputs = Object.keys(result.metafile.outputs).filter(f => f.endsWith('.js'))
console.log(`build: ${entryPoints.length} entry points, ${outputs.length} files in ${relative(ROOT, OUT)}/`)

// V8 keeps each module's source text in memory, one byte per character while it is all
// Latin-1 and two as soon as one character is not: one "ä" in a licence comment doubled the
// 1.5 MB app chunk in the heap. esbuild escapes every non-ASCII character in code (charset
// 'ascii', its default) but not in the comments it keeps (licence notices, dependencies' doc
// comments), so what is left can only be in comments: each UTF-16 unit becomes '?', which
// keeps every column, and the source maps, as they were. Licence texts are kept whole in
// *.LEGAL.txt beside the chunks (legalComments: 'external').
for (const file of outputs) {
  const path = join(ROOT, file)
  const text = readFileSync(path, 'utf8')
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(text)) writeFileSync(path, text.replace(/[^\x00-\x7f]/g, '?'))
}

// Route validators and serializers compiled now rather than at every boot
// (lib/precompiled-schemas.ts), and the module compile cache filled (lib/compile-cache.ts),
// with the Procfile web line's node flags: V8 only reads a cache made with the same flags.
// The built code needs Node 24: with-node24 provides it when the Node running this build is older.
const precompile = spawnSync(process.execPath, [join(ROOT, 'scripts/with-node24.mjs'), ...procfileNodeArgs(ROOT), join(OUT, 'bin/precompile-schemas.js')], { cwd: ROOT, stdio: 'inherit', timeout: 120_000 })
if (precompile.status !== 0) {
  console.error('build: precompiling route schemas failed')
  process.exit(1)
}
