import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { useQuery } from "urql";
import { bytes } from "../format";
import { graphql } from "../gql";
import type { ArtifactVersionFilter } from "../gql/graphql";
import { collectionUrl, pageOf } from "../paths";
import { Status } from "../Status";

const SearchQuery = graphql(`
  query Search(
    $query: String
    $versionFilter: ArtifactVersionFilter
    $collectionFilter: CollectionFilter
    $after: String
  ) {
    collections(first: 10, query: $query, filter: $collectionFilter) {
      totalCount
      nodes {
        name
        type
        tags
        registry {
          name
          organization {
            name
          }
        }
      }
    }
    artifactVersions(first: 25, after: $after, query: $query, filter: $versionFilter) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      nodes {
        id
        path
        version
        type
        aliases
        tags
        size
        collection {
          name
        }
      }
    }
  }
`);

const OPERATORS = ["eq", "gt", "gte", "lt", "lte"] as const;
type Operator = (typeof OPERATORS)[number];

/** A typed value: a number when it reads as one, else the text. */
function jsonValue(text: string): unknown {
  const number = Number(text);
  return text.trim() !== "" && Number.isFinite(number) ? number : text;
}

/** The filter the form's fields say, over the versions the caller may see. */
function versionFilter(params: URLSearchParams): ArtifactVersionFilter | null {
  const conditions: ArtifactVersionFilter[] = [];
  const type = params.get("type");
  const tag = params.get("tag");
  const alias = params.get("alias");
  const path = params.get("metadata");
  const value = params.get("value");
  const op = (params.get("op") ?? "eq") as Operator;
  if (type) conditions.push({ type: { eq: type } });
  if (tag) conditions.push({ tags: { any: [tag] } });
  if (alias) conditions.push({ aliases: { any: [alias] } });
  if (path && value !== null && value !== "") {
    conditions.push({ metadata: [{ path, [op]: jsonValue(value) }] });
  }
  return conditions.length ? { and: conditions } : null;
}

/** One search box and filters over every registry version and collection the caller may see;
 * results follow the query as it is typed, and page by cursor. */
export function SearchPage() {
  const [params, setParams] = useSearchParams();
  const query = params.get("q") ?? "";
  const [pages, setPages] = useState<(string | null)[]>([null]);
  // A new search starts again from its first page.
  useEffect(() => setPages([null]), [params]);
  const setParam = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next, { replace: true });
  };
  const type = params.get("type") ?? "";
  return (
    <>
      <h1>Search</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <input
          aria-label="Search"
          placeholder="words in names, descriptions, metadata…"
          value={query}
          onChange={(e) => setParam("q", e.target.value)}
        />
        <input aria-label="Type" placeholder="type" value={type} onChange={(e) => setParam("type", e.target.value)} />
        <input
          aria-label="Tag"
          placeholder="tag"
          value={params.get("tag") ?? ""}
          onChange={(e) => setParam("tag", e.target.value)}
        />
        <input
          aria-label="Alias"
          placeholder="alias"
          value={params.get("alias") ?? ""}
          onChange={(e) => setParam("alias", e.target.value)}
        />
        <input
          aria-label="Metadata path"
          placeholder="metadata path, e.g. auc"
          value={params.get("metadata") ?? ""}
          onChange={(e) => setParam("metadata", e.target.value)}
        />
        <select
          aria-label="Comparison"
          value={params.get("op") ?? "eq"}
          onChange={(e) => setParam("op", e.target.value)}
        >
          {OPERATORS.map((op) => (
            <option key={op} value={op}>
              {op}
            </option>
          ))}
        </select>
        <input
          aria-label="Metadata value"
          placeholder="value"
          value={params.get("value") ?? ""}
          onChange={(e) => setParam("value", e.target.value)}
        />
      </form>
      {pages.map((after, index) => (
        <ResultsPage
          key={after ?? "first"}
          query={query}
          versions={versionFilter(params)}
          type={type}
          after={after}
          first={index === 0}
          onMore={(cursor) => setPages((shown) => [...shown, cursor])}
          last={index === pages.length - 1}
        />
      ))}
    </>
  );
}

function ResultsPage(props: {
  query: string;
  versions: ArtifactVersionFilter | null;
  type: string;
  after: string | null;
  first: boolean;
  last: boolean;
  onMore: (cursor: string) => void;
}) {
  const [{ data, fetching, error }] = useQuery({
    query: SearchQuery,
    variables: {
      query: props.query.trim() || null,
      versionFilter: props.versions,
      collectionFilter: props.type ? { type: { eq: props.type } } : null,
      after: props.after,
    },
  });
  const versions = data?.artifactVersions;
  return (
    <>
      <Status fetching={fetching && !data} error={error} />
      {props.first && data && (
        <>
          <h2>Collections ({data.collections.totalCount})</h2>
          <ul className="results collections-found">
            {data.collections.nodes.map((c) => (
              <li key={`${c.registry.name}/${c.name}`}>
                <Link to={collectionUrl(c.registry.organization.name, c.registry.name, c.name)}>
                  {c.registry.name}/{c.name}
                </Link>{" "}
                <span className="muted">{c.type}</span>
              </li>
            ))}
          </ul>
          <h2>Versions ({versions?.totalCount})</h2>
        </>
      )}
      {versions && (
        <ul className="results versions-found">
          {versions.nodes.map((v) => {
            const page = pageOf(v.path);
            return (
              <li key={v.id}>
                {page ? <Link to={page}>{v.path}</Link> : v.path}{" "}
                {v.aliases.map((a) => (
                  <span className="alias" key={a}>
                    {a}
                  </span>
                ))}
                <span className="muted">
                  {v.type}, {bytes(v.size)}
                </span>
              </li>
            );
          })}
        </ul>
      )}
      {props.last && versions?.pageInfo.hasNextPage && versions.pageInfo.endCursor && (
        <button type="button" onClick={() => props.onMore(versions.pageInfo.endCursor!)}>
          More versions
        </button>
      )}
    </>
  );
}
