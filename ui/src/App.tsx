import { useMemo, useState } from "react";
import { BrowserRouter, Route, Routes } from "react-router-dom";
import { Provider } from "urql";
import { clientFor } from "./client";
import { Layout } from "./Layout";
import { CollectionPage } from "./pages/CollectionPage";
import { HomePage } from "./pages/HomePage";
import { OrganizationPage } from "./pages/OrganizationPage";
import { RegistryPage } from "./pages/RegistryPage";
import { SearchPage } from "./pages/SearchPage";
import { SignIn } from "./pages/SignIn";
import { VersionPage } from "./pages/VersionPage";
import { forgetKey, storedKey, storeKey } from "./session";

export function App() {
  const [key, setKey] = useState<string | null>(storedKey());
  const client = useMemo(() => (key === null ? null : clientFor(key)), [key]);
  if (key === null || client === null) {
    return (
      <SignIn
        onSignedIn={(signedIn) => {
          storeKey(signedIn);
          setKey(signedIn);
        }}
      />
    );
  }
  const signOut = () => {
    forgetKey();
    setKey(null);
  };
  return (
    <Provider value={client}>
      <BrowserRouter>
        <Layout onSignOut={signOut}>
          <Routes>
            <Route path="/" element={<HomePage />} />
            <Route path="/search" element={<SearchPage />} />
            <Route path="/:organization" element={<OrganizationPage />} />
            <Route path="/:organization/:registry" element={<RegistryPage />} />
            <Route path="/:organization/:registry/:collection" element={<CollectionPage />} />
            <Route path="/:organization/:registry/:collection/:version" element={<VersionPage />} />
            <Route path="*" element={<p className="error">No such page.</p>} />
          </Routes>
        </Layout>
      </BrowserRouter>
    </Provider>
  );
}
