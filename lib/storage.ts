// S3 access shared by the web process and the commands in bin/: one client from config.
import { S3Client, HeadBucketCommand, DeleteObjectCommand } from '@aws-sdk/client-s3'
import { type Config, keyPrefix } from './config.ts'

export function createStorage (config: Config) {
  const client = new S3Client({
    region: config.AWS_REGION,
    credentials: { accessKeyId: config.AWS_ACCESS_KEY_ID, secretAccessKey: config.AWS_SECRET_ACCESS_KEY },
    ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    // Fail fast and let the caller answer 503; the SDK's default retries would outlast the request budget
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 }
  })
  const bucket = config.S3_BUCKET_NAME
  const prefix = keyPrefix(config)

  return {
    client,
    bucket,
    prefix,
    async headBucket (signal?: AbortSignal): Promise<void> {
      await client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal })
    },
    /** Deleting a key that is already gone is not an error (S3 answers 204 either way). */
    async deleteObject (key: string, signal?: AbortSignal): Promise<void> {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal })
    },
    destroy () { client.destroy() }
  }
}

export type Storage = ReturnType<typeof createStorage>
