// The model cache in the page: every model in the Cache API with its size and whether all its files are there
// (a cancelled or failed download leaves an incomplete one), delete one, delete the incomplete ones, or clear all.
// The bookkeeping is the library's (src/io/modelCache.ts), so the page and any other app agree on what "cached" means.
import { clearModelCache, deleteIncompleteModels, deleteModelInCache, listCachedModels, type CachedModel } from '../../src/index.ts';
import type { App } from '../app.ts';
import { $, byTestId, h, setText } from '../dom.ts';
import * as fmt from '../format.ts';

export class CachePanel {
  constructor(private readonly app: App) {
    $('#clear-cache').onclick = () => void this.clearAll();
    $('#delete-incomplete').onclick = () => void this.deleteIncomplete();
  }

  async refresh(): Promise<void> {
    const summary = byTestId('cache-info');
    const list = byTestId('cached-models');
    if (!('caches' in globalThis)) {
      setText(summary, 'Cache: not available here');
      list.replaceChildren();
      return;
    }
    let models: CachedModel[];
    try {
      models = await listCachedModels();
    } catch {
      setText(summary, 'Cache: not available here');
      return;
    }
    const complete = models.filter((m) => m.complete);
    const incomplete = models.length - complete.length;
    const total = models.reduce((n, m) => n + m.bytes, 0);
    setText(
      summary,
      models.length === 0
        ? 'Cache: empty'
        : `Cache: ${complete.length} model${complete.length === 1 ? '' : 's'}${incomplete ? `, ${incomplete} incomplete` : ''}, ${fmt.bytes(total)}`,
    );
    list.replaceChildren(
      ...models.map((m) =>
        h(
          'li',
          { 'data-testid': 'cached-model', 'data-url': m.baseUrl, 'data-complete': String(m.complete) },
          h('span', { class: 'name', title: m.baseUrl }, fmt.shortModelName(m.baseUrl)),
          h('span', { class: 'size' }, fmt.bytes(m.bytes)),
          h('span', { class: `badge ${m.complete ? 'ok' : 'warn'}` }, m.complete ? 'complete' : 'incomplete'),
          h('button', { class: 'link-button', 'data-testid': 'cached-model-delete', title: `Delete ${m.baseUrl} from the cache`, onclick: () => void this.deleteOne(m.baseUrl) }, 'Delete'),
        ),
      ),
    );
    list.hidden = models.length === 0;
    $<HTMLButtonElement>('#clear-cache').disabled = models.length === 0;
    $('#delete-incomplete').hidden = incomplete === 0;
  }

  private async deleteOne(baseUrl: string): Promise<void> {
    await deleteModelInCache(baseUrl);
    await this.refresh();
    this.app.toast(`Deleted ${fmt.shortModelName(baseUrl)} from the cache`);
  }

  private async deleteIncomplete(): Promise<void> {
    await deleteIncompleteModels();
    await this.refresh();
    this.app.toast('Incomplete downloads deleted');
  }

  private async clearAll(): Promise<void> {
    await clearModelCache();
    await this.refresh();
    this.app.toast('Model cache cleared: the next load downloads again');
  }
}
