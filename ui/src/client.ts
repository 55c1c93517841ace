import { Client, cacheExchange, fetchExchange } from "@urql/core";

// One client per signed-in key: Cairn's own GraphQL API, the same one every other client uses.
export function clientFor(key: string): Client {
  return new Client({
    url: "/graphql",
    exchanges: [cacheExchange, fetchExchange],
    fetchOptions: () => ({ headers: { Authorization: `Bearer ${key}` } }),
    requestPolicy: "cache-and-network",
  });
}
