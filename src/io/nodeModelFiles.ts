// ModelFiles over a folder on disk (Node only).
import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.ts';
import type { ModelFiles } from './modelFiles.ts';
import { fileSource } from './nodeFileSource.ts';

export async function folderModelFiles(dir: string): Promise<ModelFiles> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new ConfigError(`model folder ${dir} does not exist or is not a folder`);
  const path = (file: string) => join(dir, file);
  return {
    name: dir,
    async has(file) {
      return access(path(file)).then(
        () => true,
        () => false,
      );
    },
    async text(file) {
      try {
        return await readFile(path(file), 'utf8');
      } catch {
        throw new ConfigError(`${path(file)} is missing or unreadable; a model folder needs config.json and model.safetensors`);
      }
    },
    async open(file) {
      try {
        return await fileSource(path(file));
      } catch {
        throw new ConfigError(`${path(file)} is missing or unreadable`);
      }
    },
  };
}
