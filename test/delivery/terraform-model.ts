// Reads the Terraform under infra/ offline: every .tf file parsed with @cdktf/hcl2json (the
// HCL parser cdktf uses, compiled to WebAssembly) and merged per directory, plus a small
// evaluator for the expression shapes used in config vars, so tests can compute the
// environment each Heroku app would get from a given set of variable values.
import { parse } from '@cdktf/hcl2json'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
export const infraDir = join(repoRoot, 'infra')

type Json = Record<string, any>

/** One Terraform module directory, blocks merged across its files. */
export interface TfModule {
  dir: string
  files: string[]
  resource: Record<string, Record<string, Json>>
  data: Record<string, Record<string, Json>>
  module: Record<string, Json>
  variable: Record<string, Json>
  output: Record<string, Json>
  locals: Json
  terraform: Json[]
  provider: Record<string, Json[]>
}

export function tfFiles (dir = infraDir): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...tfFiles(path))
    else if (entry.name.endsWith('.tf')) out.push(path)
  }
  return out.sort()
}

const single = (blocks: Json[] | undefined, what: string): Json => {
  if (!Array.isArray(blocks) || blocks.length !== 1) throw new Error(`${what}: expected exactly one block`)
  return blocks[0] as Json
}

export async function loadModule (dir: string): Promise<TfModule> {
  const m: TfModule = { dir, files: [], resource: {}, data: {}, module: {}, variable: {}, output: {}, locals: {}, terraform: [], provider: {} }
  const files = readdirSync(dir).filter(f => f.endsWith('.tf')).sort()
  for (const file of files) {
    const path = join(dir, file)
    m.files.push(relative(repoRoot, path))
    const doc = await parse(file, readFileSync(path, 'utf8')) as Json
    for (const [kind, byType] of Object.entries<Json>(doc.resource ?? {})) {
      for (const [name, blocks] of Object.entries<Json[]>(byType)) {
        (m.resource[kind] ??= {})[name] = single(blocks, `resource ${kind}.${name}`)
      }
    }
    for (const [kind, byType] of Object.entries<Json>(doc.data ?? {})) {
      for (const [name, blocks] of Object.entries<Json[]>(byType)) {
        (m.data[kind] ??= {})[name] = single(blocks, `data ${kind}.${name}`)
      }
    }
    for (const [name, blocks] of Object.entries<Json[]>(doc.module ?? {})) m.module[name] = single(blocks, `module ${name}`)
    for (const [name, blocks] of Object.entries<Json[]>(doc.variable ?? {})) m.variable[name] = single(blocks, `variable ${name}`)
    for (const [name, blocks] of Object.entries<Json[]>(doc.output ?? {})) m.output[name] = single(blocks, `output ${name}`)
    for (const block of (doc.locals ?? []) as Json[]) Object.assign(m.locals, block)
    m.terraform.push(...((doc.terraform ?? []) as Json[]))
    for (const [name, blocks] of Object.entries<Json[]>(doc.provider ?? {})) (m.provider[name] ??= []).push(...blocks)
  }
  return m
}

/** The expression inside a "${...}" string, or undefined for a literal. */
export function expressionOf (value: unknown): string | undefined {
  if (typeof value !== 'string' || !value.startsWith('${')) return undefined
  // The "${" must close at the very end: "${a}-${b}" is a template, not one expression
  let depth = 0
  for (let i = 1; i < value.length; i++) {
    if (value[i] === '{') depth++
    else if (value[i] === '}' && --depth === 0) return i === value.length - 1 ? value.slice(2, -1).trim() : undefined
  }
  return undefined
}

/** Variable values as Terraform would see them: defaults, overridden by the given values. */
export function variableValues (mod: TfModule, given: Record<string, unknown>): Record<string, unknown> {
  const values: Record<string, unknown> = {}
  for (const [name, v] of Object.entries(mod.variable)) {
    if (name in given) values[name] = given[name]
    else if ('default' in v) values[name] = v.default
  }
  return values
}

/**
 * Evaluates the expression shapes the config-var maps use. Anything else throws, so a new
 * shape in the Terraform makes the test say what it cannot check instead of guessing.
 */
export function evaluate (value: unknown, ctx: { root: TfModule, vars: Record<string, unknown>, modules: Record<string, TfModule> }): unknown {
  if (Array.isArray(value)) return value.map(v => evaluate(v, ctx))
  const expr = expressionOf(value)
  if (expr === undefined) {
    return typeof value === 'string' && value.includes('${') ? evaluateTemplate(value, ctx) : value
  }
  let m: RegExpExecArray | null
  const lookupVar = (path: string) => {
    const [name, ...fields] = path.split('.')
    if (name === undefined || !(name in ctx.vars)) throw new Error(`variable ${name} has no value`)
    let v: unknown = ctx.vars[name]
    for (const f of fields) v = (v as Record<string, unknown>)[f]
    if (v === undefined) throw new Error(`var.${path} is undefined`)
    return v
  }
  if ((m = /^var\.([\w.]+)$/.exec(expr))) return lookupVar(m[1] as string)
  if ((m = /^local\.(\w+)$/.exec(expr))) return evaluate(ctx.root.locals[m[1] as string], ctx)
  if ((m = /^tostring\(var\.([\w.]+)\)$/.exec(expr))) return String(lookupVar(m[1] as string))
  if ((m = /^join\("([^"]*)",\s*var\.([\w.]+)\)$/.exec(expr))) return (lookupVar(m[2] as string) as unknown[]).join(m[1])
  if ((m = /^var\.(\w+) != "" \? var\.(\w+) : var\.(\w+)$/.exec(expr))) {
    return lookupVar(m[1] as string) !== '' ? lookupVar(m[2] as string) : lookupVar(m[3] as string)
  }
  if ((m = /^module\.(\w+)(?:\[0\])?\.(\w+)$/.exec(expr))) {
    const [, name, output] = m as unknown as [string, string, string]
    const call = ctx.root.module[name]
    if (call === undefined) throw new Error(`no module ${name}`)
    // An output named like one of the module's inputs passes that input through (bucket_name);
    // other outputs are computed by AWS (access keys): a recognisable placeholder.
    if (output in call) return evaluate(call[output], ctx)
    return `<${name}.${output}>`
  }
  throw new Error(`unsupported expression: ${expr}`)
}

/** Evaluates a string template such as "${local.review_app_base_name}-pr-*". */
function evaluateTemplate (template: string, ctx: Parameters<typeof evaluate>[1]): string {
  return template.replace(/\$\{([^}]+)\}/g, (_, inner: string) => String(evaluate(`\${${inner}}`, ctx)))
}

/** Glob match with IAM semantics: * is any run of characters, ? one character. */
export function iamGlobMatches (pattern: string, text: string): boolean {
  const re = new RegExp('^' + pattern.split('').map(c => c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&')).join('') + '$')
  return re.test(text)
}
