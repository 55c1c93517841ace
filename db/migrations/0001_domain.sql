-- The whole domain model of DESIGN §1. Invariants live in constraints, so that no code path,
-- concurrent or not, can break them: one holder per alias per collection, one use per version
-- index per collection, names unique where the design says so.

CREATE TYPE org_role AS ENUM ('VIEWER', 'MEMBER', 'ADMIN');
CREATE TYPE registry_role AS ENUM ('RESTRICTED_VIEWER', 'VIEWER', 'MEMBER', 'ADMIN');
CREATE TYPE registry_visibility AS ENUM ('ORGANIZATION', 'RESTRICTED');
CREATE TYPE run_state AS ENUM ('RUNNING', 'FINISHED', 'FAILED', 'CRASHED');
CREATE TYPE user_kind AS ENUM ('HUMAN', 'SERVICE');

CREATE TABLE organizations (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 128),
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX organizations_name_key ON organizations (name);

CREATE TABLE users (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    display_name text NOT NULL DEFAULT '',
    kind         user_kind NOT NULL DEFAULT 'HUMAN',
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX users_name_key ON users (lower(name));

CREATE TABLE organization_members (
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            org_role NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_members_user_idx ON organization_members (user_id);

CREATE TABLE teams (
    id              bigserial PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX teams_org_name_key ON teams (organization_id, lower(name));

CREATE TABLE team_members (
    team_id    bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user_idx ON team_members (user_id);

-- Only a SHA-256 of the secret is kept; the secret is shown once when the key is made.
CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    key_hash     bytea NOT NULL CHECK (length(key_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (key_hash);
CREATE INDEX api_keys_user_idx ON api_keys (user_id, created_at DESC, id DESC);

CREATE TABLE projects (
    id              bigserial PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$'
                                         AND name NOT LIKE 'wandb-registry-%'),
    description     text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX projects_org_name_key ON projects (organization_id, name);

CREATE TABLE runs (
    id          bigserial PRIMARY KEY,
    project_id  bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    state       run_state NOT NULL DEFAULT 'RUNNING',
    config      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
    summary     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(summary) = 'object'),
    user_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    CHECK ((state = 'RUNNING') = (finished_at IS NULL))
);
CREATE UNIQUE INDEX runs_project_name_key ON runs (project_id, name);
CREATE INDEX runs_project_order_idx ON runs (project_id, created_at DESC, id DESC);

CREATE TABLE registries (
    id                 bigserial PRIMARY KEY,
    organization_id    bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 113
                                            AND name !~ '[/\\#?%:\n\r]'),
    description        text NOT NULL DEFAULT '',
    visibility         registry_visibility NOT NULL DEFAULT 'ORGANIZATION',
    accepts_all_types  boolean NOT NULL DEFAULT false,
    is_core            boolean NOT NULL DEFAULT false,
    created_by         bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (NOT is_core OR visibility = 'ORGANIZATION')
);
CREATE UNIQUE INDEX registries_org_name_key ON registries (organization_id, lower(name));

CREATE TABLE registry_accepted_types (
    registry_id   bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    artifact_type text NOT NULL CHECK (length(artifact_type) BETWEEN 1 AND 128),
    PRIMARY KEY (registry_id, artifact_type)
);

CREATE TABLE registry_protected_aliases (
    registry_id bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    alias       text NOT NULL CHECK (alias ~ '^[A-Za-z0-9_.-]{1,128}$'),
    PRIMARY KEY (registry_id, alias)
);

CREATE TABLE registry_user_roles (
    registry_id bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        registry_role NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (registry_id, user_id)
);
CREATE INDEX registry_user_roles_user_idx ON registry_user_roles (user_id);

CREATE TABLE registry_team_roles (
    registry_id bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    team_id     bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    role        registry_role NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (registry_id, team_id)
);
CREATE INDEX registry_team_roles_team_idx ON registry_team_roles (team_id);

-- Both kinds of version container share one table: a project's artifact sequence (the versions
-- logged under one artifact name) and a registry's collection (the versions linked into it).
-- Versions, aliases and tags then work the same way for both.
CREATE TABLE collections (
    id              bigserial PRIMARY KEY,
    -- Denormalised from the project or registry so that authorization needs no join.
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id    bigint REFERENCES projects (id) ON DELETE CASCADE,
    registry_id   bigint REFERENCES registries (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 128 AND name !~ '[/:\n\r]'),
    artifact_type text NOT NULL CHECK (length(artifact_type) BETWEEN 1 AND 128),
    description   text NOT NULL DEFAULT '',
    -- The next version index; taken under the row lock, so concurrent links never share one
    -- and an unlinked index is never handed out again.
    next_index    integer NOT NULL DEFAULT 0 CHECK (next_index >= 0),
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK ((project_id IS NULL) <> (registry_id IS NULL))
);
CREATE UNIQUE INDEX collections_project_name_key ON collections (project_id, name)
    WHERE project_id IS NOT NULL;
CREATE UNIQUE INDEX collections_registry_name_key ON collections (registry_id, name)
    WHERE registry_id IS NOT NULL;
CREATE INDEX collections_registry_order_idx ON collections (registry_id, created_at DESC, id DESC)
    WHERE registry_id IS NOT NULL;

CREATE TABLE collection_tags (
    collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    tag           text NOT NULL CHECK (tag ~ '^[A-Za-z0-9_.-]{1,128}$'),
    PRIMARY KEY (collection_id, tag)
);
CREATE INDEX collection_tags_tag_idx ON collection_tags (tag);

-- Logged content: immutable once written, owned by the sequence it was logged to.
CREATE TABLE artifact_contents (
    id                 bigserial PRIMARY KEY,
    sequence_id        bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    digest             text NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
    size               bigint NOT NULL CHECK (size >= 0),
    metadata           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    description        text NOT NULL DEFAULT '',
    created_by_run_id  bigint REFERENCES runs (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX artifact_contents_sequence_digest_key ON artifact_contents (sequence_id, digest);
CREATE INDEX artifact_contents_run_idx ON artifact_contents (created_by_run_id, created_at DESC, id DESC);

CREATE TABLE artifact_files (
    content_id bigint NOT NULL REFERENCES artifact_contents (id) ON DELETE CASCADE,
    path       text NOT NULL CHECK (length(path) BETWEEN 1 AND 1024),
    digest     text NOT NULL CHECK (length(digest) BETWEEN 1 AND 128),
    size       bigint NOT NULL CHECK (size >= 0),
    PRIMARY KEY (content_id, path)
);

-- A version inside a collection: a sequence's logged version or a registry collection's link.
CREATE TABLE artifact_versions (
    id            bigserial PRIMARY KEY,
    collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    content_id    bigint NOT NULL REFERENCES artifact_contents (id) ON DELETE CASCADE,
    version_index integer NOT NULL CHECK (version_index >= 0),
    linked_by     bigint REFERENCES users (id) ON DELETE SET NULL,
    linked_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX artifact_versions_collection_index_key
    ON artifact_versions (collection_id, version_index);
CREATE UNIQUE INDEX artifact_versions_collection_content_key
    ON artifact_versions (collection_id, content_id);
CREATE INDEX artifact_versions_content_idx ON artifact_versions (content_id, id);

CREATE TABLE version_tags (
    version_id bigint NOT NULL REFERENCES artifact_versions (id) ON DELETE CASCADE,
    tag        text NOT NULL CHECK (tag ~ '^[A-Za-z0-9_.-]{1,128}$'),
    PRIMARY KEY (version_id, tag)
);
CREATE INDEX version_tags_tag_idx ON version_tags (tag);

-- One holder per alias per collection: the primary key makes a second holder impossible.
CREATE TABLE aliases (
    collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    alias         text NOT NULL CHECK (alias ~ '^[A-Za-z0-9_.-]{1,128}$'),
    version_id    bigint NOT NULL REFERENCES artifact_versions (id) ON DELETE CASCADE,
    assigned_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (collection_id, alias)
);
CREATE INDEX aliases_version_idx ON aliases (version_id);

-- When each alias came to and left each version, for `asOf` resolution and alias history.
-- The version is a plain id, not a foreign key: the history outlives an unlinked version.
CREATE TABLE alias_history (
    id            bigserial PRIMARY KEY,
    collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    alias         text NOT NULL,
    version_id    bigint NOT NULL,
    version_index integer NOT NULL,
    assigned_at   timestamptz NOT NULL,
    removed_at    timestamptz,
    CHECK (removed_at IS NULL OR removed_at >= assigned_at)
);
CREATE INDEX alias_history_lookup_idx ON alias_history (collection_id, alias, assigned_at DESC);
CREATE INDEX alias_history_version_idx ON alias_history (version_id, assigned_at);

-- A run used some content (through one of its versions): the input edges of the lineage graph.
CREATE TABLE run_inputs (
    run_id     bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    content_id bigint NOT NULL REFERENCES artifact_contents (id) ON DELETE CASCADE,
    version_id bigint REFERENCES artifact_versions (id) ON DELETE SET NULL,
    used_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (run_id, content_id)
);
CREATE INDEX run_inputs_content_idx ON run_inputs (content_id, used_at DESC, run_id DESC);
CREATE INDEX run_inputs_run_order_idx ON run_inputs (run_id, used_at DESC, content_id DESC);

CREATE TABLE audit_events (
    id              bigserial PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- Kept as plain ids, not foreign keys: history outlives what it describes.
    registry_id     bigint,
    collection_id   bigint,
    actor_id        bigint REFERENCES users (id) ON DELETE SET NULL,
    action          text NOT NULL,
    target_type     text NOT NULL,
    target_id       bigint,
    before          jsonb,
    after           jsonb,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX audit_events_registry_idx ON audit_events (registry_id, id DESC)
    WHERE registry_id IS NOT NULL;
CREATE INDEX audit_events_collection_idx ON audit_events (collection_id, id DESC)
    WHERE collection_id IS NOT NULL;
CREATE INDEX audit_events_org_idx ON audit_events (organization_id, id DESC);
