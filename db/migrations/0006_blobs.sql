-- File bytes, stored once under their SHA-256 in the blob store. A row means the bytes are in
-- the store and were verified on arrival; `stored_at` is refreshed by every upload of the same
-- bytes, so that the collector (which takes the row lock) never deletes bytes that an upload
-- has just confirmed.
CREATE TABLE blobs (
    sha256    text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    md5       text NOT NULL CHECK (md5 ~ '^[0-9a-f]{32}$'),
    size      bigint NOT NULL CHECK (size >= 0),
    stored_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX blobs_stored_at_idx ON blobs (stored_at);

-- The organizations that have shown they hold a blob's bytes: by uploading them, or by logging
-- files that refer to them. Deduplication and logging go by this, so that knowing a digest is
-- never enough to reach another organization's bytes.
CREATE TABLE blob_holders (
    sha256          text NOT NULL REFERENCES blobs (sha256) ON DELETE CASCADE,
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    PRIMARY KEY (sha256, organization_id)
);
CREATE INDEX blob_holders_organization_idx ON blob_holders (organization_id);

-- The blob holding each file's bytes. Files logged before the store existed have none: their
-- manifests were never backed by bytes, and nothing can be downloaded for them.
ALTER TABLE artifact_files ADD COLUMN sha256 text REFERENCES blobs (sha256);
CREATE INDEX artifact_files_sha256_idx ON artifact_files (sha256);

-- Secrets every server process shares: the key that signs transfer URLs, made by the first
-- process that needs it, so that a URL one process hands out works on every other.
CREATE TABLE server_secrets (
    name       text PRIMARY KEY,
    secret     bytea NOT NULL CHECK (length(secret) >= 32),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
