import { readdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * Content-Security-Policy of the built app (see README, "Security"). No inline script and no
 * eval: 'wasm-unsafe-eval' only lets WebAssembly compile (the tfjs wasm backend); WebGPU and
 * WebGL need nothing. The wasm backend's threads are blob: workers that importScripts() a
 * blob: copy of the backend, hence blob: in worker-src and script-src (only same-origin script
 * can mint blob: URLs). Models download from the
 * Hub or any http(s) folder the user names, hence connect-src https: (and local servers).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval' blob:",
  "worker-src 'self' blob:",
  "connect-src 'self' https: http://127.0.0.1:* http://localhost:*",
  "img-src 'self' data: blob:",
  "style-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

/** The policy as a meta tag in the built index.html, so that it holds on any static host. */
function cspMetaTag(): Plugin {
  return {
    name: 'factlab-csp-meta',
    apply: 'build',
    transformIndexHtml: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CONTENT_SECURITY_POLICY }, injectTo: 'head-prepend' }],
  };
}

// Cross-origin isolation lets the wasm backend use threads (SharedArrayBuffer).
const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** Lists every file of the build in precache.json, for the offline service worker (public/sw.js). */
function precacheManifest(): Plugin {
  let outDir = 'dist';
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  return {
    name: 'factlab-precache-manifest',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      const skip = new Set(['sw.js', 'precache.json']);
      const files = walk(outDir)
        .map((f) => relative(outDir, f).split(sep).join('/'))
        .filter((f) => !skip.has(f) && !f.endsWith('.md'))
        .sort();
      writeFileSync(join(outDir, 'precache.json'), `${JSON.stringify({ files }, null, 1)}\n`);
    },
  };
}

export default defineConfig({
  plugins: [react(), cspMetaTag(), precacheManifest()],
  // Names the build, so a new build installs a new offline cache (src/app/offline.ts).
  define: { __FACTLAB_BUILD__: JSON.stringify(Date.now().toString(36)) },
  server: { headers: isolationHeaders, port: 5173, strictPort: false },
  // As a header the policy also covers the worker script (a meta tag only governs the page).
  // Framing stays allowed: `?embed=1` exists for iframes in slides and posts. The dev server
  // has no policy, as Vite's hot reload injects inline script.
  preview: { headers: { ...isolationHeaders, 'Content-Security-Policy': CONTENT_SECURITY_POLICY }, port: 4173 },
  worker: { format: 'es' },
  // Pre-bundle tfjs up front (its wasm backend ships CommonJS files that only work bundled),
  // and scan the worker too, so the first visit never triggers a dependency re-optimisation reload.
  optimizeDeps: {
    entries: ['index.html', 'src/worker/worker.ts'],
    include: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu'],
  },
  build: { target: 'es2022', chunkSizeWarningLimit: 4000 },
});
