import { describe, expect, it } from 'vitest';
import { run } from '../../bench/seamless.js';

describe('npm run bench -- seamless refuses a bad --client-priority before starting anything', () => {
  it.each([
    [['--client-priority', '-21'], '--client-priority needs a nice value from -20 to 19'],
    [['--client-priority', 'high'], '--client-priority needs a nice value from -20 to 19'],
    [['--client-priority', '-5', '--client', 'node'], '--client-priority is for the wrk client: the node client runs in this process'],
  ])('%j', async (args, message) => {
    await expect(run({ json: true, args })).rejects.toThrow(message);
  });
});
