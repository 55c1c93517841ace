import { useState } from "react";
import { Link } from "react-router-dom";
import { useQuery } from "urql";
import { when } from "./format";
import { type FragmentType, graphql, useFragment } from "./gql";
import { Status } from "./Status";

const EventFields = graphql(`
  fragment EventFields on AuditEvent {
    action
    targetType
    before
    after
    createdAt
    actor {
      name
    }
  }
`);

const CollectionHistoryQuery = graphql(`
  query CollectionHistory($organization: String!, $registry: String!, $name: String!, $after: String) {
    registry(organization: $organization, name: $registry) {
      collection(name: $name) {
        history(first: 50, after: $after) {
          pageInfo {
            hasNextPage
            endCursor
          }
          nodes {
            ...EventFields
          }
        }
      }
    }
  }
`);

const RegistryHistoryQuery = graphql(`
  query RegistryHistory($organization: String!, $registry: String!, $after: String) {
    registry(organization: $organization, name: $registry) {
      history(first: 50, after: $after) {
        pageInfo {
          hasNextPage
          endCursor
        }
        nodes {
          ...EventFields
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

type Page = {
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
  nodes: readonly FragmentType<typeof EventFields>[];
};

/** Who did what, newest first: links, alias moves with before and after, tags. */
function Timeline({ page, onOlder }: { page: Page; onOlder: (cursor: string) => void }) {
  return (
    <>
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
          {page.nodes.map((masked, index) => {
            const event = useFragment(EventFields, masked);
            return (
              <tr key={`${event.createdAt}-${index}`}>
                <td>{when(event.createdAt)}</td>
                <td>{event.actor?.name ?? "—"}</td>
                <td>{event.action.toLowerCase().replaceAll("_", " ")}</td>
                <td>{said(event.before)}</td>
                <td>{said(event.after)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {page.pageInfo.hasNextPage && page.pageInfo.endCursor && (
        <button type="button" onClick={() => onOlder(page.pageInfo.endCursor!)}>
          Older events
        </button>
      )}
    </>
  );
}

/** A collection's history. */
export function CollectionHistory(props: { organization: string; registry: string; name: string }) {
  const [after, setAfter] = useState<string | null>(null);
  const [{ data, fetching, error }] = useQuery({
    query: CollectionHistoryQuery,
    variables: { ...props, after },
  });
  const history = data?.registry?.collection?.history;
  return (
    <>
      <Status fetching={fetching && !data} error={error} />
      {history && <Timeline page={history} onOlder={setAfter} />}
    </>
  );
}

/** A registry's history: its own changes and its collections'. */
export function RegistryHistory(props: { organization: string; registry: string }) {
  const [after, setAfter] = useState<string | null>(null);
  const [{ data, fetching, error }] = useQuery({
    query: RegistryHistoryQuery,
    variables: { ...props, after },
  });
  const history = data?.registry?.history;
  return (
    <>
      <Status fetching={fetching && !data} error={error} />
      {history && <Timeline page={history} onOlder={setAfter} />}
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
