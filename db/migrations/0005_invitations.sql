-- Joining an organization takes the person's consent: an admin invites a user name, and the
-- user with that name joins by accepting. An invitation looks the same whether or not the name
-- exists, so that inviting tells an outsider nothing about who has an account.
CREATE TABLE organization_invitations (
    id              bigserial PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_name       text NOT NULL,
    role            org_role NOT NULL,
    invited_by      bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at      timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE UNIQUE INDEX organization_invitations_org_user_key
    ON organization_invitations (organization_id, lower(user_name));
CREATE INDEX organization_invitations_user_idx ON organization_invitations (lower(user_name));
