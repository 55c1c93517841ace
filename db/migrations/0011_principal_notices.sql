-- Each server process keeps the keys it has verified, with their user and the user's roles in
-- each organization, so that a request does not pay a statement to authenticate. Whatever
-- changes one of those (a key revoked or deleted, a user changed or deleted, a membership made,
-- changed or ended, cascades included) tells every process, whichever process or tool made the
-- change, by a notice naming the user; a process forgets that user's keys when it hears it.
CREATE FUNCTION notify_principal_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed record;
    user_id bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := OLD;
    ELSE
        changed := NEW;
    END IF;
    IF TG_TABLE_NAME = 'users' THEN
        user_id := changed.id;
    ELSE
        user_id := changed.user_id;
    END IF;
    PERFORM pg_notify('cairn_principals', user_id::text);
    RETURN NULL;
END
$$;

-- A key's `last_used_at` changes once a minute while it is used; that changes nothing cached.
CREATE TRIGGER api_keys_principal_changed
    AFTER UPDATE OF revoked_at, user_id, key_hash OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION notify_principal_changed();

CREATE TRIGGER users_principal_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_principal_changed();

CREATE TRIGGER organization_members_principal_changed
    AFTER INSERT OR UPDATE OR DELETE ON organization_members
    FOR EACH ROW EXECUTE FUNCTION notify_principal_changed();
