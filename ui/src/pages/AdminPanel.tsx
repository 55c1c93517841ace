import { useState } from "react";
import { useMutation, useQuery } from "urql";
import { refusal } from "../Actions";
import { Automations } from "../Automations";
import { graphql } from "../gql";
import type { RegistryRole } from "../gql/graphql";
import { LabelEditor } from "../Labels";
import { Status } from "../Status";

const AdminQuery = graphql(`
  query RegistryAdmin($organization: String!, $name: String!) {
    organization(name: $organization) {
      members(first: 100) {
        nodes {
          user {
            id
            name
          }
        }
      }
      teams(first: 100) {
        nodes {
          id
          name
        }
      }
    }
    registry(organization: $organization, name: $name) {
      id
      protectedAliases
      members(first: 100) {
        nodes {
          role
          user {
            id
            name
          }
          team {
            id
            name
          }
        }
      }
      automations(first: 20) {
        nodes {
          id
          name
          description
          enabled
          events
          filterRegex
          webhookUrl
          headerNames
          collection {
            name
          }
          deliveries(first: 10) {
            nodes {
              id
              eventType
              status
              createdAt
              attempts {
                statusCode
                error
              }
            }
          }
        }
      }
    }
  }
`);

const SetProtected = graphql(`
  mutation SetProtectedAliases($id: ID!, $aliases: [String!]!) {
    updateRegistry(input: { registryId: $id, protectedAliases: $aliases }) {
      registry {
        id
        protectedAliases
      }
      errors {
        message
      }
    }
  }
`);

const AddMember = graphql(`
  mutation AddRegistryMember($id: ID!, $member: RegistryMemberInput!) {
    addRegistryMembers(input: { registryId: $id, members: [$member] }) {
      errors {
        message
      }
    }
  }
`);

const ChangeRole = graphql(`
  mutation ChangeRegistryRole($id: ID!, $userId: ID, $teamId: ID, $role: RegistryRole!) {
    updateRegistryMemberRole(
      input: { registryId: $id, userId: $userId, teamId: $teamId, role: $role }
    ) {
      errors {
        message
      }
    }
  }
`);

const RemoveMember = graphql(`
  mutation RemoveRegistryMember($id: ID!, $userIds: [ID!]!, $teamIds: [ID!]!) {
    removeRegistryMembers(input: { registryId: $id, userIds: $userIds, teamIds: $teamIds }) {
      errors {
        message
      }
    }
  }
`);

/** A registry member is a user or a team. */
type Who = { userId?: string; teamId?: string };

const ROLES: RegistryRole[] = ["ADMIN", "MEMBER", "VIEWER", "RESTRICTED_VIEWER"];

/** What a registry's admins manage: protected aliases, members and their roles, automations
 * and their deliveries. Anyone may open it; the server refuses what the caller may not do, and
 * its words are shown. */
export function AdminPanel({ organization, registry }: { organization: string; registry: string }) {
  const [{ data, fetching, error }, refresh] = useQuery({
    query: AdminQuery,
    variables: { organization, name: registry },
  });
  const [message, setMessage] = useState<string | null>(null);
  const [newMember, setNewMember] = useState("");
  const [newRole, setNewRole] = useState<RegistryRole>("MEMBER");
  const [, setProtected] = useMutation(SetProtected);
  const [, addMember] = useMutation(AddMember);
  const [, changeRole] = useMutation(ChangeRole);
  const [, removeMember] = useMutation(RemoveMember);
  const found = data?.registry;
  if (!found) return <Status fetching={fetching} error={error} />;
  const after = (refused: string | null) => {
    setMessage(refused);
    refresh({ requestPolicy: "network-only" });
  };
  const members = (found.members?.nodes ?? []).map((member) => {
    const who: Who = member.user ? { userId: member.user.id } : { teamId: member.team!.id };
    return { role: member.role, name: member.user ? member.user.name : `team ${member.team?.name}`, who };
  });
  const taken = new Set(members.map((m) => m.who.userId ?? m.who.teamId));
  const users = (data?.organization?.members.nodes ?? []).filter((m) => !taken.has(m.user.id));
  const teams = (data?.organization?.teams.nodes ?? []).filter((t) => !taken.has(t.id));
  // A candidate's select value says whether it is a user or a team.
  const chosen: Who = newMember.startsWith("team:")
    ? { teamId: newMember.slice(5) }
    : { userId: newMember.slice(5) };
  return (
    <section className="admin">
      {message && <p className="error">{message}</p>}
      <h3>Protected aliases</h3>
      <LabelEditor
        kind="alias"
        labels={found.protectedAliases}
        add={async (alias) => {
          const outcome = await setProtected({
            id: found.id,
            aliases: [...found.protectedAliases, alias],
          });
          return refusal(outcome, outcome.data?.updateRegistry.errors);
        }}
        remove={async (alias) => {
          const outcome = await setProtected({
            id: found.id,
            aliases: found.protectedAliases.filter((a) => a !== alias),
          });
          return refusal(outcome, outcome.data?.updateRegistry.errors);
        }}
      />
      <h3>Members</h3>
      <table className="members">
        <tbody>
          {members.map((member) => (
            <tr key={member.who.userId ?? member.who.teamId}>
              <td>{member.name}</td>
              <td>
                <select
                  aria-label={`Role of ${member.name}`}
                  value={member.role}
                  onChange={async (e) => {
                    const outcome = await changeRole({
                      id: found.id,
                      ...member.who,
                      role: e.target.value as RegistryRole,
                    });
                    after(refusal(outcome, outcome.data?.updateRegistryMemberRole.errors));
                  }}
                >
                  {ROLES.map((role) => (
                    <option key={role} value={role}>
                      {role.toLowerCase()}
                    </option>
                  ))}
                </select>
              </td>
              <td>
                <button
                  type="button"
                  aria-label={`Remove ${member.name}`}
                  onClick={async () => {
                    const outcome = await removeMember({
                      id: found.id,
                      userIds: member.who.userId ? [member.who.userId] : [],
                      teamIds: member.who.teamId ? [member.who.teamId] : [],
                    });
                    after(refusal(outcome, outcome.data?.removeRegistryMembers.errors));
                  }}
                >
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="add-member"
        onSubmit={async (e) => {
          e.preventDefault();
          const outcome = await addMember({ id: found.id, member: { ...chosen, role: newRole } });
          after(refusal(outcome, outcome.data?.addRegistryMembers.errors));
        }}
      >
        <select aria-label="New member" value={newMember} onChange={(e) => setNewMember(e.target.value)}>
          <option value="">a user or team of the organization…</option>
          <optgroup label="Users">
            {users.map((m) => (
              <option key={m.user.id} value={`user:${m.user.id}`}>
                {m.user.name}
              </option>
            ))}
          </optgroup>
          <optgroup label="Teams">
            {teams.map((t) => (
              <option key={t.id} value={`team:${t.id}`}>
                team {t.name}
              </option>
            ))}
          </optgroup>
        </select>
        <select
          aria-label="New member's role"
          value={newRole}
          onChange={(e) => setNewRole(e.target.value as RegistryRole)}
        >
          {ROLES.map((role) => (
            <option key={role} value={role}>
              {role.toLowerCase()}
            </option>
          ))}
        </select>
        <button type="submit" disabled={!newMember}>
          Add member
        </button>
      </form>
      <h3>Automations</h3>
      <Automations
        registryId={found.id}
        automations={found.automations?.nodes ?? []}
        refresh={() => refresh({ requestPolicy: "network-only" })}
      />
    </section>
  );
}
