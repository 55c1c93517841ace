import { Link } from "react-router-dom";
import { useQuery } from "urql";
import { graphql } from "../gql";
import { organizationUrl, registryUrl } from "../paths";
import { Status } from "../Status";

const HomeQuery = graphql(`
  query Home {
    viewer {
      organizations {
        name
        displayName
        registries(first: 100) {
          nodes {
            name
            description
            visibility
            acceptsAllTypes
            acceptedTypes
            collections(first: 1) {
              totalCount
            }
          }
        }
      }
    }
  }
`);

export function HomePage() {
  const [{ data, fetching, error }] = useQuery({ query: HomeQuery });
  return (
    <>
      <Status fetching={fetching && !data} error={error} />
      {data?.viewer.organizations.map((organization) => (
        <section key={organization.name}>
          <h1>{organization.displayName}</h1>
          <p>
            <Link to={organizationUrl(organization.name)}>Members and teams</Link>
          </p>
          <table className="registries">
            <thead>
              <tr>
                <th>Registry</th>
                <th>Visibility</th>
                <th>Accepted types</th>
                <th>Collections</th>
              </tr>
            </thead>
            <tbody>
              {organization.registries.nodes.map((registry) => (
                <tr key={registry.name}>
                  <td>
                    <Link to={registryUrl(organization.name, registry.name)}>{registry.name}</Link>
                    <div className="muted">{registry.description}</div>
                  </td>
                  <td>{registry.visibility.toLowerCase()}</td>
                  <td>{registry.acceptsAllTypes ? "any" : registry.acceptedTypes.join(", ")}</td>
                  <td>{registry.collections.totalCount}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </>
  );
}
