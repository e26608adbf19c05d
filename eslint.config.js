import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', '.tools/**', '.data/**', 'node_modules/**', 'bench/results/**'] })
]
