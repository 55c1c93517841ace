import { useCallback, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { useQuery } from "urql";
import { bytes, when } from "../format";
import { graphql } from "../gql";
import { AliasAsOf, CollectionHistory } from "../History";
import { type LiveEvent, useCollectionEvents } from "../live";
import { CardEditor } from "../Actions";
import { organizationUrl, registryUrl, versionUrl } from "../paths";
import { Status } from "../Status";

const CollectionQuery = graphql(`
  query CollectionPage(
    $organization: String!
    $registry: String!
    $name: String!
    $after: String
  ) {
    registry(organization: $organization, name: $registry) {
      id
      protectedAliases
      collection(name: $name) {
        id
        name
        type
        description
        tags
        versions(first: 50, after: $after) {
          totalCount
          pageInfo {
            hasNextPage
            endCursor
          }
          nodes {
            version
            aliases
            tags
            size
            linkedAt
          }
        }
      }
    }
  }
`);

export function CollectionPage() {
  const { organization = "", registry = "", collection = "" } = useParams();
  const [searchParams, setSearchParams] = useSearchParams();
  const after = searchParams.get("after");
  const [{ data, fetching, error }, refresh] = useQuery({
    query: CollectionQuery,
    variables: { organization, registry, name: collection, after },
  });
  const [latestEvent, setLatestEvent] = useState<LiveEvent | null>(null);
  const onEvent = useCallback(
    (event: LiveEvent) => {
      setLatestEvent(event);
      refresh({ requestPolicy: "network-only" });
    },
    [refresh],
  );
  useCollectionEvents(data?.registry?.id, data?.registry?.collection?.id, onEvent);
  const protectedAliases = new Set(data?.registry?.protectedAliases ?? []);
  const found = data?.registry?.collection;
  return (
    <>
      <nav className="crumbs">
        <Link to={organizationUrl(organization)}>{organization}</Link> /{" "}
        <Link to={registryUrl(organization, registry)}>{registry}</Link> / {collection}
      </nav>
      <Status fetching={fetching && !data} error={error} />
      {data && !found && <p className="error">Collection '{collection}' not found.</p>}
      {found && (
        <>
          <h1>
            {found.name} <span className="muted">{found.type}</span>
          </h1>
          <div>{found.tags.map((tag) => <span className="tag" key={tag}>{tag}</span>)}</div>
          <CardEditor id={found.id} description={found.description} />
          {latestEvent && (
            <p className="live" role="status">
              Just now: {latestEvent.actor?.name ?? "someone"}{" "}
              {latestEvent.type.toLowerCase().replaceAll("_", " ")}
              {latestEvent.alias && ` ${latestEvent.alias}`}
              {latestEvent.tag && ` ${latestEvent.tag}`}
              {latestEvent.artifactVersion && ` on ${latestEvent.artifactVersion.version}`}
            </p>
          )}
          <h2>Versions ({found.versions.totalCount})</h2>
          <table className="versions">
            <thead>
              <tr>
                <th>Version</th>
                <th>Aliases</th>
                <th>Tags</th>
                <th>Size</th>
                <th>Linked</th>
              </tr>
            </thead>
            <tbody>
              {found.versions.nodes.map((version) => (
                <tr key={version.version}>
                  <td>
                    <Link to={versionUrl(organization, registry, collection, version.version)}>
                      {version.version}
                    </Link>
                  </td>
                  <td>
                    {version.aliases.map((alias) => (
                      <Alias key={alias} alias={alias} isProtected={protectedAliases.has(alias)} />
                    ))}
                  </td>
                  <td>{version.tags.map((tag) => <span className="tag" key={tag}>{tag}</span>)}</td>
                  <td>{bytes(version.size)}</td>
                  <td>{when(version.linkedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="pager">
            {after && (
              <button type="button" onClick={() => setSearchParams({})}>
                Newest versions
              </button>
            )}
            {found.versions.pageInfo.hasNextPage && found.versions.pageInfo.endCursor && (
              <button
                type="button"
                onClick={() => setSearchParams({ after: found.versions.pageInfo.endCursor! })}
              >
                Older versions
              </button>
            )}
          </div>
          <h2>History</h2>
          <AliasAsOf organization={organization} registry={registry} name={collection} />
          <CollectionHistory organization={organization} registry={registry} name={collection} />
        </>
      )}
    </>
  );
}

export function Alias({ alias, isProtected }: { alias: string; isProtected: boolean }) {
  return (
    <span className={isProtected ? "alias protected" : "alias"} title={isProtected ? "protected" : ""}>
      {isProtected ? "🔒 " : ""}
      {alias}
    </span>
  );
}
