// Collections and images: the SQL behind the gallery routes, with the visibility rules in one
// place. The public sees published collections, and ready + published images that are not in
// a draft collection; writers see everything. Lists use keyset pagination on (position, id).
// Every write NOTIFYs inside its transaction so each process drops its public cache on commit.
import type postgres from 'postgres'
import type { Sql } from './db.ts'
import { cancellable } from './db.ts'
import { Errors } from './errors.ts'
import { gated, type DbGate } from './db-gate.ts'
import { encodeCursor, isUuid, type Cursor } from './cursor.ts'
import { notifyChanged } from './public-cache.ts'
import type { Collection, Image } from './schemas.ts'
import type { ImageUrls } from './image-urls.ts'

export type ImageStatus = Image['status']
export interface Page<T> { items: T[], nextCursor: string | null }

export interface ImageQuery {
  writer: boolean
  limit: number
  cursor?: Cursor
  /** Collection id or slug */
  collection?: string
  tag?: string
  status?: ImageStatus
}

export interface CollectionQuery { writer: boolean, limit: number, cursor?: Cursor }

export interface ImagePatch {
  title?: string
  description?: string
  altText?: string
  tags?: string[]
  collectionId?: string | null
  position?: number
  published?: boolean
}

export interface CollectionInput { slug: string, title: string, description?: string, published?: boolean, position?: number }
export type CollectionPatch = Partial<CollectionInput>

interface ImageRow extends Omit<Image, 'url' | 'size' | 'createdAt' | 'updatedAt'> {
  key: string
  size: string | null
  createdAt: Date
  updatedAt: Date
}
interface CollectionRow extends Omit<Collection, 'createdAt' | 'updatedAt'> { createdAt: Date, updatedAt: Date }

const UNIQUE_VIOLATION = '23505'
const FOREIGN_KEY_VIOLATION = '23503'

const IMAGE_COLUMNS = {
  title: 'title',
  description: 'description',
  altText: 'alt_text',
  tags: 'tags',
  collectionId: 'collection_id',
  position: 'position',
  published: 'published'
} as const satisfies Record<keyof ImagePatch, string>

const COLLECTION_COLUMNS = {
  slug: 'slug',
  title: 'title',
  description: 'description',
  published: 'published',
  position: 'position'
} as const satisfies Record<keyof CollectionPatch, string>

/** Typed rows from a query that is cancelled when the request's signal aborts. */
async function rowsOf<T> (query: postgres.PendingQuery<postgres.Row[]>, signal?: AbortSignal): Promise<T[]> {
  return await cancellable(query, signal) as unknown as T[]
}

function sqlCode (err: unknown): string | undefined {
  return (err as { code?: string }).code
}

/** Trimmed, de-duplicated, order kept. */
export function normalizeTags (tags: string[]): string[] {
  return [...new Set(tags.map(t => t.trim()).filter(t => t.length > 0))]
}

function toColumns<T extends object> (patch: T, columns: Record<keyof T, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(patch)) if (v !== undefined && k in columns) out[columns[k as keyof T]] = v
  return out
}

