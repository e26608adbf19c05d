// Prints the README's configuration table from lib/config.ts (the single source of truth).
import { ConfigSchema, SECRET_KEYS } from '../lib/config.ts'

const required = new Set<string>((ConfigSchema as unknown as { required?: string[] }).required ?? [])
const rows = Object.entries(ConfigSchema.properties as Record<string, { description?: string, default?: unknown }>).map(([name, s]) => {
  const need = required.has(name) && s.default === undefined ? '**required**' : s.default !== undefined ? `\`${String(s.default)}\`` : 'optional'
  const secret = (SECRET_KEYS as readonly string[]).includes(name) ? ' (secret)' : ''
  return `| \`${name}\` | ${need} | ${(s.description ?? '').replace(/\|/g, '\\|')}${secret} |`
})
console.log(['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n'))
