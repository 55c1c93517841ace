import type { CombinedError } from "@urql/core";
import { useState } from "react";
import { Link } from "react-router-dom";
import { useMutation } from "urql";
import { graphql } from "./gql";
import { Markdown } from "./Markdown";
import { pageOf } from "./paths";

const UpdateCard = graphql(`
  mutation UpdateCard($id: ID!, $description: String!) {
    updateCollection(input: { collectionId: $id, description: $description }) {
      collection {
        id
        description
      }
      errors {
        message
      }
    }
  }
`);

const LinkVersion = graphql(`
  mutation LinkVersion($versionId: ID!, $targetPath: String!, $aliases: [String!]!) {
    linkArtifact(input: { versionId: $versionId, targetPath: $targetPath, aliases: $aliases }) {
      artifactVersion {
        id
        path
      }
      errors {
        message
      }
    }
  }
`);

/** The message to show for a mutation's answer: the server's own words, or none. */
export function refusal(
  outcome: { error?: CombinedError },
  errors: readonly { message: string }[] | undefined,
): string | null {
  if (outcome.error) {
    return outcome.error.graphQLErrors[0]?.message ?? outcome.error.message;
  }
  return errors && errors.length ? errors.map((e) => e.message).join("; ") : null;
}

/** A collection's card, in Markdown, with an editor for those the server lets edit it. */
export function CardEditor({ id, description }: { id: string; description: string }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(description);
  const [message, setMessage] = useState<string | null>(null);
  const [, updateCard] = useMutation(UpdateCard);
  if (!editing) {
    return (
      <div className="card">
        <Markdown text={description} />
        <button
          type="button"
          onClick={() => {
            setText(description);
            setEditing(true);
          }}
        >
          Edit card
        </button>
      </div>
    );
  }
  const save = async (event: React.FormEvent) => {
    event.preventDefault();
    const outcome = await updateCard({ id, description: text });
    const refused = refusal(outcome, outcome.data?.updateCollection.errors);
    setMessage(refused);
    if (!refused) setEditing(false);
  };
  return (
    <form className="card-editor" onSubmit={save}>
      <textarea aria-label="Card" rows={8} value={text} onChange={(e) => setText(e.target.value)} />
      <div>
        <button type="submit">Save card</button>{" "}
        <button type="button" onClick={() => setEditing(false)}>
          Cancel
        </button>
      </div>
      {message && <p className="error">{message}</p>}
    </form>
  );
}

/** Links a version into a registry collection (made when missing), with aliases there. */
export function LinkForm({ versionId }: { versionId: string }) {
  const [target, setTarget] = useState("");
  const [aliases, setAliases] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const [linked, setLinked] = useState<string | null>(null);
  const [, linkVersion] = useMutation(LinkVersion);
  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setLinked(null);
    const outcome = await linkVersion({
      versionId,
      targetPath: target.trim(),
      aliases: aliases.split(",").map((a) => a.trim()).filter(Boolean),
    });
    const refused = refusal(outcome, outcome.data?.linkArtifact.errors);
    setMessage(refused);
    if (!refused) setLinked(outcome.data?.linkArtifact.artifactVersion?.path ?? null);
  };
  return (
    <form className="link-form" onSubmit={submit}>
      <input
        aria-label="Link into"
        placeholder="acme/wandb-registry-model/collection"
        value={target}
        onChange={(e) => setTarget(e.target.value)}
      />
      <input
        aria-label="Aliases there"
        placeholder="aliases, comma-separated"
        value={aliases}
        onChange={(e) => setAliases(e.target.value)}
      />
      <button type="submit" disabled={!target.trim()}>
        Link
      </button>
      {message && <p className="error">{message}</p>}
      {linked && (
        <p className="done">
          Linked as{" "}
          {pageOf(linked) ? <Link to={pageOf(linked)!}>{linked}</Link> : linked}
        </p>
      )}
    </form>
  );
}
