-- Search (db/search.py): the indexes its filters, free text and orderings use. The text
-- expressions must stay written exactly as db/search.py writes them, or the planner will not
-- match them with these indexes.

-- Orderings and time ranges across registries.
CREATE INDEX artifact_contents_created_idx ON artifact_contents (created_at DESC, id DESC);
CREATE INDEX artifact_versions_linked_idx ON artifact_versions (linked_at DESC, id DESC);
CREATE INDEX collections_created_idx ON collections (created_at DESC, id DESC)
    WHERE registry_id IS NOT NULL;

-- Values inside metadata: equality and existence at any path through `@?`.
CREATE INDEX artifact_contents_metadata_idx ON artifact_contents USING gin (metadata jsonb_path_ops);

-- Which versions hold an alias, across every collection.
CREATE INDEX aliases_alias_idx ON aliases (alias, version_id);

-- Free text: names and cards, version descriptions, tags.
CREATE INDEX collections_text_idx ON collections
    USING gin (to_tsvector('simple', name || ' ' || description));
CREATE INDEX artifact_versions_text_idx ON artifact_versions
    USING gin (to_tsvector('simple', description));
CREATE INDEX version_tags_text_idx ON version_tags USING gin (to_tsvector('simple', tag));
CREATE INDEX collection_tags_text_idx ON collection_tags USING gin (to_tsvector('simple', tag));
CREATE INDEX registries_text_idx ON registries
    USING gin (to_tsvector('simple', name || ' ' || description));
