// infra/ checked offline: every file parses and is `terraform fmt`-clean, providers are
// pinned, the pipeline links the apps, and — evaluated with infra/terraform.tfvars.example —
// each app's config vars pass lib/config.ts, with the S3 prefix the IAM policy allows.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parse } from '@cdktf/hcl2json'
import { format } from '@cdktf/hcl-tools'
import { ConfigSchema, SECRET_KEYS, loadConfig, keyPrefix, corsOrigins } from '../../lib/config.ts'
import { infraDir, repoRoot, tfFiles, loadModule, expressionOf, variableValues, evaluate, iamGlobMatches, type TfModule } from './terraform-model.ts'

const root = await loadModule(infraDir)
const bucketModule = await loadModule(join(infraDir, 'modules/image-bucket'))
const writerModule = await loadModule(join(infraDir, 'modules/bucket-writer'))
const appJson = JSON.parse(readFileSync(join(repoRoot, 'app.json'), 'utf8'))

const schemaProps = ConfigSchema.properties as Record<string, { default?: unknown }>
/** Variables lib/config.ts cannot boot without: required and without a default. */
const requiredKeys = (ConfigSchema.required as string[]).filter(k => !('default' in (schemaProps[k] ?? {})))
const secretKeys = new Set<string>(SECRET_KEYS)

const example = await parse('terraform.tfvars.example', readFileSync(join(infraDir, 'terraform.tfvars.example'), 'utf8')) as Record<string, unknown>
const fakeSecrets = Object.fromEntries(Object.entries(root.variable).filter(([, v]) => v.sensitive === true).map(([k]) => [k, `test-secret-${k}`]))
const vars = variableValues(root, { ...example, ...fakeSecrets, enable_review_apps: true, github_repository: 'acme/gallery-api' })
const ctx = { root, vars, modules: {} }
const ev = (v: unknown) => evaluate(v, ctx)

const ref = (expr: string) => `\${${expr}}`
const res = (kind: string, name: string) => {
  const r = root.resource[kind]?.[name]
  assert.ok(r, `infra/ declares ${kind}.${name}`)
  return r
}

/** The Heroku-side environment of one app: its config association plus platform-set vars. */
function appEnvironment (app: 'staging' | 'production') {
  const associations = Object.entries(root.resource.heroku_app_config_association ?? {}).filter(([, a]) => a.app_id === ref(`heroku_app.${app}.id`))
  assert.equal(associations.length, 1, `exactly one heroku_app_config_association for ${app}`)
  const association = associations[0]?.[1] as Record<string, Record<string, unknown>>
  const postgres = Object.values(root.resource.heroku_addon ?? {}).filter(a =>
    a.app_id === ref(`heroku_app.${app}.id`) && String(ev(a.plan)).startsWith('heroku-postgresql:') && a.count === undefined)
  assert.equal(postgres.length, 1, `${app} has an unconditional Heroku Postgres add-on (it sets DATABASE_URL)`)
  const raw = { ...association.vars, ...association.sensitive_vars }
  const evaluated = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(ev(v))]))
  // PORT comes from the dyno manager, DATABASE_URL from the add-on checked above
  const platform = { PORT: '31337', DATABASE_URL: `postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/${app}` }
  return { association, raw, evaluated, env: { ...evaluated, ...platform } }
}

test('every .tf file parses with hcl2json and is formatted as terraform fmt would', async () => {
  const files = tfFiles()
  assert.ok(files.length >= 8, `found ${files.length} .tf files`)
  const unformatted: string[] = []
  for (const file of [...files, join(infraDir, 'terraform.tfvars.example')]) {
    const src = readFileSync(file, 'utf8')
    await parse(file, src) // throws with file:line on a syntax error
    if (await format(src) !== src) unformatted.push(relative(repoRoot, file))
  }
  assert.deepEqual(unformatted, [], 'run terraform fmt -recursive infra (or @cdktf/hcl-tools format)')
})

test('the format check catches misformatted HCL (the checker is live)', async () => {
  const messy = 'resource "heroku_app" "x" {\nname = "a"\n  region="us"\n}\n'
  assert.notEqual(await format(messy), messy)
  await assert.rejects(parse('broken.tf', 'resource "heroku_app" "x" {\n'))
})

