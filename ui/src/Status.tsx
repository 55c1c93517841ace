import type { CombinedError } from "@urql/core";

/** Loading, or the server's own error message. */
export function Status({ fetching, error }: { fetching: boolean; error?: CombinedError }) {
  if (error) {
    const messages = error.graphQLErrors.map((e) => e.message);
    return <p className="error">{messages.length ? messages.join("; ") : error.message}</p>;
  }
  return fetching ? <p className="muted">Loading…</p> : null;
}
