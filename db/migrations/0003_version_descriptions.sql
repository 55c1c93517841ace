-- Each version has a description of its own. A version used to show its content's description,
-- which every version of the content shared: a change through one collection showed in all of
-- them, registries the changer had no role in included. A new version starts with its source's
-- description; a change to one version changes only that one, under that version's permissions.
ALTER TABLE artifact_versions ADD COLUMN description text;

UPDATE artifact_versions AS v SET description = c.description
FROM artifact_contents AS c WHERE c.id = v.content_id;

ALTER TABLE artifact_versions
    ALTER COLUMN description SET NOT NULL,
    ALTER COLUMN description SET DEFAULT '';
