import { Client as FullClient } from 'undici';
import { describe, expect, it } from 'vitest';
import { Client } from './undici-client.js';

describe('undici Client loaded alone', () => {
  it('is undici’s own Client class (fails if an undici upgrade moves or replaces the file)', () => {
    expect(Client).toBe(FullClient);
  });
});
