// The web page's build: `npm run build` runs it (scripts/build.ts) into build/ beside serve.ts.
// `npx vite --config services/host/web/vite.config.ts` serves it with hot reload, forwarding /api to
// a host on HOST_URL (default http://127.0.0.1:8080).
import { join } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = import.meta.dirname;
const hostUrl = process.env.HOST_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: join(here, 'src'),
  base: '/',
  plugins: [react()],
  // The page is served by the host, same origin: nothing is fetched from anywhere else.
  build: {
    outDir: join(here, 'build'),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: { '/api': { target: hostUrl, changeOrigin: false }, '/healthz': hostUrl, '/readyz': hostUrl },
  },
  logLevel: 'warn',
});
