import { useState } from "react";
import { Link } from "react-router-dom";
import { useQuery } from "urql";
import { when } from "./format";
import { graphql } from "./gql";
import { Status } from "./Status";

const HistoryQuery = graphql(`
  query CollectionHistory($organization: String!, $registry: String!, $name: String!, $after: String) {
    registry(organization: $organization, name: $registry) {
      collection(name: $name) {
        history(first: 50, after: $after) {
          pageInfo {
            hasNextPage
            endCursor
          }
          nodes {
            action
            before
            after
            createdAt
            actor {
              name
            }
          }
        }
      }
    }
  }
`);

const HeldQuery = graphql(`
  query AliasAsOf(
    $organization: String!
    $registry: String!
    $name: String!
    $alias: String!
    $asOf: DateTime!
  ) {
    registry(organization: $organization, name: $registry) {
      collection(name: $name) {
        version(alias: $alias, asOf: $asOf) {
          version
        }
      }
    }
  }
`);

/** What an event's before or after says, briefly: `production → v7`, or its JSON. */
function said(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object" && value !== null && "alias" in value && "version" in value) {
    const held = value as { alias: string; version: string };
    return `${held.alias} → ${held.version}`;
  }
  return JSON.stringify(value);
}

/** Who did what to a collection, newest first: links, alias moves with before and after, tags. */
export function CollectionHistory(props: { organization: string; registry: string; name: string }) {
  const [after, setAfter] = useState<string | null>(null);
  const [{ data, fetching, error }] = useQuery({
    query: HistoryQuery,
    variables: { ...props, after },
  });
  const history = data?.registry?.collection?.history;
  return (
    <>
      <Status fetching={fetching && !data} error={error} />
      {history && (
        <table className="history">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>What</th>
              <th>Before</th>
              <th>After</th>
            </tr>
          </thead>
          <tbody>
            {history.nodes.map((event, index) => (
              <tr key={`${event.createdAt}-${index}`}>
                <td>{when(event.createdAt)}</td>
                <td>{event.actor?.name ?? "—"}</td>
                <td>{event.action.toLowerCase().replaceAll("_", " ")}</td>
                <td>{said(event.before)}</td>
                <td>{said(event.after)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {history?.pageInfo.hasNextPage && (
        <button type="button" onClick={() => setAfter(history.pageInfo.endCursor ?? null)}>
          Older events
        </button>
      )}
    </>
  );
}

/** Which version held an alias at a moment in the past. */
export function AliasAsOf(props: { organization: string; registry: string; name: string }) {
  const [alias, setAlias] = useState("production");
  const [moment, setMoment] = useState("");
  const asOf = moment ? new Date(moment).toISOString() : null;
  const [{ data, fetching, error }] = useQuery({
    query: HeldQuery,
    variables: { ...props, alias, asOf: asOf ?? "" },
    pause: asOf === null || !alias,
  });
  const held = data?.registry?.collection?.version;
  return (
    <form className="as-of" onSubmit={(e) => e.preventDefault()}>
      Which version held{" "}
      <input aria-label="Alias held" value={alias} onChange={(e) => setAlias(e.target.value)} /> on{" "}
      <input
        aria-label="Moment"
        type="datetime-local"
        step="1"
        value={moment}
        onChange={(e) => setMoment(e.target.value)}
      />
      ?{" "}
      <output aria-label="Version held">
        {asOf === null ? "" : fetching ? "…" : error ? (error.graphQLErrors[0]?.message ?? error.message) : held ? (
          <Link to={held.version}>{held.version}</Link>
        ) : (
          "none"
        )}
      </output>
    </form>
  );
}
