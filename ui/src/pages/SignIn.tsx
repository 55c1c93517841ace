import { useState } from "react";

/** Signing in is giving an API key (`cairn keys create`, or what `cairn serve --demo` prints);
 * it is checked against the server before it is kept. */
export function SignIn({ onSignedIn }: { onSignedIn: (key: string) => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setError(null);
    const response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${key.trim()}` },
      body: JSON.stringify({ query: "{ viewer { name } }" }),
    });
    const body = await response.json().catch(() => null);
    if (response.ok && body?.data?.viewer) {
      onSignedIn(key.trim());
    } else {
      setError(body?.errors?.[0]?.message ?? `The server answered ${response.status}.`);
    }
  };
  return (
    <form className="sign-in" onSubmit={submit}>
      <h1>Cairn</h1>
      <label>
        API key
        <input
          name="apiKey"
          type="password"
          autoComplete="off"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          placeholder="cairn_…"
        />
      </label>
      <button type="submit" disabled={!key.trim()}>
        Sign in
      </button>
      {error && <p className="error">{error}</p>}
    </form>
  );
}
