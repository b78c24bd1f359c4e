// Which models a link may load by itself. A URL parameter is written by whoever made the link, so `?model=` or `?hub=`
// naming another server must not make the page contact it: the form is filled, the full URL is shown, and nothing is
// fetched until the person presses Load. A link may start loading (and `autostart`) only from this site itself (the
// embedded model, paths and URLs of the page's own origin) or from the default Hub, https://huggingface.co/.

export const DEFAULT_HUB = 'https://huggingface.co/';

/** True when the page may load `modelUrl` (the base URL a link asks for) without asking the person first. */
export function loadsByItself(modelUrl: string, pageUrl: string): boolean {
  let origin: string;
  try {
    origin = new URL(modelUrl).origin;
  } catch {
    return false;
  }
  return origin === new URL(pageUrl).origin || origin === new URL(DEFAULT_HUB).origin;
}
