// Seeds gallery content straight into Postgres with SQL (generate_series), fast enough for
// 100k images: published collections and ready + published images spread across them.
import type postgres from 'postgres'

export interface SeedOptions {
  images: number
  collections?: number
  /** Extra images that the public must never see (drafts, pending). */
  hidden?: number
  prefix?: string
}

export interface Seeded { slugs: string[], images: number }

export async function seedGallery (sql: postgres.Sql, { images, collections = 5, hidden = 0, prefix = 'seed' }: SeedOptions): Promise<Seeded> {
  const slugs = Array.from({ length: collections }, (_, i) => `${prefix}-${i + 1}`)
  await sql`
    insert into collections (slug, title, description, published, position)
    select s, 'Collection ' || s, 'Seeded for benchmarks and drills', true, ord
    from unnest(${slugs}::text[]) with ordinality as t(s, ord)
    on conflict (slug) do nothing`
  const ids = (await sql<{ id: string }[]>`select id from collections where slug = any(${slugs}) order by position`).map(r => r.id)
  const insert = async (count: number, status: string, published: boolean, tag: string) => {
    if (count <= 0) return
    await sql`
      insert into images (collection_id, status, key, content_type, declared_size, size, width, height,
                          title, description, alt_text, tags, position, published, uploaded_by, expires_at, completed_at)
      select (${ids}::uuid[])[1 + (g % ${ids.length})], ${status}, ${prefix} || '/' || ${tag} || '/' || gen_random_uuid() || '.jpg',
             'image/jpeg', 200000 + g, 200000 + g, 1600, 1200,
             'Image ' || g, 'A seeded image, number ' || g, 'Alt text for image ' || g,
             array['tag-' || (g % 10), 'seed'], g, ${published}, 'auth0|seed', now() + interval '1 day', now()
      from generate_series(1, ${count}) as g`
  }
  await insert(images, 'ready', true, 'ready')
  await insert(Math.ceil(hidden / 2), 'ready', false, 'draft')
  await insert(Math.floor(hidden / 2), 'pending', false, 'pending')
  await sql`analyze images`
  await sql`analyze collections`
  return { slugs, images }
}
