import { expect, it } from 'vitest';
import { DroppedMessages } from './dropped-messages.js';

it('says the first dropped message of each kind, then the 10th, 100th … of it', () => {
  const dropped = new DroppedMessages();
  const said: string[] = [];
  for (let i = 0; i < 120; i++) {
    for (const kind of ['report', 'event']) {
      const line = dropped.drop(kind, (count) => `${kind} ${count}`);
      if (line) said.push(line);
    }
  }
  expect(said).toEqual(['report 1', 'event 1', 'report 10', 'event 10', 'report 100', 'event 100']);
});
