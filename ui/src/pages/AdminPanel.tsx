import { useState } from "react";
import { useMutation, useQuery } from "urql";
import { refusal } from "../Actions";
import { when } from "../format";
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
          enabled
          events
          webhookUrl
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
  mutation AddRegistryMember($id: ID!, $userId: ID!, $role: RegistryRole!) {
    addRegistryMembers(input: { registryId: $id, members: [{ userId: $userId, role: $role }] }) {
      errors {
        message
      }
    }
  }
`);

const ChangeRole = graphql(`
  mutation ChangeRegistryRole($id: ID!, $userId: ID!, $role: RegistryRole!) {
    updateRegistryMemberRole(input: { registryId: $id, userId: $userId, role: $role }) {
      errors {
        message
      }
    }
  }
`);

const RemoveMember = graphql(`
  mutation RemoveRegistryMember($id: ID!, $userId: ID!) {
    removeRegistryMembers(input: { registryId: $id, userIds: [$userId] }) {
      errors {
        message
      }
    }
  }
`);

const Redeliver = graphql(`
  mutation Redeliver($id: ID!) {
    redeliver(input: { deliveryId: $id }) {
      delivery {
        id
        status
      }
      errors {
        message
      }
    }
  }
`);

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
  const [, redeliver] = useMutation(Redeliver);
  const found = data?.registry;
  if (!found) return <Status fetching={fetching} error={error} />;
  const after = (refused: string | null) => {
    setMessage(refused);
    refresh({ requestPolicy: "network-only" });
  };
  const members = found.members?.nodes ?? [];
  const memberIds = new Set(members.map((m) => m.user?.id));
  const candidates = (data?.organization?.members.nodes ?? []).filter(
    (m) => !memberIds.has(m.user.id),
  );
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
            <tr key={member.user?.id ?? member.team?.id}>
              <td>{member.user?.name ?? `team ${member.team?.name}`}</td>
              <td>
                {member.user ? (
                  <select
                    aria-label={`Role of ${member.user.name}`}
                    value={member.role}
                    onChange={async (e) => {
                      const outcome = await changeRole({
                        id: found.id,
                        userId: member.user!.id,
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
                ) : (
                  member.role.toLowerCase()
                )}
              </td>
              <td>
                {member.user && (
                  <button
                    type="button"
                    aria-label={`Remove ${member.user.name}`}
                    onClick={async () => {
                      const outcome = await removeMember({ id: found.id, userId: member.user!.id });
                      after(refusal(outcome, outcome.data?.removeRegistryMembers.errors));
                    }}
                  >
                    Remove
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="add-member"
        onSubmit={async (e) => {
          e.preventDefault();
          const outcome = await addMember({ id: found.id, userId: newMember, role: newRole });
          after(refusal(outcome, outcome.data?.addRegistryMembers.errors));
        }}
      >
        <select aria-label="New member" value={newMember} onChange={(e) => setNewMember(e.target.value)}>
          <option value="">a member of the organization…</option>
          {candidates.map((m) => (
            <option key={m.user.id} value={m.user.id}>
              {m.user.name}
            </option>
          ))}
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
      {(found.automations?.nodes ?? []).map((automation) => (
        <div key={automation.id} className="automation">
          <strong>{automation.name}</strong> {automation.enabled ? "" : "(disabled)"}{" "}
          <span className="muted">
            {automation.events.join(", ").toLowerCase()} → {automation.webhookUrl}
          </span>
          <table className="deliveries">
            <tbody>
              {automation.deliveries.nodes.map((delivery) => {
                const last = delivery.attempts[delivery.attempts.length - 1];
                return (
                  <tr key={delivery.id}>
                    <td>{when(delivery.createdAt)}</td>
                    <td>{delivery.eventType.toLowerCase()}</td>
                    <td className={`status ${delivery.status.toLowerCase()}`}>
                      {delivery.status.toLowerCase()}
                    </td>
                    <td>{last ? (last.statusCode ?? last.error) : "—"}</td>
                    <td>
                      <button
                        type="button"
                        onClick={async () => {
                          const outcome = await redeliver({ id: delivery.id });
                          after(refusal(outcome, outcome.data?.redeliver.errors));
                        }}
                      >
                        Redeliver
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ))}
      {(found.automations?.nodes ?? []).length === 0 && <p className="muted">None.</p>}
    </section>
  );
}
