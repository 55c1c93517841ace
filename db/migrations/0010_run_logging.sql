-- What the wandb SDK records about a run as it goes: its details, its history of logged
-- metrics, its files, and artifacts on their way in.

-- The run's `name` is the SDK's run ID; these are what it shows and groups by. A run the SDK
-- is logging is heard from every few seconds while it lives (`heartbeat_at`, null for runs
-- made through Cairn's own API); one silent for long has crashed.
ALTER TABLE runs
    ADD COLUMN display_name text NOT NULL DEFAULT '' CHECK (length(display_name) <= 128),
    ADD COLUMN notes text NOT NULL DEFAULT '' CHECK (length(notes) <= 10000),
    ADD COLUMN tags text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 64),
    ADD COLUMN group_name text CHECK (length(group_name) <= 128),
    ADD COLUMN job_type text CHECK (length(job_type) <= 64),
    ADD COLUMN exit_code integer,
    ADD COLUMN heartbeat_at timestamptz;
CREATE INDEX runs_running_heartbeat_idx ON runs (heartbeat_at)
    WHERE state = 'RUNNING' AND heartbeat_at IS NOT NULL;

-- One row per `run.log(...)`, numbered from 0 as the SDK numbers the lines it streams, so that
-- a line sent again (a retry) replaces itself.
CREATE TABLE run_history (
    run_id bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    line   integer NOT NULL CHECK (line >= 0),
    row    jsonb NOT NULL CHECK (jsonb_typeof(row) = 'object'),
    PRIMARY KEY (run_id, line)
);

-- The files a run saved (its console output, config, requirements), by name; the bytes are a
-- blob like any artifact file's.
CREATE TABLE run_files (
    run_id     bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 1024),
    sha256     text NOT NULL REFERENCES blobs (sha256),
    size       bigint NOT NULL CHECK (size >= 0),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (run_id, name)
);
CREATE INDEX run_files_sha256_idx ON run_files (sha256);

-- An artifact the SDK is logging: created first, its files and manifest uploaded next, then
-- committed, which makes it a version. Its id is taken from the versions' sequence and becomes
-- the version's id, so the ID the SDK was given at the start names the version at the end.
-- When the content turns out to be logged already (by a run that committed it meanwhile), the
-- row stays, pointing at that version (`version_id`), so that this ID names it too.
CREATE TABLE artifact_uploads (
    id              bigint PRIMARY KEY DEFAULT nextval('artifact_versions_id_seq'),
    sequence_id     bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    run_id          bigint REFERENCES runs (id) ON DELETE CASCADE,
    user_id         bigint REFERENCES users (id) ON DELETE SET NULL,
    wandb_digest    text NOT NULL CHECK (length(wandb_digest) BETWEEN 1 AND 128),
    description     text NOT NULL DEFAULT '',
    metadata        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    aliases         text[] NOT NULL DEFAULT '{}',
    ttl_seconds     bigint,
    client_id       text CHECK (length(client_id) <= 128),
    manifest_sha256 text REFERENCES blobs (sha256),
    version_id      bigint REFERENCES artifact_versions (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX artifact_uploads_version_idx ON artifact_uploads (version_id);
CREATE INDEX artifact_uploads_run_idx ON artifact_uploads (run_id);
CREATE INDEX artifact_uploads_created_idx ON artifact_uploads (created_at);
CREATE INDEX artifact_uploads_manifest_idx ON artifact_uploads (manifest_sha256);

-- The digest the SDK computed for content it logged (an MD5 over its manifest): how it finds
-- that identical content is logged already and skips the upload.
ALTER TABLE artifact_contents ADD COLUMN wandb_digest text;
CREATE INDEX artifact_contents_wandb_digest_idx ON artifact_contents (sequence_id, wandb_digest)
    WHERE wandb_digest IS NOT NULL;

-- The SDK's client ID of a logged version, for the SDK's questions by that ID.
ALTER TABLE artifact_contents ADD COLUMN client_id text;
CREATE INDEX artifact_contents_client_id_idx ON artifact_contents (client_id)
    WHERE client_id IS NOT NULL;

-- A reference: a file recorded by its URI (s3://, gs://, https://, file://) and never uploaded.
-- Its digest is what the SDK computed (an ETag, a checksum or the URI itself).
ALTER TABLE artifact_files
    ADD COLUMN ref text CHECK (length(ref) BETWEEN 1 AND 2048),
    DROP CONSTRAINT artifact_files_digest_check,
    ADD CONSTRAINT artifact_files_digest_check CHECK (length(digest) BETWEEN 1 AND 2048),
    ADD CONSTRAINT artifact_files_ref_has_no_bytes CHECK (ref IS NULL OR sha256 IS NULL);
