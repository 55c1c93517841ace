-- Aliases, protected aliases and tags are case-insensitive: they are kept in lower case, so that
-- `PRODUCTION` is `production` for every rule (reserved names, protected aliases, one holder per
-- alias in a collection). Where one collection held two spellings of an alias, the one assigned
-- last keeps it and the others' periods end now.
WITH dropped AS (
    DELETE FROM aliases AS a
    USING aliases AS b
    WHERE a.collection_id = b.collection_id
      AND lower(a.alias) = lower(b.alias)
      AND (a.assigned_at, a.alias) < (b.assigned_at, b.alias)
    RETURNING a.collection_id, a.alias, a.version_id
)
UPDATE alias_history AS h SET removed_at = greatest(clock_timestamp(), h.assigned_at)
FROM dropped AS d
WHERE h.collection_id = d.collection_id AND h.alias = d.alias AND h.version_id = d.version_id
  AND h.removed_at IS NULL;

UPDATE aliases SET alias = lower(alias) WHERE alias <> lower(alias);
UPDATE alias_history SET alias = lower(alias) WHERE alias <> lower(alias);

DELETE FROM registry_protected_aliases AS a
USING registry_protected_aliases AS b
WHERE a.registry_id = b.registry_id AND lower(a.alias) = lower(b.alias) AND a.alias < b.alias;
UPDATE registry_protected_aliases SET alias = lower(alias) WHERE alias <> lower(alias);

DELETE FROM collection_tags AS a
USING collection_tags AS b
WHERE a.collection_id = b.collection_id AND lower(a.tag) = lower(b.tag) AND a.tag < b.tag;
UPDATE collection_tags SET tag = lower(tag) WHERE tag <> lower(tag);

DELETE FROM version_tags AS a
USING version_tags AS b
WHERE a.version_id = b.version_id AND lower(a.tag) = lower(b.tag) AND a.tag < b.tag;
UPDATE version_tags SET tag = lower(tag) WHERE tag <> lower(tag);

ALTER TABLE aliases ADD CONSTRAINT aliases_lower_case CHECK (alias = lower(alias));
ALTER TABLE registry_protected_aliases
    ADD CONSTRAINT registry_protected_aliases_lower_case CHECK (alias = lower(alias));
ALTER TABLE collection_tags ADD CONSTRAINT collection_tags_lower_case CHECK (tag = lower(tag));
ALTER TABLE version_tags ADD CONSTRAINT version_tags_lower_case CHECK (tag = lower(tag));
