import type { CombinedError } from "@urql/core";
import { useState } from "react";
import { useMutation } from "urql";
import { graphql } from "./gql";

const AddAliases = graphql(`
  mutation AddAliases($path: String!, $aliases: [String!]!) {
    addAliases(input: { path: $path, aliases: $aliases }) {
      artifactVersion {
        id
        aliases
      }
      errors {
        message
      }
    }
  }
`);

const RemoveAliases = graphql(`
  mutation RemoveAliases($path: String!, $aliases: [String!]!) {
    removeAliases(input: { path: $path, aliases: $aliases }) {
      artifactVersion {
        id
        aliases
      }
      errors {
        message
      }
    }
  }
`);

const AddTags = graphql(`
  mutation AddTags($id: ID!, $tags: [String!]!) {
    addTags(input: { id: $id, tags: $tags }) {
      artifactVersion {
        id
        tags
      }
      errors {
        message
      }
    }
  }
`);

const RemoveTags = graphql(`
  mutation RemoveTags($id: ID!, $tags: [String!]!) {
    removeTags(input: { id: $id, tags: $tags }) {
      artifactVersion {
        id
        tags
      }
      errors {
        message
      }
    }
  }
`);

type Outcome = { error?: CombinedError; data?: unknown };

/** The message to show for a mutation's answer: the server's own words, or none. */
function refusal(outcome: Outcome, errors: readonly { message: string }[] | undefined) {
  if (outcome.error) {
    return outcome.error.graphQLErrors[0]?.message ?? outcome.error.message;
  }
  return errors && errors.length ? errors.map((e) => e.message).join("; ") : null;
}

/** A version's aliases, each removable (`latest` is kept by the server), and one to add or
 * move here. The server decides who may; its refusal is shown next to the control. */
export function AliasEditor(props: {
  path: string;
  aliases: readonly string[];
  protectedAliases: ReadonlySet<string>;
}) {
  const [alias, setAlias] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const [, addAliases] = useMutation(AddAliases);
  const [, removeAliases] = useMutation(RemoveAliases);
  const add = async (event: React.FormEvent) => {
    event.preventDefault();
    const outcome = await addAliases({ path: props.path, aliases: [alias.trim()] });
    const refused = refusal(outcome, outcome.data?.addAliases.errors);
    setMessage(refused);
    if (!refused) setAlias("");
  };
  const remove = async (name: string) => {
    const outcome = await removeAliases({ path: props.path, aliases: [name] });
    setMessage(refusal(outcome, outcome.data?.removeAliases.errors));
  };
  return (
    <div className="editor aliases-editor">
      {props.aliases.map((name) => (
        <span key={name} className={props.protectedAliases.has(name) ? "alias protected" : "alias"}>
          {props.protectedAliases.has(name) ? "🔒 " : ""}
          {name}
          {name !== "latest" && (
            <button type="button" aria-label={`Remove alias ${name}`} onClick={() => remove(name)}>
              ×
            </button>
          )}
        </span>
      ))}
      <form onSubmit={add}>
        <input
          aria-label="New alias"
          value={alias}
          onChange={(e) => setAlias(e.target.value)}
          placeholder="alias, e.g. production"
        />
        <button type="submit" disabled={!alias.trim()}>
          Add alias
        </button>
      </form>
      {message && <p className="error">{message}</p>}
    </div>
  );
}

/** A version's tags, each removable, and one to add. */
export function TagEditor(props: { id: string; tags: readonly string[] }) {
  const [tag, setTag] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const [, addTags] = useMutation(AddTags);
  const [, removeTags] = useMutation(RemoveTags);
  const add = async (event: React.FormEvent) => {
    event.preventDefault();
    const outcome = await addTags({ id: props.id, tags: [tag.trim()] });
    const refused = refusal(outcome, outcome.data?.addTags.errors);
    setMessage(refused);
    if (!refused) setTag("");
  };
  const remove = async (name: string) => {
    const outcome = await removeTags({ id: props.id, tags: [name] });
    setMessage(refusal(outcome, outcome.data?.removeTags.errors));
  };
  return (
    <div className="editor tags-editor">
      {props.tags.map((name) => (
        <span key={name} className="tag">
          {name}
          <button type="button" aria-label={`Remove tag ${name}`} onClick={() => remove(name)}>
            ×
          </button>
        </span>
      ))}
      <form onSubmit={add}>
        <input aria-label="New tag" value={tag} onChange={(e) => setTag(e.target.value)} />
        <button type="submit" disabled={!tag.trim()}>
          Add tag
        </button>
      </form>
      {message && <p className="error">{message}</p>}
    </div>
  );
}
