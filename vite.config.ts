import { readdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

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
  plugins: [react(), precacheManifest()],
  // Names the build, so a new build installs a new offline cache (src/app/offline.ts).
  define: { __FACTLAB_BUILD__: JSON.stringify(Date.now().toString(36)) },
  server: { headers: isolationHeaders, port: 5173, strictPort: false },
  preview: { headers: isolationHeaders, port: 4173 },
  worker: { format: 'es' },
  // Pre-bundle tfjs up front (its wasm backend ships CommonJS files that only work bundled),
  // and scan the worker too, so the first visit never triggers a dependency re-optimisation reload.
  optimizeDeps: {
    entries: ['index.html', 'src/worker/worker.ts'],
    include: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu'],
  },
  build: { target: 'es2022', chunkSizeWarningLimit: 4000 },
});
