-- Webhook automations (DESIGN §1 Automations) and their transactional outbox.

CREATE TYPE automation_event AS ENUM (
    'LINK_ARTIFACT', 'UNLINK_ARTIFACT', 'ADD_ARTIFACT_ALIAS', 'REMOVE_ARTIFACT_ALIAS', 'ADD_TAG',
    'CREATE_ARTIFACT'
);
CREATE TYPE delivery_status AS ENUM ('PENDING', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED');

CREATE TABLE automations (
    id               bigserial PRIMARY KEY,
    organization_id  bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    registry_id      bigint NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    -- NULL: every collection of the registry, including future ones.
    collection_id    bigint REFERENCES collections (id) ON DELETE CASCADE,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    description      text NOT NULL DEFAULT '',
    enabled          boolean NOT NULL DEFAULT true,
    events           automation_event[] NOT NULL CHECK (cardinality(events) > 0),
    -- Matched against the alias (alias events) or the tag (tag events).
    filter_regex     text CHECK (filter_regex IS NULL OR length(filter_regex) <= 512),
    webhook_url      text NOT NULL CHECK (length(webhook_url) BETWEEN 1 AND 2048),
    -- Header values and the signing secret are write-only in the API; with CAIRN_SECRET_KEY set
    -- they are stored encrypted, so a dump of the database alone does not reveal them.
    headers          bytea,
    secret           bytea NOT NULL,
    payload_template text NOT NULL CHECK (length(payload_template) <= 65536),
    created_by       bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX automations_registry_name_key ON automations (registry_id, lower(name));
CREATE INDEX automations_collection_idx ON automations (collection_id, created_at DESC, id DESC)
    WHERE collection_id IS NOT NULL;
CREATE INDEX automations_registry_order_idx ON automations (registry_id, created_at DESC, id DESC);

-- The outbox: written in the transaction of the change that caused it, so a change that rolls
-- back sends nothing and a committed one is delivered even if the process dies right after.
CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    automation_id   bigint NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
    event_type      automation_event NOT NULL,
    audit_event_id  bigint,
    body            text NOT NULL,
    status          delivery_status NOT NULL DEFAULT 'PENDING',
    -- Attempts of the current round; a redelivery starts a new round.
    attempt_count   integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- A claimed delivery whose lease ran out (its worker died) is claimed again.
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at     timestamptz
);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at, id)
    WHERE status IN ('PENDING', 'IN_PROGRESS');
CREATE INDEX deliveries_automation_idx ON deliveries (automation_id, id DESC);

CREATE TABLE delivery_attempts (
    id               bigserial PRIMARY KEY,
    delivery_id      bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempted_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    status_code      integer,
    latency_ms       integer NOT NULL,
    response_excerpt text,
    error            text
);
CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts (delivery_id, id);
