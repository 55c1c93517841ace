import type { ReactNode } from "react";
import { Link } from "react-router-dom";
import { useQuery } from "urql";
import { graphql } from "./gql";

const ViewerQuery = graphql(`
  query Viewer {
    viewer {
      name
    }
  }
`);

export function Layout({ children, onSignOut }: { children: ReactNode; onSignOut: () => void }) {
  const [{ data }] = useQuery({ query: ViewerQuery });
  return (
    <div className="layout">
      <header>
        <Link to="/" className="brand">
          Cairn
        </Link>
        <Link to="/search" className="search-link">
          Search
        </Link>
        <span className="viewer">
          {data?.viewer.name}{" "}
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </span>
      </header>
      <main>{children}</main>
    </div>
  );
}
