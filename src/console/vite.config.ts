// Builds the web console into dist/console: hashed assets the daemon serves as immutable, one
// index.html it serves uncached. No inline scripts or styles, so the strict CSP holds.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/',
  plugins: [react()],
  resolve: {
    // The shared API client checks answers with Ajv in Node; in the browser, with TypeBox (see the file).
    alias: [{ find: /^\.\/validate\.js$/, replacement: fileURLToPath(new URL('./contract-check.ts', import.meta.url)) }],
  },
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../../dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // The CSP forbids inline scripts: Vite's module preload polyfill would be one.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
});
