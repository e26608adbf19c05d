// A local S3 (s3rver) with the bucket and its CORS created, for development and tests.
// s3rver does not enforce POST policies; tests check policies by decoding them instead.
import S3rver from 's3rver'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const

export function corsXml (origins: string[]): string {
  const rules = origins.map(o => `<CORSRule><AllowedOrigin>${o}</AllowedOrigin><AllowedMethod>POST</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule>`).join('')
  return `<CORSConfiguration>${rules}</CORSConfiguration>`
}

export interface LocalS3 { endpoint: string, bucket: string, port: number, directory: string, close: () => Promise<void> }

export async function startS3 ({ bucket = 'gallery-dev', port = 0, directory, origins = ['*'] }: { bucket?: string, port?: number, directory?: string, origins?: string[] } = {}): Promise<LocalS3> {
  const temporary = directory === undefined
  const dir = directory ?? await mkdtemp(join(tmpdir(), 'gallery-s3-'))
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket, configs: [corsXml(origins)] }]
  })
  const address = await server.run() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    port: address.port,
    directory: dir,
    close: async () => {
      await server.close()
      if (temporary) await rm(dir, { recursive: true, force: true })
    }
  }
}
