// The installed runtime dependencies, as the lockfile resolves them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const repoRoot = join(import.meta.dirname, '..', '..')
const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string, dev?: boolean, dependencies?: Record<string, string> }> }

test('one copy of the S3 client: @aws-sdk/s3-presigned-post pins an exact client-s3, and ours is that version', () => {
  // A second copy (nested under s3-presigned-post) is ~270 KB more source to parse at every boot
  // and to hold in every process's heap; the lockfile shows whether npm could share one
  const copies = Object.entries(lock.packages)
    .filter(([path, p]) => path.endsWith('node_modules/@aws-sdk/client-s3') && p.dev !== true)
    .map(([path, p]) => `${path}@${p.version}`)
  assert.deepEqual(copies, [`node_modules/@aws-sdk/client-s3@${lock.packages['node_modules/@aws-sdk/client-s3']?.version}`])
  const pinned = lock.packages['node_modules/@aws-sdk/s3-presigned-post']?.dependencies?.['@aws-sdk/client-s3']
  assert.equal(lock.packages['node_modules/@aws-sdk/client-s3']?.version, pinned)
})
