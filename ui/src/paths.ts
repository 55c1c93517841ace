// Where each thing lives in the UI, and the artifact path Cairn's API resolves for a version.
export const organizationUrl = (organization: string) => `/${encodeURIComponent(organization)}`;

export const registryUrl = (organization: string, registry: string) =>
  `${organizationUrl(organization)}/${encodeURIComponent(registry)}`;

export const collectionUrl = (organization: string, registry: string, collection: string) =>
  `${registryUrl(organization, registry)}/${encodeURIComponent(collection)}`;

export const versionUrl = (
  organization: string,
  registry: string,
  collection: string,
  version: string,
) => `${collectionUrl(organization, registry, collection)}/${encodeURIComponent(version)}`;

export const artifactPath = (
  organization: string,
  registry: string,
  collection: string,
  version: string,
) => `${organization}/wandb-registry-${registry}/${collection}:${version}`;

/** Where a registry version's path (`org/wandb-registry-<registry>/<collection>:v<N>`) lives in
 * the UI; null for a project's logged version, which the UI does not show on its own. */
export function pageOf(path: string): string | null {
  const found = /^([^/]+)\/wandb-registry-([^/]+)\/([^:]+):(.+)$/.exec(path);
  if (!found) return null;
  return "/" + found.slice(1).map(encodeURIComponent).join("/");
}