test('providers heroku/heroku and hashicorp/aws are pinned to a major version', () => {
  const tf = root.terraform.find(t => t.required_providers)
  assert.ok(tf, 'a terraform block with required_providers')
  assert.ok(typeof tf.required_version === 'string' && tf.required_version.length > 0, 'required_version is set')
  const providers = Object.assign({}, ...(tf.required_providers as Record<string, { source: string, version: string }>[]))
  assert.equal(providers.heroku?.source, 'heroku/heroku')
  assert.equal(providers.aws?.source, 'hashicorp/aws')
  for (const name of ['heroku', 'aws']) {
    const version = providers[name]?.version ?? ''
    assert.match(version, /^(~>\s*\d+\.\d+|=?\s*\d+\.\d+\.\d+)$/, `${name} is pinned (got "${version}")`)
  }
  assert.deepEqual(Object.keys(root.provider).sort(), ['aws', 'heroku'])
  // No credentials in provider blocks: they come from the environment
  for (const blocks of Object.values(root.provider)) {
    for (const b of blocks) assert.ok(!('api_key' in b) && !('access_key' in b) && !('secret_key' in b), 'no credentials in provider blocks')
  }
})

test('the pipeline couples staging and production; both apps build like app.json says', () => {
  const pipeline = res('heroku_pipeline', 'gallery')
  assert.ok(pipeline.name)
  const couplings = Object.values(root.resource.heroku_pipeline_coupling ?? {})
  assert.deepEqual(couplings.map(c => c.stage).sort(), ['production', 'staging'])
  for (const stage of ['staging', 'production']) {
    const c = couplings.find(c => c.stage === stage)
    assert.equal(c?.pipeline, ref('heroku_pipeline.gallery.id'))
    assert.equal(c?.app_id, ref(`heroku_app.${stage}.id`))
    const app = res('heroku_app', stage)
    assert.equal(app.stack, appJson.stack, `${stage} uses the stack review apps use`)
    assert.deepEqual(app.buildpacks, appJson.buildpacks.map((b: { url: string }) => b.url), `${stage} uses app.json's buildpacks`)
  }
  // Cleanup runs from Heroku Scheduler on both apps
  for (const app of ['staging', 'production']) {
    assert.ok(Object.values(root.resource.heroku_addon ?? {}).some(a => a.app_id === ref(`heroku_app.${app}.id`) && a.plan === 'scheduler:standard'), `${app} has Heroku Scheduler`)
  }
})

for (const app of ['staging', 'production'] as const) {
  test(`${app}: every variable lib/config.ts requires is supplied, and the result boots the config`, () => {
    const { raw, evaluated, env } = appEnvironment(app)
    const supplied = new Set(Object.keys(env))
    const missing = requiredKeys.filter(k => !supplied.has(k))
    assert.deepEqual(missing, [], `${app} lacks required config vars`)
    const unknown = Object.keys(raw).filter(k => !(k in schemaProps))
    assert.deepEqual(unknown, [], `${app} sets config vars lib/config.ts does not know`)

    const config = loadConfig(env)
    assert.equal(config.ENVIRONMENT, app)
    assert.equal(evaluated.S3_BUCKET_NAME, example[`${app}_bucket_name`])
    if (app === 'production') assert.notEqual(corsOrigins(config), '*', 'production lists its origins')
    // Dyno metadata may set HEROKU_APP_NAME: the prefix must stay the configured one
    assert.equal(keyPrefix(loadConfig({ ...env, HEROKU_APP_NAME: `${app}-app` })), keyPrefix(config))
  })

  test(`${app}: the IAM user behind its AWS keys may write exactly under the app's key prefix in its bucket`, () => {
    const { raw, env } = appEnvironment(app)
    const config = loadConfig(env)
    const keyRef = /^module\.(\w+)\.access_key_id$/.exec(expressionOf(raw.AWS_ACCESS_KEY_ID) ?? '')
    assert.ok(keyRef, `AWS_ACCESS_KEY_ID comes from a bucket-writer module (got ${String(raw.AWS_ACCESS_KEY_ID)})`)
    const writerName = keyRef[1] as string
    assert.equal(expressionOf(raw.AWS_SECRET_ACCESS_KEY), `module.${writerName}.secret_access_key`, 'both keys from the same IAM user')
    const writer = root.module[writerName] as Record<string, unknown>
    assert.equal(writer.source, './modules/bucket-writer')
    const bucketRef = /^module\.(\w+)\.bucket_arn$/.exec(expressionOf(writer.bucket_arn) ?? '')
    assert.ok(bucketRef, 'the writer is scoped to a bucket module')
    const bucketCall = root.module[bucketRef[1] as string] as Record<string, unknown>
    assert.equal(ev(bucketCall.bucket_name), config.S3_BUCKET_NAME, 'the writer\'s bucket is the app\'s S3_BUCKET_NAME')
    assert.deepEqual(ev(bucketCall.cors_allowed_origins), corsOrigins(config), 'bucket CORS allows exactly the API\'s origins')
    const prefixes = ev(writer.key_prefixes) as string[]
    assert.deepEqual(prefixes, [keyPrefix(config)], 'the writer may use the app\'s key prefix and nothing else')
  })
}

