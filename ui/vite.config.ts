/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Tauri serves the built files itself; the dev server only runs under `tauri dev`.
export default defineConfig({
  plugins: [react()],
  base: "./",
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  envPrefix: ["VITE_", "TAURI_ENV_"],
  build: {
    // WebKitGTK / WKWebView on the oldest platforms Tauri v2 supports.
    target: "safari13",
    sourcemap: false,
  },
  test: {
    environment: "jsdom",
  },
});
