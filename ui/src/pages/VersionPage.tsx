import { lazy, Suspense } from "react";
import { Link, useParams } from "react-router-dom";
import { useQuery } from "urql";
import { bytes, when } from "../format";
import { graphql } from "../gql";
import { Markdown } from "../Markdown";
import { artifactPath, collectionUrl, organizationUrl, registryUrl } from "../paths";
import { Status } from "../Status";
import { LinkForm } from "../Actions";
import { AliasEditor, TagEditor } from "../Labels";

// The graph library is large: loaded when a version page first shows a lineage.
const Lineage = lazy(() => import("../Lineage").then((module) => ({ default: module.Lineage })));

const VersionQuery = graphql(`
  query VersionPage($path: String!, $organization: String!, $registry: String!) {
    registry(organization: $organization, name: $registry) {
      protectedAliases
    }
    artifactVersion(path: $path) {
      id
      path
      version
      aliases
      tags
      description
      digest
      size
      type
      metadata
      createdAt
      linkedAt
      linkedBy {
        name
      }
      createdBy {
        name
        project {
          name
        }
      }
      files(first: 100) {
        totalCount
        nodes {
          path
          size
          reference
          downloadUrl
        }
      }
    }
  }
`);

export function VersionPage() {
  const { organization = "", registry = "", collection = "", version = "" } = useParams();
  const [{ data, fetching, error }] = useQuery({
    query: VersionQuery,
    variables: {
      path: artifactPath(organization, registry, collection, version),
      organization,
      registry,
    },
  });
  const found = data?.artifactVersion;
  const protectedAliases = new Set(data?.registry?.protectedAliases ?? []);
  return (
    <>
      <nav className="crumbs">
        <Link to={organizationUrl(organization)}>{organization}</Link> /{" "}
        <Link to={registryUrl(organization, registry)}>{registry}</Link> /{" "}
        <Link to={collectionUrl(organization, registry, collection)}>{collection}</Link> /{" "}
        {version}
      </nav>
      <Status fetching={fetching && !data} error={error} />
      {found && (
        <>
          <h1>
            {collection}:{found.version} <span className="muted">{found.type}</span>
          </h1>
          <h2>Aliases</h2>
          <AliasEditor
            path={found.path}
            aliases={found.aliases}
            protectedAliases={protectedAliases}
          />
          <h2>Tags</h2>
          <TagEditor id={found.id} tags={found.tags} />
          <Markdown text={found.description} />
          <dl className="facts">
            <dt>Digest</dt>
            <dd className="digest">{found.digest}</dd>
            <dt>Size</dt>
            <dd>{bytes(found.size)}</dd>
            <dt>Created</dt>
            <dd>
              {when(found.createdAt)}
              {found.createdBy && ` by run ${found.createdBy.project.name}/${found.createdBy.name}`}
            </dd>
            <dt>Linked</dt>
            <dd>
              {when(found.linkedAt)}
              {found.linkedBy && ` by ${found.linkedBy.name}`}
            </dd>
          </dl>
          <h2>Link into a registry</h2>
          <LinkForm versionId={found.id} />
          <h2>Lineage</h2>
          <Suspense fallback={<p className="muted">Loading…</p>}>
            <Lineage path={found.path} />
          </Suspense>
          <h2>Metadata</h2>
          <Metadata value={found.metadata} />
          <h2>Files ({found.files.totalCount})</h2>
          <table className="files">
            <thead>
              <tr>
                <th>Path</th>
                <th>Size</th>
              </tr>
            </thead>
            <tbody>
              {found.files.nodes.map((file) => (
                <tr key={file.path}>
                  <td>
                    {file.downloadUrl ? (
                      <a href={file.downloadUrl} download={file.path.split("/").pop()}>
                        {file.path}
                      </a>
                    ) : (
                      <span title={file.reference ?? ""}>{file.path}</span>
                    )}
                    {file.reference && <div className="muted">{file.reference}</div>}
                  </td>
                  <td>{bytes(file.size)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </>
  );
}

/** Metadata as a table of its keys, nested values shown as JSON. */
function Metadata({ value }: { value: unknown }) {
  const entries = value && typeof value === "object" ? Object.entries(value) : [];
  if (entries.length === 0) {
    return <p className="muted">None.</p>;
  }
  return (
    <table className="metadata">
      <tbody>
        {entries.map(([key, item]) => (
          <tr key={key}>
            <th>{key}</th>
            <td>{typeof item === "object" ? JSON.stringify(item) : String(item)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
