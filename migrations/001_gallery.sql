-- Gallery schema: collections and images with their upload lifecycle.
-- Text + CHECK instead of enum types: adding a state later is a backward-compatible
-- migration, which matters during Heroku preboot when old and new code overlap.

create table collections (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 80),
  title text not null check (length(title) between 1 and 200),
  description text not null default '' check (length(description) <= 5000),
  published boolean not null default false,
  position integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index collections_order_idx on collections (position, id);

create table images (
  id uuid primary key default gen_random_uuid(),
  collection_id uuid references collections (id) on delete set null,
  status text not null default 'pending' check (status in ('pending', 'ready', 'rejected')),
  key text not null unique,
  content_type text not null,
  declared_size bigint not null check (declared_size > 0),
  size bigint,
  width integer,
  height integer,
  title text not null default '' check (length(title) <= 200),
  description text not null default '' check (length(description) <= 5000),
  alt_text text not null default '' check (length(alt_text) <= 1000),
  tags text[] not null default '{}',
  position integer not null default 0,
  published boolean not null default false,
  uploaded_by text not null,
  original_filename text check (length(original_filename) <= 255),
  rejection_reason text,
  expires_at timestamptz not null,
  completed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Keyset pagination is ordered by (position, id); the public path only reads ready + published rows.
create index images_public_order_idx on images (position, id) where status = 'ready' and published;
create index images_public_collection_order_idx on images (collection_id, position, id) where status = 'ready' and published;
create index images_order_idx on images (position, id);
create index images_collection_order_idx on images (collection_id, position, id);
create index images_tags_idx on images using gin (tags);
create index images_pending_expiry_idx on images (expires_at) where status = 'pending';
