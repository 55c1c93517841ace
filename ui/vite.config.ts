import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Everything is bundled: the built UI works air-gapped, with no CDN and no external fonts.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false },
});
