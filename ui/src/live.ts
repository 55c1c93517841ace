import { createClient } from "graphql-ws";
import { useEffect } from "react";
import { storedKey } from "./session";

const EVENTS = `
  subscription CollectionEvents($registry: ID!, $collection: ID) {
    registryEvents(registry: $registry, collection: $collection) {
      type
      alias
      tag
      at
      actor {
        name
      }
      artifactVersion {
        version
      }
    }
  }
`;

export type LiveEvent = {
  type: string;
  alias: string | null;
  tag: string | null;
  at: string;
  actor: { name: string } | null;
  artifactVersion: { version: string } | null;
};

/** Calls `onEvent` for each change made to the collection by anyone, as it happens (GraphQL
 * over WebSocket, the key sent in `connection_init`). */
export function useCollectionEvents(
  registry: string | undefined,
  collection: string | undefined,
  onEvent: (event: LiveEvent) => void,
): void {
  useEffect(() => {
    const key = storedKey();
    if (!registry || !collection || key === null) return;
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const client = createClient({
      url: `${scheme}://${window.location.host}/graphql`,
      connectionParams: { Authorization: `Bearer ${key}` },
      retryAttempts: Infinity,
    });
    const stop = client.subscribe<{ registryEvents: LiveEvent }>(
      { query: EVENTS, variables: { registry, collection } },
      {
        next: (result) => {
          if (result.data) onEvent(result.data.registryEvents);
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
    return () => {
      stop();
      void client.dispose();
    };
  }, [registry, collection, onEvent]);
}
