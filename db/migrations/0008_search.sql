-- Search (db/search.py): the indexes its filters, free text and orderings use.

-- Orderings and time ranges across registries.
CREATE INDEX artifact_contents_created_idx ON artifact_contents (created_at DESC, id DESC);
CREATE INDEX artifact_versions_linked_idx ON artifact_versions (linked_at DESC, id DESC);
CREATE INDEX collections_created_idx ON collections (created_at DESC, id DESC)
    WHERE registry_id IS NOT NULL;

-- Values inside metadata: equality and existence at any path through `@?`.
CREATE INDEX artifact_contents_metadata_idx ON artifact_contents USING gin (metadata jsonb_path_ops);

-- Which versions hold an alias, across every collection.
CREATE INDEX aliases_alias_idx ON aliases (alias, version_id);

-- Free text. Every word of a query must match somewhere in a version's name, tags, description
-- or its collection's card, so each version keeps one weighted document of all of them (name A,
-- tags B, descriptions C), and each collection one of its name, tags and card. Triggers keep
-- them current whichever code path writes: a version's own row, its tags, its collection's
-- name and card. Writers of one collection's versions, tags and card hold the collection's lock
-- (db/collections.py), so a document is always computed from committed neighbours.
ALTER TABLE artifact_versions ADD COLUMN search_document tsvector;
ALTER TABLE collections ADD COLUMN search_document tsvector;

CREATE FUNCTION version_search_document(version_id bigint, description text, collection_id bigint)
RETURNS tsvector LANGUAGE sql STABLE AS $$
    SELECT setweight(to_tsvector('simple', col.name), 'A')
        || setweight(to_tsvector('simple', coalesce(
               (SELECT string_agg(t.tag, ' ' ORDER BY t.tag) FROM version_tags t
                WHERE t.version_id = $1), '')),
               'B')
        || setweight(to_tsvector('simple', $2 || ' ' || col.description), 'C')
    FROM collections col WHERE col.id = $3
$$;

CREATE FUNCTION collection_search_document(collection_id bigint, name text, description text)
RETURNS tsvector LANGUAGE sql STABLE AS $$
    SELECT setweight(to_tsvector('simple', $2), 'A')
        || setweight(to_tsvector('simple', coalesce(
               (SELECT string_agg(t.tag, ' ' ORDER BY t.tag) FROM collection_tags t
                WHERE t.collection_id = $1),
               '')), 'B')
        || setweight(to_tsvector('simple', $3), 'C')
$$;

CREATE FUNCTION set_version_search_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_document := version_search_document(NEW.id, NEW.description, NEW.collection_id);
    RETURN NEW;
END
$$;

CREATE TRIGGER artifact_versions_search_document
    BEFORE INSERT OR UPDATE OF description, collection_id ON artifact_versions
    FOR EACH ROW EXECUTE FUNCTION set_version_search_document();

CREATE FUNCTION refresh_tagged_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE artifact_versions v
    SET search_document = version_search_document(v.id, v.description, v.collection_id)
    WHERE v.id IN (SELECT DISTINCT version_id FROM changed_tags);
    RETURN NULL;
END
$$;

CREATE TRIGGER version_tags_added AFTER INSERT ON version_tags
    REFERENCING NEW TABLE AS changed_tags
    FOR EACH STATEMENT EXECUTE FUNCTION refresh_tagged_versions();
CREATE TRIGGER version_tags_removed AFTER DELETE ON version_tags
    REFERENCING OLD TABLE AS changed_tags
    FOR EACH STATEMENT EXECUTE FUNCTION refresh_tagged_versions();

CREATE FUNCTION set_collection_search_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_document := collection_search_document(NEW.id, NEW.name, NEW.description);
    RETURN NEW;
END
$$;

CREATE TRIGGER collections_search_document
    BEFORE INSERT OR UPDATE OF name, description ON collections
    FOR EACH ROW EXECUTE FUNCTION set_collection_search_document();

CREATE FUNCTION refresh_versions_of_collection() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE artifact_versions v
    SET search_document = version_search_document(v.id, v.description, v.collection_id)
    WHERE v.collection_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER collections_search_document_of_versions
    AFTER UPDATE OF name, description ON collections
    FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.description IS DISTINCT FROM NEW.description)
    EXECUTE FUNCTION refresh_versions_of_collection();

CREATE FUNCTION refresh_tagged_collections() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE collections col
    SET search_document = collection_search_document(col.id, col.name, col.description)
    WHERE col.id IN (SELECT DISTINCT collection_id FROM changed_tags);
    RETURN NULL;
END
$$;

CREATE TRIGGER collection_tags_added AFTER INSERT ON collection_tags
    REFERENCING NEW TABLE AS changed_tags
    FOR EACH STATEMENT EXECUTE FUNCTION refresh_tagged_collections();
CREATE TRIGGER collection_tags_removed AFTER DELETE ON collection_tags
    REFERENCING OLD TABLE AS changed_tags
    FOR EACH STATEMENT EXECUTE FUNCTION refresh_tagged_collections();

UPDATE collections SET search_document = collection_search_document(id, name, description);
UPDATE artifact_versions
SET search_document = version_search_document(id, description, collection_id);
ALTER TABLE collections ALTER COLUMN search_document SET NOT NULL;
ALTER TABLE artifact_versions ALTER COLUMN search_document SET NOT NULL;

CREATE INDEX artifact_versions_text_idx ON artifact_versions USING gin (search_document);
CREATE INDEX collections_text_idx ON collections USING gin (search_document);
CREATE INDEX registries_text_idx ON registries
    USING gin (to_tsvector('simple', name || ' ' || description));
