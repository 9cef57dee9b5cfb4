// Vite build of the dashboard: a single-page app written to dist/, which the API serves from the
// same origin (with an index.html fallback for client-side routes such as /sweeps/:id).
import react from '@vitejs/plugin-react';
import { defaultClientConditions, defineConfig } from 'vite';

// `npm run dev` proxies the API so the dashboard can talk to a locally running apps/api.
const apiTarget = process.env['HYPERSWEEP_API_URL'] ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  // Workspace packages as TypeScript source (their "@hypersweep/source" export), not their published
  // dist/: one copy of @hypersweep/schemas in the bundle.
  resolve: { conditions: ['@hypersweep/source', ...defaultClientConditions] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: { '/api': { target: apiTarget, changeOrigin: false } },
  },
});