test('review apps: pipeline config vars + app.json boot the config with a per-app prefix the review IAM user allows', () => {
  const reviewConfig = res('heroku_review_app_config', 'gallery')
  assert.equal(reviewConfig.count, ref('var.enable_review_apps ? 1 : 0'), 'review apps are behind the enable_review_apps flag')
  assert.equal(reviewConfig.pipeline_id, ref('heroku_pipeline.gallery.id'))
  assert.ok((reviewConfig.depends_on as string[]).includes(ref('heroku_pipeline_config_var.review')), 'config vars exist before the first review app')
  assert.equal(root.variable.enable_review_apps?.default, false, 'off until the pipeline is connected to GitHub')

  const pipelineVars = res('heroku_pipeline_config_var', 'review')
  assert.equal(pipelineVars.pipeline_stage, 'review')
  assert.equal(pipelineVars.pipeline_id, ref('heroku_pipeline.gallery.id'))
  assert.equal(pipelineVars.count, ref('var.enable_review_apps ? 1 : 0'))
  const fromPipeline = Object.fromEntries(Object.entries({ ...pipelineVars.vars, ...pipelineVars.sensitive_vars }).map(([k, v]) => [k, String(ev(v))]))
  assert.ok(!('S3_KEY_PREFIX' in fromPipeline), 'review apps must not share one key prefix')

  // app.json: literal values, and required ones that the pipeline (or Heroku) must supply
  const appEnv = appJson.env as Record<string, { value?: string, required?: boolean }>
  const literal = Object.fromEntries(Object.entries(appEnv).filter(([, v]) => v.value !== undefined).map(([k, v]) => [k, v.value as string]))
  const injectedByHeroku = new Set(['HEROKU_APP_NAME', 'HEROKU_PR_NUMBER'])
  const unsupplied = Object.entries(appEnv).filter(([k, v]) => v.required === true && !(k in fromPipeline) && !injectedByHeroku.has(k)).map(([k]) => k)
  assert.deepEqual(unsupplied, [], 'every required app.json variable has a pipeline review config var')

  const base = String(ev(reviewConfig.base_name))
  const appName = `${base}-pr-42`
  assert.ok(appName.length <= 30, `review app names fit Heroku's 30 characters (${appName})`)
  const env = { ...literal, ...fromPipeline, HEROKU_APP_NAME: appName, PORT: '31337', DATABASE_URL: 'postgres://u:p@ec2-5-6-7-8.compute-1.amazonaws.com:5432/review' }
  const missing = requiredKeys.filter(k => !(k in env))
  assert.deepEqual(missing, [])
  const config = loadConfig(env)
  assert.equal(keyPrefix(config), appName, 'each review app writes under its own name')

  const keyRef = /^module\.(\w+)\[0\]\.access_key_id$/.exec(expressionOf(pipelineVars.sensitive_vars?.AWS_ACCESS_KEY_ID) ?? '')
  assert.ok(keyRef, 'review apps get their own IAM user')
  const writer = root.module[keyRef[1] as string] as Record<string, unknown>
  assert.equal(writer.count, ref('var.enable_review_apps ? 1 : 0'))
  assert.equal(writer.bucket_arn, ref('module.staging_bucket.bucket_arn'), 'review apps share the staging bucket')
  const prefixes = ev(writer.key_prefixes) as string[]
  assert.ok(prefixes.some(p => iamGlobMatches(p, appName)), `review IAM prefixes ${prefixes.join(', ')} allow ${appName}`)
  // ... and never the staging app's own images
  const staging = loadConfig(appEnvironment('staging').env)
  assert.ok(!prefixes.some(p => iamGlobMatches(p, keyPrefix(staging))), 'review apps cannot touch staging images')
  assert.ok(!prefixes.some(p => iamGlobMatches(p, 'anything-else')), 'review prefixes are not a catch-all')
})

