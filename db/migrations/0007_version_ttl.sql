-- A logged artifact may carry a time to live, counted from when it was logged. Once it has
-- passed, the bytes of its files are let go (the manifest stays: paths, sizes, digests), unless
-- a protected alias in a registry holds one of its versions; the collector then deletes bytes
-- that nothing else refers to, after its grace period.
ALTER TABLE artifact_contents
    ADD COLUMN ttl_seconds bigint CHECK (ttl_seconds > 0),
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN files_deleted_at timestamptz,
    ADD CONSTRAINT artifact_contents_ttl_expiry CHECK ((ttl_seconds IS NULL) = (expires_at IS NULL));

CREATE INDEX artifact_contents_expiring_idx ON artifact_contents (expires_at)
    WHERE expires_at IS NOT NULL AND files_deleted_at IS NULL;
