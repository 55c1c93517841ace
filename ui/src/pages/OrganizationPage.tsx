import { useState } from "react";
import { useParams } from "react-router-dom";
import { useMutation, useQuery } from "urql";
import { refusal } from "../Actions";
import { graphql } from "../gql";
import type { OrganizationRole } from "../gql/graphql";
import { Status } from "../Status";

const OrganizationQuery = graphql(`
  query OrganizationPeople($name: String!) {
    organization(name: $name) {
      id
      name
      displayName
      viewerRole
      members(first: 100) {
        totalCount
        nodes {
          role
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
          members(first: 100) {
            nodes {
              id
              name
            }
          }
        }
      }
    }
  }
`);

const ChangeRole = graphql(`
  mutation ChangeOrganizationRole($organization: String!, $userId: ID!, $role: OrganizationRole!) {
    updateOrganizationMemberRole(
      input: { organization: $organization, userId: $userId, role: $role }
    ) {
      errors {
        message
      }
    }
  }
`);

const CreateTeam = graphql(`
  mutation CreateTeam($organization: String!, $name: String!) {
    createTeam(input: { organization: $organization, name: $name }) {
      team {
        id
      }
      errors {
        message
      }
    }
  }
`);

const AddTeamMembers = graphql(`
  mutation AddTeamMembers($teamId: ID!, $userIds: [ID!]!) {
    addTeamMembers(input: { teamId: $teamId, userIds: $userIds }) {
      errors {
        message
      }
    }
  }
`);

const RemoveTeamMembers = graphql(`
  mutation RemoveTeamMembers($teamId: ID!, $userIds: [ID!]!) {
    removeTeamMembers(input: { teamId: $teamId, userIds: $userIds }) {
      errors {
        message
      }
    }
  }
`);

const DeleteTeam = graphql(`
  mutation DeleteTeam($teamId: ID!) {
    deleteTeam(input: { teamId: $teamId }) {
      errors {
        message
      }
    }
  }
`);

const ROLES: OrganizationRole[] = ["ADMIN", "MEMBER", "VIEWER"];

/** An organization's people: its members with their roles, and its teams (which registries
 * give roles to). Organization admins change them; anyone else sees the server's refusal. */
export function OrganizationPage() {
  const { organization = "" } = useParams();
  const [{ data, fetching, error }, refresh] = useQuery({
    query: OrganizationQuery,
    variables: { name: organization },
  });
  const [message, setMessage] = useState<string | null>(null);
  const [teamName, setTeamName] = useState("");
  const [joining, setJoining] = useState<Record<string, string>>({});
  const [, changeRole] = useMutation(ChangeRole);
  const [, createTeam] = useMutation(CreateTeam);
  const [, addTeamMembers] = useMutation(AddTeamMembers);
  const [, removeTeamMembers] = useMutation(RemoveTeamMembers);
  const [, deleteTeam] = useMutation(DeleteTeam);
  const found = data?.organization;
  if (!found) {
    return data ? (
      <p className="error">Organization '{organization}' not found.</p>
    ) : (
      <Status fetching={fetching} error={error} />
    );
  }
  const after = (refused: string | null) => {
    setMessage(refused);
    refresh({ requestPolicy: "network-only" });
  };
  const members = found.members.nodes;
  return (
    <section className="organization">
      <h1>{found.displayName}</h1>
      <p className="muted">
        {found.members.totalCount} members; your role: {found.viewerRole?.toLowerCase() ?? "none"}
      </p>
      {message && <p className="error">{message}</p>}
      <h2>Members</h2>
      <table className="members">
        <tbody>
          {members.map((member) => (
            <tr key={member.user.id}>
              <td>{member.user.name}</td>
              <td>
                <select
                  aria-label={`Organization role of ${member.user.name}`}
                  value={member.role}
                  onChange={async (e) => {
                    const outcome = await changeRole({
                      organization,
                      userId: member.user.id,
                      role: e.target.value as OrganizationRole,
                    });
                    after(refusal(outcome, outcome.data?.updateOrganizationMemberRole.errors));
                  }}
                >
                  {ROLES.map((role) => (
                    <option key={role} value={role}>
                      {role.toLowerCase()}
                    </option>
                  ))}
                </select>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Teams</h2>
      {found.teams.nodes.map((team) => {
        const seated = new Set(team.members.nodes.map((user) => user.id));
        const choice = joining[team.id] ?? "";
        return (
          <div key={team.id} className="team" aria-label={`Team ${team.name}`}>
            <h3>{team.name}</h3>
            <ul className="labels">
              {team.members.nodes.map((user) => (
                <li key={user.id} className="label">
                  {user.name}{" "}
                  <button
                    type="button"
                    aria-label={`Remove ${user.name} from ${team.name}`}
                    onClick={async () => {
                      const outcome = await removeTeamMembers({ teamId: team.id, userIds: [user.id] });
                      after(refusal(outcome, outcome.data?.removeTeamMembers.errors));
                    }}
                  >
                    ×
                  </button>
                </li>
              ))}
              {team.members.nodes.length === 0 && <li className="muted">No members.</li>}
            </ul>
            <form
              onSubmit={async (e) => {
                e.preventDefault();
                const outcome = await addTeamMembers({ teamId: team.id, userIds: [choice] });
                setJoining({ ...joining, [team.id]: "" });
                after(refusal(outcome, outcome.data?.addTeamMembers.errors));
              }}
            >
              <select
                aria-label={`New member of ${team.name}`}
                value={choice}
                onChange={(e) => setJoining({ ...joining, [team.id]: e.target.value })}
              >
                <option value="">a member of the organization…</option>
                {members
                  .filter((member) => !seated.has(member.user.id))
                  .map((member) => (
                    <option key={member.user.id} value={member.user.id}>
                      {member.user.name}
                    </option>
                  ))}
              </select>
              <button type="submit" disabled={!choice}>
                Add to {team.name}
              </button>
              <button
                type="button"
                onClick={async () => {
                  const outcome = await deleteTeam({ teamId: team.id });
                  after(refusal(outcome, outcome.data?.deleteTeam.errors));
                }}
              >
                Delete team {team.name}
              </button>
            </form>
          </div>
        );
      })}
      <form
        className="new-team"
        onSubmit={async (e) => {
          e.preventDefault();
          const outcome = await createTeam({ organization, name: teamName });
          const refused = refusal(outcome, outcome.data?.createTeam.errors);
          if (refused === null) setTeamName("");
          after(refused);
        }}
      >
        <input
          aria-label="New team's name"
          value={teamName}
          onChange={(e) => setTeamName(e.target.value)}
          placeholder="team name"
        />
        <button type="submit" disabled={!teamName}>
          Create team
        </button>
      </form>
    </section>
  );
}