test('secrets: never in plain vars, only in sensitive maps, from sensitive inputs or generated keys', () => {
  const maps: Array<[string, Record<string, unknown>, Record<string, unknown>]> = []
  for (const [name, a] of Object.entries(root.resource.heroku_app_config_association ?? {})) maps.push([`association ${name}`, a.vars ?? {}, a.sensitive_vars ?? {}])
  for (const [name, p] of Object.entries(root.resource.heroku_pipeline_config_var ?? {})) maps.push([`pipeline vars ${name}`, p.vars ?? {}, p.sensitive_vars ?? {}])
  assert.ok(maps.length >= 3)
  for (const [where, plain, sensitive] of maps) {
    for (const key of Object.keys(plain)) assert.ok(!secretKeys.has(key), `${where}: ${key} belongs in sensitive_vars`)
    for (const [key, value] of Object.entries(sensitive)) {
      const expr = expressionOf(value)
      assert.ok(expr, `${where}: ${key} is not a literal`)
      const v = /^var\.(\w+)$/.exec(expr)
      const m = /^module\.(\w+)(?:\[0\])?\.(\w+)$/.exec(expr)
      if (v) {
        const variable = root.variable[v[1] as string]
        assert.equal(variable?.sensitive, true, `${where}: var.${v[1]} is marked sensitive`)
        assert.ok(!('default' in (variable ?? {})), `${where}: var.${v[1]} has no default`)
      } else if (m) {
        const call = root.module[m[1] as string] as Record<string, unknown>
        const mod: TfModule = call.source === './modules/bucket-writer' ? writerModule : bucketModule
        assert.equal(mod.output[m[2] as string]?.sensitive, true, `${where}: module output ${m[1]}.${m[2]} is sensitive`)
      } else {
        assert.fail(`${where}: ${key} = ${expr} is neither a sensitive variable nor a generated key`)
      }
    }
  }
})

test('terraform.tfvars.example sets every required input and no secret', () => {
  const required = Object.entries(root.variable).filter(([, v]) => !('default' in v) && v.sensitive !== true).map(([k]) => k)
  const unset = required.filter(k => !(k in example))
  assert.deepEqual(unset, [])
  const secrets = Object.keys(example).filter(k => root.variable[k]?.sensitive === true)
  assert.deepEqual(secrets, [], 'secrets go in TF_VAR_* environment variables, not in files')
  const unknown = Object.keys(example).filter(k => !(k in root.variable))
  assert.deepEqual(unknown, [])
})

