import { useState } from "react";
import { useMutation } from "urql";
import { refusal } from "./Actions";
import { when } from "./format";
import { graphql } from "./gql";
import type { AutomationEvent, HeaderInput } from "./gql/graphql";

const EVENTS: AutomationEvent[] = [
  "LINK_ARTIFACT",
  "UNLINK_ARTIFACT",
  "ADD_ARTIFACT_ALIAS",
  "REMOVE_ARTIFACT_ALIAS",
  "ADD_TAG",
  "CREATE_ARTIFACT",
];

const CreateAutomation = graphql(`
  mutation CreateAutomation($input: CreateAutomationInput!) {
    createAutomation(input: $input) {
      automation {
        id
      }
      errors {
        message
      }
    }
  }
`);

const UpdateAutomation = graphql(`
  mutation UpdateAutomation($input: UpdateAutomationInput!) {
    updateAutomation(input: $input) {
      automation {
        id
        enabled
      }
      errors {
        message
      }
    }
  }
`);

const DeleteAutomation = graphql(`
  mutation DeleteAutomation($id: ID!) {
    deleteAutomation(input: { automationId: $id }) {
      deletedAutomationId
      errors {
        message
      }
    }
  }
`);

const TestAutomation = graphql(`
  mutation TestAutomation($id: ID!) {
    testAutomation(input: { automationId: $id }) {
      statusCode
      latencyMs
      responseExcerpt
      error
      errors {
        message
      }
    }
  }
`);

const Redeliver = graphql(`
  mutation Redeliver($id: ID!) {
    redeliver(input: { deliveryId: $id }) {
      delivery {
        id
        status
      }
      errors {
        message
      }
    }
  }
`);

export type AutomationView = {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
  events: AutomationEvent[];
  filterRegex?: string | null;
  webhookUrl: string;
  headerNames: string[];
  collection?: { name: string } | null;
  deliveries: {
    nodes: {
      id: string;
      eventType: AutomationEvent;
      status: string;
      createdAt: string;
      attempts: { statusCode?: number | null; error?: string | null }[];
    }[];
  };
};

/** Custom headers typed one `Name: value` per line; the server checks the names. */
function parseHeaders(text: string): HeaderInput[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const colon = line.indexOf(":");
      return colon < 0
        ? { name: line, value: "" }
        : { name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() };
    });
}

/** A form for a new automation, or for changes to one. Secrets and header values are
 * write-only: editing leaves them as they are unless something new is typed. */
