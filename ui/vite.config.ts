import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build goes into the Python package, which serves it at / (cloud/portal/serve.py).
// `npm run dev` proxies the API to a hub on FIELDHUB_URL (default http://127.0.0.1:8080).
const hub = process.env.FIELDHUB_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../cloud/portal/dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    // The entry chunk (React, the router, queries, forms) is about 420 KB, 130 KB gzipped; pages load on their own.
    chunkSizeWarningLimit: 450,
  },
  server: {
    proxy: {
      "/api": { target: hub, changeOrigin: false },
      "/apps/": { target: hub, ws: true },
      "/docs": hub,
      "/openapi.json": hub,
    },
  },
});
