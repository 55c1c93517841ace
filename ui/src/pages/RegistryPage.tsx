import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { useQuery } from "urql";
import { graphql } from "../gql";
import { RegistryHistory } from "../History";
import { AdminPanel } from "./AdminPanel";
import { collectionUrl, organizationUrl } from "../paths";
import { Status } from "../Status";

const RegistryQuery = graphql(`
  query RegistryPage($organization: String!, $name: String!, $after: String) {
    registry(organization: $organization, name: $name) {
      name
      fullName
      description
      visibility
      acceptsAllTypes
      acceptedTypes
      protectedAliases
      collections(first: 50, after: $after) {
        totalCount
        pageInfo {
          hasNextPage
          endCursor
        }
        nodes {
          name
          type
          description
          tags
          versions(first: 1) {
            totalCount
          }
        }
      }
    }
  }
`);

export function RegistryPage() {
  const { organization = "", registry = "" } = useParams();
  const after = new URLSearchParams(window.location.search).get("after");
  const [{ data, fetching, error }] = useQuery({
    query: RegistryQuery,
    variables: { organization, name: registry, after },
  });
  const found = data?.registry;
  // Loaded when opened: members and automations are an admin's business.
  const [adminOpen, setAdminOpen] = useState(false);
  return (
    <>
      <nav className="crumbs">
        <Link to={organizationUrl(organization)}>{organization}</Link> / {registry}
      </nav>
      <Status fetching={fetching && !data} error={error} />
      {data && !found && <p className="error">Registry '{registry}' not found.</p>}
      {found && (
        <>
          <h1>{found.name}</h1>
          <p>{found.description}</p>
          <dl className="facts">
            <dt>Visibility</dt>
            <dd>{found.visibility.toLowerCase()}</dd>
            <dt>Accepts</dt>
            <dd>{found.acceptsAllTypes ? "any type" : found.acceptedTypes.join(", ")}</dd>
            <dt>Protected aliases</dt>
            <dd>{found.protectedAliases.join(", ") || "none"}</dd>
          </dl>
          <h2>Collections ({found.collections.totalCount})</h2>
          <table className="collections">
            <thead>
              <tr>
                <th>Collection</th>
                <th>Type</th>
                <th>Tags</th>
                <th>Versions</th>
              </tr>
            </thead>
            <tbody>
              {found.collections.nodes.map((collection) => (
                <tr key={collection.name}>
                  <td>
                    <Link to={collectionUrl(organization, registry, collection.name)}>
                      {collection.name}
                    </Link>
                  </td>
                  <td>{collection.type}</td>
                  <td>{collection.tags.map((tag) => <span className="tag" key={tag}>{tag}</span>)}</td>
                  <td>{collection.versions.totalCount}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>History</h2>
          <RegistryHistory organization={organization} registry={registry} />
          <details className="admin-panel" onToggle={(e) => setAdminOpen(e.currentTarget.open)}>
            <summary>Administration</summary>
            {adminOpen && <AdminPanel organization={organization} registry={registry} />}
          </details>
          {found.collections.pageInfo.hasNextPage && (
            <a href={`?after=${encodeURIComponent(found.collections.pageInfo.endCursor ?? "")}`}>
              Next page
            </a>
          )}
        </>
      )}
    </>
  );
}
