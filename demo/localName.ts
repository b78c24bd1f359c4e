// The name the page gives a model read from local files (no DOM needed, so unit tests call it with Node's File).
/**
 * A local model's name: its folder (a picked folder names its files "folder/config.json"), else config.json's
 * `_name_or_path` (its last segment when it is a path on someone's disk), else "local <model_type> model".
 */
export async function localModelName(files: File[]): Promise<string> {
  const folder = files[0]?.webkitRelativePath.split('/')[0];
  if (folder) return folder;
  const config = files.find((f) => f.name === 'config.json');
  let parsed: { _name_or_path?: unknown; model_type?: unknown } = {};
  try {
    if (config) parsed = JSON.parse(await config.text());
  } catch {
    // The load itself says what is wrong with config.json.
  }
  const named = typeof parsed._name_or_path === 'string' ? parsed._name_or_path.trim().replace(/[/\\]+$/, '') : '';
  if (named) return /^([./\\~]|[A-Za-z]:)/.test(named) ? named.split(/[/\\]/).pop()! : named;
  return `local ${typeof parsed.model_type === 'string' ? `${parsed.model_type} ` : ''}model`;
}
