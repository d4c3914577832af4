/**
 * Offline use: production builds register public/sw.js, which precaches the whole build
 * (app, tfjs wasm binaries, the default model and its facts) listed in precache.json, so the
 * lab and the lesson open without a network after the first visit. The dev server never
 * registers it (a cached dev build would hide code changes).
 */
declare const __FACTLAB_BUILD__: string;

export function registerOfflineCache(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  const url = `${import.meta.env.BASE_URL.replace(/\/*$/, '/')}sw.js?v=${encodeURIComponent(__FACTLAB_BUILD__)}`;
  window.addEventListener('load', () => {
    navigator.serviceWorker.register(url).catch((err: unknown) => {
      // The lab works without it; only offline use is lost.
      console.warn('factlab: offline cache unavailable:', err);
    });
  });
}
