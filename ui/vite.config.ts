import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The UI is served by Tauri (from dist/), by `symphony serve --ui ui/dist`, or by Vite in
// development. Relative asset paths let every host serve it from any base URL.
export default defineConfig({
  base: "./",
  plugins: [react()],
  build: { outDir: "dist", target: "es2022", chunkSizeWarningLimit: 1500 },
  server: { port: 5173, strictPort: true },
  preview: { port: 4173, strictPort: true },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
