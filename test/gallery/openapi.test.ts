// /openapi.json documents every route of the app (taken from the router itself, so a route
// added without schemas fails here), with parameters, response schemas and security.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildGallery } from '../helpers/gallery-fixtures.ts'

interface Route { method: string, url: string }

/** Routes from app.printRoutes({ commonPrefix: false }): one tree line per path segment. */
export function routesFromTree (tree: string): Route[] {
  const routes: Route[] = []
  const stack: string[] = []
  for (const line of tree.split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?/.exec(line)
    if (!m) continue
    const depth = m[1]!.length / 4
    stack.length = depth
    const path = (stack[depth - 1] ?? '') + m[2]!
    stack[depth] = path
    for (const method of (m[3] ?? '').split(',').map(s => s.trim()).filter(Boolean)) routes.push({ method, url: path })
  }
  return routes
}

/** find-my-way prints `/:id|:slug` when methods name the same segment differently. */
function openapiCandidates (url: string): string[] {
  let out = ['']
  for (const segment of url.split('/').slice(1)) {
    const alternatives = segment.split('|').map(s => s.startsWith(':') ? `{${s.slice(1)}}` : s)
    out = out.flatMap(prefix => alternatives.map(a => `${prefix}/${a}`))
  }
  return out
}

test('the route tree parser reads nested and merged segments', () => {
  const tree = '├── /api/v1/collections (POST, GET, HEAD)\n│   ├── /reorder (POST)\n│   └── /:id|:slug (DELETE, GET)\n└── * (OPTIONS)\n'
  assert.deepEqual(routesFromTree(tree), [
    { method: 'POST', url: '/api/v1/collections' }, { method: 'GET', url: '/api/v1/collections' }, { method: 'HEAD', url: '/api/v1/collections' },
    { method: 'POST', url: '/api/v1/collections/reorder' },
    { method: 'DELETE', url: '/api/v1/collections/:id|:slug' }, { method: 'GET', url: '/api/v1/collections/:id|:slug' },
    { method: 'OPTIONS', url: '*' }
  ])
})

test('/openapi.json lists every route with response schemas and security', async (t) => {
  const { app } = await buildGallery(t)
  const res = await app.inject('/openapi.json')
  assert.equal(res.statusCode, 200)
  const doc = res.json() as { paths: Record<string, Record<string, { responses?: Record<string, { description?: string, content?: unknown }>, security?: Record<string, string[]>[], parameters?: { name: string, in: string }[] }>> }

  // Tooling routes (the docs UI, the document itself, CORS preflight, HEAD twins) are not API operations
  const routes = routesFromTree(app.printRoutes({ commonPrefix: false }))
    .filter(r => r.method !== 'HEAD' && r.method !== 'OPTIONS' && r.url !== '*' && !r.url.startsWith('/docs') && r.url !== '/openapi.json')
  assert.ok(routes.length >= 14, `found ${routes.length} routes`)

  const missing: string[] = []
  for (const { method, url } of routes) {
    const path = openapiCandidates(url).find(p => doc.paths[p]?.[method.toLowerCase()] !== undefined)
    if (!path) { missing.push(`${method} ${url}`); continue }
    const op = doc.paths[path]![method.toLowerCase()]!
    const where = `${method} ${path}`
    const responses = op.responses ?? {}
    const success = Object.entries(responses).filter(([code]) => /^2\d\d$/.test(code))
    assert.ok(success.length > 0, `${where}: no 2xx response`)
    // Without a response schema @fastify/swagger writes a bare 200 with no content
    for (const [code, r] of success) if (code !== '204') assert.ok(r.content, `${where}: ${code} has no schema`)
    for (const p of path.match(/\{\w+\}/g) ?? []) {
      assert.ok(op.parameters?.some(x => x.in === 'path' && `{${x.name}}` === p), `${where}: path parameter ${p} undocumented`)
    }
    if (path.startsWith('/api/v1/') && path !== '/api/v1/health') {
      assert.ok(op.security?.some(s => 'bearerAuth' in s), `${where}: no bearerAuth security`)
      assert.ok(responses['401'], `${where}: 401 undocumented`)
      if (method !== 'GET') {
        assert.ok(!op.security?.some(s => Object.keys(s).length === 0), `${where}: a write must not allow anonymous access`)
        assert.ok(responses['403'], `${where}: 403 undocumented`)
        assert.ok(responses['400'], `${where}: 400 undocumented`)
      }
    }
  }
  assert.deepEqual(missing, [], 'routes missing from /openapi.json')

  // OpenAPI: templated paths that differ only in parameter names are identical, and invalid
  const shapes = Object.keys(doc.paths).map(p => p.replace(/\{\w+\}/g, '{}'))
  assert.deepEqual(shapes.filter((p, i) => shapes.indexOf(p) !== i), [], 'paths differing only by parameter name')
})
