// Registers the app shell's service worker (sw.ts) in production builds, and on the first visit hands it what this
// page loaded before it was in control, so that one visit is enough to work offline. The app works without it: a
// browser with no service workers, or a failed registration, only loses the offline shell (said on the console).

/**
 * Same-origin files this page loaded. Chromium lists the engine worker's script among the resource entries
 * (initiatorType "other"); a browser that does not gets it cached on the next online visit, which the worker controls.
 */
function loadedAssets(): string[] {
  return performance
    .getEntriesByType('resource')
    .map((entry) => entry.name)
    .filter((url) => new URL(url).origin === location.origin);
}

export function registerOffline(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  const container = navigator.serviceWorker;
  // Controlled already: every shell request of this page went through the worker, which kept a copy.
  const firstVisit = !container.controller;
  container
    .register(new URL('./sw.js', location.href), { scope: './' })
    .then(() => container.ready)
    .then((registration) => {
      if (firstVisit) registration.active?.postMessage({ type: 'cache-shell', page: location.origin + location.pathname, assets: loadedAssets() });
    })
    .catch((error: unknown) => console.info('gpt-webgpu: no offline app shell (the service worker did not register):', error));
}
