import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev` proxies the API to a query service on :8000 (`make run`), so the dev server
// and the served build talk to the same origin-relative /graphql.
export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/graphql": { target: "http://127.0.0.1:8000", ws: true },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 700,
  },
});
