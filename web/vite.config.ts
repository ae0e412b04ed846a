/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import { fileURLToPath } from "node:url";

const outDir = fileURLToPath(new URL("../tsvis_live/http/static/dashboard", import.meta.url));

export default defineConfig({
  // Relative URLs: the server mounts the directory at "/" (or anywhere else).
  base: "./",
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2020",
    chunkSizeWarningLimit: 1500,
    sourcemap: false,
    minify: process.env.TSVIS_NO_MINIFY ? false : "esbuild",
  },
  server: {
    proxy: {
      "/api": { target: "http://127.0.0.1:8765", changeOrigin: false },
      "/ws": { target: "ws://127.0.0.1:8765", ws: true },
    },
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