function AutomationForm({
  registryId,
  existing,
  onDone,
}: {
  registryId: string;
  existing?: AutomationView;
  onDone: () => void;
}) {
  const [message, setMessage] = useState<string | null>(null);
  const [name, setName] = useState(existing?.name ?? "");
  const [description, setDescription] = useState(existing?.description ?? "");
  const [events, setEvents] = useState<AutomationEvent[]>(existing?.events ?? ["LINK_ARTIFACT"]);
  const [filter, setFilter] = useState(existing?.filterRegex ?? "");
  const [url, setUrl] = useState(existing?.webhookUrl ?? "");
  const [secret, setSecret] = useState("");
  const [headers, setHeaders] = useState("");
  const [, create] = useMutation(CreateAutomation);
  const [, update] = useMutation(UpdateAutomation);
  const label = existing ? `Edit ${existing.name}` : "New automation";
  return (
    <form
      className="automation-form"
      aria-label={label}
      onSubmit={async (e) => {
        e.preventDefault();
        if (existing) {
          const outcome = await update({
            input: {
              automationId: existing.id,
              name,
              description,
              events,
              webhookUrl: url,
              ...(filter ? { filterRegex: filter } : { clearFilter: true }),
              ...(secret ? { secret } : {}),
              ...(headers.trim() ? { headers: parseHeaders(headers) } : {}),
            },
          });
          const refused = refusal(outcome, outcome.data?.updateAutomation.errors);
          setMessage(refused);
          if (refused === null) onDone();
        } else {
          const outcome = await create({
            input: {
              registryId,
              name,
              description,
              events,
              webhookUrl: url,
              secret,
              headers: parseHeaders(headers),
              ...(filter ? { filterRegex: filter } : {}),
            },
          });
          const refused = refusal(outcome, outcome.data?.createAutomation.errors);
          setMessage(refused);
          if (refused === null) onDone();
        }
      }}
    >
      {message && <p className="error">{message}</p>}
      <label>
        Name <input value={name} onChange={(e) => setName(e.target.value)} required />
      </label>
      <label>
        Description <input value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      <fieldset>
        <legend>Events</legend>
        {EVENTS.map((event) => (
          <label key={event}>
            <input
              type="checkbox"
              checked={events.includes(event)}
              onChange={(e) =>
                setEvents(e.target.checked ? [...events, event] : events.filter((x) => x !== event))
              }
            />
            {event.toLowerCase().replaceAll("_", " ")}
          </label>
        ))}
      </fieldset>
      <label>
        Alias or tag filter (regex)
        <input value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="production|staging" />
      </label>
      <label>
        Webhook URL <input value={url} onChange={(e) => setUrl(e.target.value)} required />
      </label>
      <label>
        Signing secret
        <input
          type="password"
          value={secret}
          onChange={(e) => setSecret(e.target.value)}
          required={!existing}
          placeholder={existing ? "unchanged" : ""}
        />
      </label>
      <label>
        <span>
          Headers, one <code>Name: value</code> per line
        </span>
        <textarea
          value={headers}
          onChange={(e) => setHeaders(e.target.value)}
          rows={2}
          placeholder={existing?.headerNames.length ? `unchanged: ${existing.headerNames.join(", ")}` : ""}
        />
      </label>
      <div className="form-buttons">
        <button type="submit">{existing ? "Save automation" : "Create automation"}</button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** One automation: what it watches, where it sends, its recent deliveries with redeliver, and
 * the controls to switch it off and on, change or delete it. */
function AutomationItem({
  registryId,
  automation,
  refresh,
}: {
  registryId: string;
  automation: AutomationView;
  refresh: () => void;
}) {
  const [message, setMessage] = useState<string | null>(null);
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [, update] = useMutation(UpdateAutomation);
  const [, remove] = useMutation(DeleteAutomation);
  const [, redeliver] = useMutation(Redeliver);
  const [, test] = useMutation(TestAutomation);
  const [tested, setTested] = useState<string | null>(null);
  if (editing) {
    return (
      <AutomationForm
        registryId={registryId}
        existing={automation}
        onDone={() => {
          setEditing(false);
          refresh();
        }}
      />
    );
  }
  const after = (refused: string | null) => {
    setMessage(refused);
    refresh();
  };
  return (
    <div className="automation">
      <strong>{automation.name}</strong> {automation.enabled ? "" : "(disabled)"}{" "}
      <span className="muted">
        {automation.events.join(", ").toLowerCase()}
        {automation.filterRegex ? ` matching /${automation.filterRegex}/` : ""}
        {automation.collection ? ` in ${automation.collection.name}` : ""} → {automation.webhookUrl}
      </span>
      <div className="controls">
        <button
          type="button"
          onClick={async () => {
            const outcome = await update({
              input: { automationId: automation.id, enabled: !automation.enabled },
            });
            after(refusal(outcome, outcome.data?.updateAutomation.errors));
          }}
        >
          {automation.enabled ? "Disable" : "Enable"}
        </button>
        <button type="button" onClick={() => setEditing(true)}>
          Edit
        </button>
        <button
          type="button"
          onClick={async () => {
            setTested(null);
            const outcome = await test({ id: automation.id });
            const answer = outcome.data?.testAutomation;
            const refused = refusal(outcome, answer?.errors);
            setMessage(refused);
            if (answer && refused === null) {
              setTested(
                `Test sent: ${answer.statusCode ?? answer.error} in ${answer.latencyMs ?? "?"} ms` +
                  (answer.responseExcerpt ? `: ${answer.responseExcerpt}` : ""),
              );
            }
          }}
        >
          Send a test
        </button>
        {confirming ? (
          <button
            type="button"
            className="danger"
            onClick={async () => {
              const outcome = await remove({ id: automation.id });
              setConfirming(false);
              after(refusal(outcome, outcome.data?.deleteAutomation.errors));
            }}
          >
            Delete {automation.name} and its deliveries
          </button>
        ) : (
          <button type="button" onClick={() => setConfirming(true)}>
            Delete
          </button>
        )}
      </div>
      <table className="deliveries">
        <tbody>
          {automation.deliveries.nodes.map((delivery) => {
            const last = delivery.attempts[delivery.attempts.length - 1];
            return (
              <tr key={delivery.id}>
                <td>{when(delivery.createdAt)}</td>
                <td>{delivery.eventType.toLowerCase()}</td>
                <td className={`status ${delivery.status.toLowerCase()}`}>
                  {delivery.status.toLowerCase()}
                </td>
                <td>{last ? (last.statusCode ?? last.error) : "—"}</td>
                <td>
                  <button
                    type="button"
                    onClick={async () => {
                      const outcome = await redeliver({ id: delivery.id });
                      after(refusal(outcome, outcome.data?.redeliver.errors));
                    }}
                  >
                    Redeliver
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {tested && <p className="tested">{tested}</p>}
      {message && <p className="error">{message}</p>}
    </div>
  );
}

/** A registry's automations, and a form for a new one. */
export function Automations({
  registryId,
  automations,
  refresh,
}: {
  registryId: string;
  automations: AutomationView[];
  refresh: () => void;
}) {
  const [creating, setCreating] = useState(false);
  return (
    <>
      {automations.map((automation) => (
        <AutomationItem
          key={automation.id}
          registryId={registryId}
          automation={automation}
          refresh={refresh}
        />
      ))}
      {automations.length === 0 && <p className="muted">None.</p>}
      {creating ? (
        <AutomationForm
          registryId={registryId}
          onDone={() => {
            setCreating(false);
            refresh();
          }}
        />
      ) : (
        <button type="button" onClick={() => setCreating(true)}>
          New automation
        </button>
      )}
    </>
  );
}