test('image bucket: private, versioned, encrypted, TLS only, CORS for browser POSTs', () => {
  const r = bucketModule.resource
  const pab = r.aws_s3_bucket_public_access_block?.this
  for (const flag of ['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets']) {
    assert.equal(pab?.[flag], true, `public access block ${flag}`)
  }
  assert.equal(r.aws_s3_bucket_versioning?.this?.versioning_configuration?.[0]?.status, 'Enabled')
  assert.equal(r.aws_s3_bucket_ownership_controls?.this?.rule?.[0]?.object_ownership, 'BucketOwnerEnforced')
  assert.ok(r.aws_s3_bucket_server_side_encryption_configuration?.this, 'default encryption')
  const cors = r.aws_s3_bucket_cors_configuration?.this?.cors_rule as Array<Record<string, unknown>>
  assert.equal(cors.length, 1)
  assert.ok((cors[0]?.allowed_methods as string[]).includes('POST'))
  assert.equal(cors[0]?.allowed_origins, ref('var.cors_allowed_origins'))
  for (const resource of Object.values(r).flatMap(byName => Object.values(byName))) {
    if ('bucket' in resource && resource.bucket !== ref('var.bucket_name')) assert.equal(resource.bucket, ref('aws_s3_bucket.this.id'))
  }
  const policy = bucketModule.data.aws_iam_policy_document?.tls_only?.statement?.[0]
  assert.equal(policy?.effect, 'Deny')
  assert.deepEqual(policy?.condition?.[0], { test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] })
  assert.equal(r.aws_s3_bucket_policy?.this?.policy, ref('data.aws_iam_policy_document.tls_only.json'))
  assert.equal(root.module.production_bucket?.force_destroy, false, 'terraform destroy never empties the production bucket')
})

test('image bucket lifecycle: pending uploads expire after a day; multipart leftovers and old versions are cleaned', () => {
  const rules = bucketModule.resource.aws_s3_bucket_lifecycle_configuration?.this?.rule as Array<Record<string, any>>
  assert.ok(Array.isArray(rules) && rules.length >= 2)
  for (const rule of rules) assert.equal(rule.status, 'Enabled')
  const pending = rules.filter(rule => rule.filter?.[0]?.tag?.[0]?.key === 'state' && rule.filter[0].tag[0].value === 'pending')
  assert.equal(pending.length, 1, 'one rule filters on the tag state=pending')
  assert.equal(pending[0]?.expiration?.[0]?.days, ref('var.pending_upload_days'))
  assert.equal(bucketModule.variable.pending_upload_days?.default, 1)
  // AWS refuses abort-incomplete-multipart-upload on a tag-filtered rule: it lives in a bucket-wide one
  const wide = rules.filter(rule => rule.abort_incomplete_multipart_upload)
  assert.equal(wide.length, 1)
  assert.deepEqual(wide[0]?.filter, [{}], 'the multipart rule covers the whole bucket')
  assert.ok(wide[0]?.abort_incomplete_multipart_upload?.[0]?.days_after_initiation >= 1)
  assert.equal(wide[0]?.noncurrent_version_expiration?.[0]?.noncurrent_days, ref('var.noncurrent_version_days'))
  assert.equal(wide[0]?.expiration?.[0]?.expired_object_delete_marker, true)
})

test('bucket writer IAM policy: object actions under the prefixes only, ListBucket on the bucket, no version deletes', () => {
  const statements = writerModule.data.aws_iam_policy_document?.this?.statement as Array<Record<string, any>>
  assert.ok(Array.isArray(statements))
  const actions = statements.flatMap(s => s.actions as string[])
  for (const a of actions) assert.ok(!a.includes('*'), `no wildcard actions (${a})`)
  assert.ok(!actions.includes('s3:DeleteObjectVersion'), 'the API cannot destroy the versioned backup')
  assert.ok(statements.every(s => s.effect === 'Allow'))

  const objects = statements.find(s => (s.actions as string[]).includes('s3:PutObject'))
  assert.ok(objects)
  // Exactly what lib/storage.ts and lib/uploads.ts call: presigned POST with a tagging field,
  // HeadObject/ranged GET/presigned GET, CopyObject with a replaced tag set, DeleteObject(s)
  assert.deepEqual([...objects.actions].sort(), ['s3:DeleteObject', 's3:GetObject', 's3:PutObject', 's3:PutObjectTagging'])
  // eslint-disable-next-line no-template-curly-in-string -- HCL interpolation, not a JS template
  assert.equal(objects.resources, ref('[for prefix in var.key_prefixes : "${var.bucket_arn}/${prefix}/*"]'))
  const list = statements.find(s => (s.actions as string[]).includes('s3:ListBucket'))
  assert.deepEqual(list?.actions, ['s3:ListBucket'])
  assert.deepEqual(list?.resources, [ref('var.bucket_arn')])
  assert.equal(writerModule.resource.aws_iam_user_policy?.this?.policy, ref('data.aws_iam_policy_document.this.json'))
  // The prefix validation refuses the whole bucket
  const validation = writerModule.variable.key_prefixes?.validation?.[0]?.condition as string
  assert.match(validation, /p != "\*"/)
  assert.match(validation, /p != ""/)
  for (const out of ['access_key_id', 'secret_access_key']) assert.equal(writerModule.output[out]?.sensitive, true)
})

