// The API key the user signed in with, kept in this browser only.
const KEY = "cairn.apiKey";

export function storedKey(): string | null {
  return window.localStorage.getItem(KEY);
}

export function storeKey(key: string): void {
  window.localStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  window.localStorage.removeItem(KEY);
}
