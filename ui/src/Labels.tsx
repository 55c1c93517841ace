import { useState } from "react";
import { useMutation } from "urql";
import { refusal } from "./Actions";
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

/** Labels of one kind (aliases or tags), each removable unless `kept`, and one to add. The
 * server decides who may; its refusal is shown next to the control. */
export function LabelEditor(props: {
  kind: "alias" | "tag";
  labels: readonly string[];
  add: (label: string) => Promise<string | null>;
  remove: (label: string) => Promise<string | null>;
  isProtected?: (label: string) => boolean;
  kept?: (label: string) => boolean;
  placeholder?: string;
}) {
  const [label, setLabel] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const refused = await props.add(label.trim());
    setMessage(refused);
    if (!refused) setLabel("");
  };
  return (
    <div className={`editor ${props.kind === "alias" ? "aliases-editor" : "tags-editor"}`}>
      {props.labels.map((name) => {
        const locked = props.isProtected?.(name) ?? false;
        return (
          <span key={name} className={props.kind === "alias" ? `alias${locked ? " protected" : ""}` : "tag"}>
            {locked ? "🔒 " : ""}
            {name}
            {!props.kept?.(name) && (
              <button
                type="button"
                aria-label={`Remove ${props.kind} ${name}`}
                onClick={async () => setMessage(await props.remove(name))}
              >
                ×
              </button>
            )}
          </span>
        );
      })}
      <form onSubmit={submit}>
        <input
          aria-label={`New ${props.kind}`}
          value={label}
          onChange={(e) => setLabel(e.target.value)}
          placeholder={props.placeholder}
        />
        <button type="submit" disabled={!label.trim()}>
          Add {props.kind}
        </button>
      </form>
      {message && <p className="error">{message}</p>}
    </div>
  );
}

/** A version's aliases (`latest` is kept by the server), and one to add or move here. */
export function AliasEditor(props: {
  path: string;
  aliases: readonly string[];
  protectedAliases: ReadonlySet<string>;
}) {
  const [, addAliases] = useMutation(AddAliases);
  const [, removeAliases] = useMutation(RemoveAliases);
  return (
    <LabelEditor
      kind="alias"
      labels={props.aliases}
      placeholder="alias, e.g. production"
      isProtected={(name) => props.protectedAliases.has(name)}
      kept={(name) => name === "latest"}
      add={async (alias) => {
        const outcome = await addAliases({ path: props.path, aliases: [alias] });
        return refusal(outcome, outcome.data?.addAliases.errors);
      }}
      remove={async (alias) => {
        const outcome = await removeAliases({ path: props.path, aliases: [alias] });
        return refusal(outcome, outcome.data?.removeAliases.errors);
      }}
    />
  );
}

/** A version's tags, and one to add. */
export function TagEditor(props: { id: string; tags: readonly string[] }) {
  const [, addTags] = useMutation(AddTags);
  const [, removeTags] = useMutation(RemoveTags);
  return (
    <LabelEditor
      kind="tag"
      labels={props.tags}
      add={async (tag) => {
        const outcome = await addTags({ id: props.id, tags: [tag] });
        return refusal(outcome, outcome.data?.addTags.errors);
      }}
      remove={async (tag) => {
        const outcome = await removeTags({ id: props.id, tags: [tag] });
        return refusal(outcome, outcome.data?.removeTags.errors);
      }}
    />
  );
}
