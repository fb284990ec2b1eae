import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDocuments, rolloutFromAppService, type App } from '../../src/documents/index.js';

const root = resolve(import.meta.dirname, '../..');

describe('the README\'s expand → release → contract recipe', () => {
  it('is an App graylane loads, whose hooks reach the engine\'s spec', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Database changes'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(yaml).toBeDefined();
    const loaded = loadDocuments({ text: yaml!, file: 'README.md' });
    expect(loaded.errors).toEqual([]);
    const [doc] = loaded.documents;
    expect(doc?.kind).toBe('App');
    const spec = rolloutFromAppService(doc!.doc as App, 'api');
    expect(spec.hooks).toEqual({
      preRollout: { command: ['node', 'migrate.js', 'expand'], timeoutSeconds: 300 },
      postPromotion: { command: ['node', 'migrate.js', 'contract'] },
    });
  });
});