test('production: preboot on professional dynos, custom domain with ACM, formation behind a flag', () => {
  const preboot = res('heroku_app_feature', 'production_preboot')
  assert.equal(preboot.name, 'preboot')
  assert.equal(preboot.app_id, ref('heroku_app.production.id'))
  assert.match(String(root.locals.production_preboot), /standard\|performance/)
  assert.equal(res('heroku_app', 'production').acm, ref('var.production_domain != ""'))
  assert.equal(res('heroku_domain', 'production').app_id, ref('heroku_app.production.id'))
  for (const f of ['staging_web', 'production_web']) {
    assert.equal(res('heroku_formation', f).count, ref('var.manage_formation ? 1 : 0'), 'formation waits for the first deploy')
  }
})

test('connection arithmetic: (pool + LISTEN) x processes x dynos x 2 + reserved fit each Postgres plan, review apps included', () => {
  const limits = root.locals.postgres_connection_limits as Record<string, number>
  const reserved = root.locals.reserved_connections as number
  assert.ok(reserved >= 2, 'room for the release phase and the scheduled cleanup')
  assert.equal(root.locals.production_peak_connections,
    ref('(var.production_database_pool_max + 1) * var.production_web_concurrency * var.production_web_quantity * 2 + local.reserved_connections'))
  assert.equal(root.locals.staging_peak_connections,
    ref('(var.staging_database_pool_max + 1) * var.staging_web_concurrency * 1 * 2 + local.reserved_connections'))
  // Each process also holds one LISTEN connection (public cache invalidation) outside its pool
  const peak = (pool: number, processes: number, dynos: number) => (pool + 1) * processes * dynos * 2 + reserved

  for (const app of ['staging', 'production'] as const) {
    // The numbers in the formula are the ones the app is configured with
    const { env } = appEnvironment(app)
    const config = loadConfig(env)
    assert.equal(config.DATABASE_POOL_MAX, vars[`${app}_database_pool_max`])
    assert.equal(config.WEB_CONCURRENCY, vars[`${app}_web_concurrency`], 'WEB_CONCURRENCY is pinned, not left to the buildpack')
    const plan = vars[`${app}_postgres_plan`] as string
    const limit = limits[plan]
    assert.ok(limit, `${plan} has a known connection limit`)
    const dynos = app === 'production' ? vars.production_web_quantity as number : 1
    const used = peak(config.DATABASE_POOL_MAX, config.WEB_CONCURRENCY, dynos)
    assert.ok(used <= limit, `${app}: ${used} connections at peak on ${plan} (limit ${limit})`)
    const precondition = res('heroku_addon', `${app}_postgres`).lifecycle?.[0]?.precondition?.[0]
    assert.equal(precondition?.condition, ref(`local.${app}_peak_connections <= lookup(local.postgres_connection_limits, var.${app}_postgres_plan, local.${app}_peak_connections)`))
  }
  // The same arithmetic refuses what would not fit: 4 standard-2x dynos with 2 processes and a pool of 10
  assert.ok(peak(10, 2, 4) > (limits['heroku-postgresql:standard-0'] as number))

  const appEnv = appJson.env as Record<string, { value?: string }>
  const reviewPlan = (appJson.addons as Array<{ plan: string }>).find(a => a.plan.startsWith('heroku-postgresql:'))?.plan as string
  const reviewLimit = limits[reviewPlan]
  assert.ok(reviewLimit, `review apps' ${reviewPlan} has a known limit`)
  const reviewPeak = peak(Number(appEnv.DATABASE_POOL_MAX?.value), Number(appEnv.WEB_CONCURRENCY?.value), appJson.formation.web.quantity)
  assert.ok(reviewPeak <= reviewLimit, `review apps: ${reviewPeak} <= ${reviewLimit}`)
})