/** The gallery's queries; with a gate, each refused at once while Postgres is unreachable. */
export function createGallery (sql: Sql, imageUrls: ImageUrls, gate?: DbGate) {
  const imageSelect = (alias: postgres.Helper<string>) => sql`
    ${alias}.id, ${alias}.collection_id as "collectionId", ${alias}.status, ${alias}.key, ${alias}.title,
    ${alias}.description, ${alias}.alt_text as "altText", ${alias}.tags, ${alias}.position, ${alias}.published,
    ${alias}.content_type as "contentType", ${alias}.size, ${alias}.width, ${alias}.height,
    ${alias}.created_at as "createdAt", ${alias}.updated_at as "updatedAt"`
  const i = sql('i')
  const collectionSelect = sql`id, slug, title, description, published, position, created_at as "createdAt", updated_at as "updatedAt"`

  /** A collection named by id or slug; an id wins over a (uuid-shaped) slug of another collection. */
  const collectionRef = (ref: string) => isUuid(ref)
    ? sql`id = (select id from collections where id = ${ref.toLowerCase()}::uuid or slug = ${ref} order by (id = ${ref.toLowerCase()}::uuid) desc limit 1)`
    : sql`slug = ${ref}`

  const publicImage = sql`
    i.status = 'ready' and i.published
    and (i.collection_id is null or exists (select 1 from collections c where c.id = i.collection_id and c.published))`

  // Fields named one by one: a rest pattern and a spread made two more objects per image (the
  // writer's list is uncached, and its garbage is what grows the heap under load)
  async function toImage (row: ImageRow): Promise<Image> {
    return {
      id: row.id,
      collectionId: row.collectionId,
      status: row.status,
      title: row.title,
      description: row.description,
      altText: row.altText,
      tags: row.tags,
      position: row.position,
      published: row.published,
      contentType: row.contentType,
      // int8 arrives as a string; image sizes are far below 2^53
      size: row.size === null ? null : Number(row.size),
      width: row.width,
      height: row.height,
      url: row.status === 'ready' ? await imageUrls.url(row.key) : null,
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString()
    }
  }

  function toCollection (row: CollectionRow): Collection {
    return { ...row, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() }
  }

  function page<R extends { position: number, id: string }, T> (rows: R[], limit: number, map: (rows: R[]) => T[]): { items: T[], nextCursor: string | null } {
    const more = rows.length > limit
    const kept = more ? rows.slice(0, limit) : rows
    const last = kept[kept.length - 1]
    return { items: map(kept), nextCursor: more && last ? encodeCursor(last) : null }
  }

  const api = {
    async listImages (q: ImageQuery, signal?: AbortSignal): Promise<Page<Image>> {
      const rows = await rowsOf<ImageRow>(sql`
        select ${imageSelect(i)} from images i
        where true
          ${q.writer ? sql`` : sql`and ${publicImage}`}
          ${q.status ? sql`and i.status = ${q.status}` : sql``}
          ${q.tag !== undefined ? sql`and i.tags @> array[${q.tag}]::text[]` : sql``}
          ${q.collection !== undefined
            ? sql`and i.collection_id in (select id from collections where slug = ${q.collection}${isUuid(q.collection) ? sql` or id = ${q.collection.toLowerCase()}::uuid` : sql``})`
            : sql``}
          ${q.cursor ? sql`and (i.position, i.id) > (${q.cursor.position}::int, ${q.cursor.id}::uuid)` : sql``}
        order by i.position, i.id
        limit ${q.limit + 1}`, signal)
      const p = page(rows, q.limit, r => r)
      return { items: await Promise.all(p.items.map(toImage)), nextCursor: p.nextCursor }
    },

    async getImage (id: string, writer: boolean, signal?: AbortSignal): Promise<Image> {
      const [row] = await rowsOf<ImageRow>(sql`
        select ${imageSelect(i)} from images i
        where i.id = ${id} ${writer ? sql`` : sql`and ${publicImage}`}`, signal)
      if (!row) throw new Errors.NotFound('Image')
      return await toImage(row)
    },

    async updateImage (id: string, patch: ImagePatch): Promise<Image> {
      const values = toColumns({ ...patch, ...(patch.tags ? { tags: normalizeTags(patch.tags) } : {}) }, IMAGE_COLUMNS)
      const row = await sql.begin(async (tx) => {
        const [current] = await tx<{ status: ImageStatus }[]>`select status from images where id = ${id} for update`
        if (!current) throw new Errors.NotFound('Image')
        if (patch.published === true && current.status !== 'ready') throw new Errors.Conflict(`Only ready images can be published; this one is ${current.status}`)
        let updated: ImageRow | undefined
        try {
          [updated] = await tx<ImageRow[]>`
            update images i set ${tx(values)}, updated_at = now() where i.id = ${id}
            returning ${imageSelect(i)}`
        } catch (err) {
          if (sqlCode(err) === FOREIGN_KEY_VIOLATION) throw new Errors.Unprocessable('collectionId does not name an existing collection')
          throw err
        }
        await notifyChanged(tx)
        return updated!
      })
      return await toImage(row)
    },

    /**
     * Three steps, each committed before the next, so that the public never sees half of a
     * delete (a published image whose object is gone) and nothing is left that no row records:
     *   1. unpublish the row (and notify): from here on the public no longer sees the image;
     *   2. delete the S3 object: a failure is a 503 and the row stays, hidden, for a retry;
     *   3. delete the row (and notify).
     * A crash or a failed commit between 2 and 3 leaves an unpublished row without its object:
     * only writers see it, and deleting it again finishes the job (an S3 delete is idempotent).
     * Holding one transaction across the S3 call instead (the old way) left a public row
     * without its object whenever the commit failed, or the call was cancelled, after S3 had
     * deleted. Deleting the row first would leave, on an S3 failure, an object nothing records
     * that stays reachable by its URL (forever, behind a CDN).
     * `deleteObject` must not be cancelled by the client going away: it is bounded by the storage
     * client's own timeouts.
     */
    async deleteImage (id: string, deleteObject: (key: string) => Promise<void>): Promise<void> {
      const row = await sql.begin(async (tx) => {
        const [found] = await tx<{ key: string }[]>`
          update images set published = false, updated_at = now() where id = ${id} returning key`
        if (!found) throw new Errors.NotFound('Image')
        await notifyChanged(tx)
        return found
      })
      try {
        await deleteObject(row.key)
      } catch (err) {
        throw Object.assign(new Errors.StorageUnavailable(), { cause: err })
      }
      await sql.begin(async (tx) => {
        // Gone already: a concurrent delete of the same image finished first; same outcome
        await tx`delete from images where id = ${id}`
        await notifyChanged(tx)
      })
    },

    async listCollections (q: CollectionQuery, signal?: AbortSignal): Promise<Page<Collection>> {
      const rows = await rowsOf<CollectionRow>(sql`
        select ${collectionSelect} from collections
        where true
          ${q.writer ? sql`` : sql`and published`}
          ${q.cursor ? sql`and (position, id) > (${q.cursor.position}::int, ${q.cursor.id}::uuid)` : sql``}
        order by position, id
        limit ${q.limit + 1}`, signal)
      return page(rows, q.limit, r => r.map(toCollection))
    },

    async getCollection (ref: string, writer: boolean, signal?: AbortSignal): Promise<Collection> {
      const [row] = await rowsOf<CollectionRow>(sql`
        select ${collectionSelect} from collections
        where ${collectionRef(ref)} ${writer ? sql`` : sql`and published`}`, signal)
      if (!row) throw new Errors.NotFound('Collection')
      return toCollection(row)
    },

    async createCollection (input: CollectionInput): Promise<Collection> {
      try {
        return await sql.begin(async (tx) => {
          // New collections go last unless a position is given
          const [created] = await tx<CollectionRow[]>`
            insert into collections (slug, title, description, published, position)
            values (${input.slug}, ${input.title}, ${input.description ?? ''}, ${input.published ?? false},
              coalesce(${input.position ?? null}::int, (select coalesce(max(position) + 1, 0) from collections)))
            returning ${collectionSelect}`
          await notifyChanged(tx)
          return toCollection(created!)
        })
      } catch (err) {
        if (sqlCode(err) === UNIQUE_VIOLATION) throw new Errors.Conflict(`A collection with slug "${input.slug}" already exists`)
        throw err
      }
    },

    async updateCollection (ref: string, patch: CollectionPatch): Promise<Collection> {
      const values = toColumns(patch, COLLECTION_COLUMNS)
      try {
        return await sql.begin(async (tx) => {
          const [row] = await tx<CollectionRow[]>`
            update collections set ${tx(values)}, updated_at = now() where ${collectionRef(ref)}
            returning ${collectionSelect}`
          if (!row) throw new Errors.NotFound('Collection')
          await notifyChanged(tx)
          return toCollection(row)
        })
      } catch (err) {
        if (sqlCode(err) === UNIQUE_VIOLATION) throw new Errors.Conflict(`A collection with slug "${patch.slug ?? ''}" already exists`)
        throw err
      }
    },

    /**
     * Its images stay, with collection_id set to null by the foreign key, and deleting never
     * changes what the public sees of them. Images of a published collection were already public
     * and stay so. Images of a draft were hidden by the draft; with no collection they would
     * become public, so they are unpublished first: a gallery owner deleting a draft does not
     * expect its unfinished images to go live. (Unpublishing the images of a published
     * collection too would hide pictures the owner had chosen to show, as a side effect of
     * removing a grouping.)
     */
    async deleteCollection (ref: string): Promise<void> {
      await sql.begin(async (tx) => {
        // FOR UPDATE also blocks a concurrent write moving an image into it (the FK takes KEY
        // SHARE on this row) until we commit, when that write finds the collection gone
        const [target] = await tx<{ id: string, published: boolean }[]>`
          select id, published from collections where ${collectionRef(ref)} for update`
        if (!target) throw new Errors.NotFound('Collection')
        if (!target.published) {
          await tx`update images set published = false, updated_at = now() where collection_id = ${target.id} and published`
        }
        await tx`delete from collections where id = ${target.id}`
        await notifyChanged(tx)
      })
    },

    /**
     * `ids` come first, in that order; collections not named keep their relative order after them.
     * Ids compare case-insensitively: one named twice (in any case) is a 400.
     */
    async reorderCollections (requested: string[]): Promise<Collection[]> {
      const ids = requested.map(id => id.toLowerCase())
      const repeated = [...new Set(ids.filter((id, n) => ids.indexOf(id) !== n))]
      if (repeated.length > 0) throw new Errors.BadRequest(`Each collection may be listed once; repeated: ${repeated.join(', ')}`)
      return await sql.begin(async (tx) => {
        // Concurrent creates wait, so no collection escapes the renumbering
        await tx`lock table collections in share row exclusive mode`
        const found = await tx<{ id: string }[]>`select id from collections where id = any(${ids}::uuid[])`
        if (found.length !== ids.length) {
          const known = new Set(found.map(r => r.id))
          throw new Errors.Unprocessable(`Unknown collection id(s): ${ids.filter(x => !known.has(x)).join(', ')}`)
        }
        await tx`
          with named as (
            select t.id, t.ord from unnest(${ids}::uuid[]) with ordinality as t(id, ord)
          ), rest as (
            select id, ${ids.length} + row_number() over (order by position, id) as ord
            from collections where id <> all(${ids}::uuid[])
          ), target as (select * from named union all select * from rest)
          update collections c set position = (target.ord - 1)::int, updated_at = now()
          from target where c.id = target.id and c.position <> (target.ord - 1)::int`
        await notifyChanged(tx)
        const rows = await tx<CollectionRow[]>`select ${collectionSelect} from collections order by position, id`
        return rows.map(toCollection)
      })
    }
  }
  return gate === undefined ? api : gated(api, gate)
}

export type Gallery = ReturnType<typeof createGallery>
