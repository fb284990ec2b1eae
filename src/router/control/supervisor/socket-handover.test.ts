import { describe, expect, it } from 'vitest';
import { SocketHandover, type HandoverStart } from './socket-handover.js';

type Step =
  | ['ready', string]
  | ['received', 'http' | 'https', string]
  | ['listening', string]
  | ['exited', string];

/** Runs the steps; what each one answered, as `step → answer`. */
function run(tls: boolean, steps: Step[]): string[] {
  const h = new SocketHandover<string, string>({ tls });
  const show = (s: HandoverStart<string>): string => (s.kind === 'wait' ? 'wait' : `start ${JSON.stringify(s.handles)}`);
  return steps.map((step) => {
    switch (step[0]) {
      case 'ready': return `${step.join(' ')} → ${show(h.ready(step[1]))}`;
      case 'received': h.received(step[1], step[2]); return `${step.join(' ')}`;
      case 'listening': return `${step.join(' ')} → [${h.listening(step[1]).join(',')}]`;
      case 'exited': return `${step.join(' ')} → [${h.exited(step[1]).join(',')}]`;
    }
  });
}

describe('SocketHandover', () => {
  it.each<[string, boolean, Step[], string[]]>([
    ['the first worker ready binds; the others wait for it and get its sockets', false,
      [['ready', 'a'], ['ready', 'b'], ['received', 'http', 'H'], ['listening', 'a'], ['ready', 'b']],
      ['ready a → start {}', 'ready b → wait', 'received http H', 'listening a → [b]', 'ready b → start {"http":"H"}']],
    // The race a CI run met: b ready between the binder's two handles got HTTP only and bound an HTTPS port of its own.
    ['with TLS, a worker ready between the binder\'s two handles waits for both', true,
      [['ready', 'a'], ['received', 'http', 'H'], ['ready', 'b'], ['received', 'https', 'S'], ['listening', 'a'], ['ready', 'b']],
      ['ready a → start {}', 'received http H', 'ready b → wait', 'received https S', 'listening a → [b]', 'ready b → start {"http":"H","https":"S"}']],
    ['once every socket is held, a worker ready starts at once (a replacement)', true,
      [['ready', 'a'], ['received', 'http', 'H'], ['received', 'https', 'S'], ['listening', 'a'], ['ready', 'c']],
      ['ready a → start {}', 'received http H', 'received https S', 'listening a → []', 'ready c → start {"http":"H","https":"S"}']],
    ['a binder that dies before handing over HTTPS: the next worker binds HTTPS, listening on the HTTP held', true,
      [['ready', 'a'], ['ready', 'b'], ['received', 'http', 'H'], ['exited', 'a'], ['ready', 'b'], ['ready', 'c'], ['received', 'https', 'S2'], ['listening', 'b'], ['ready', 'c']],
      ['ready a → start {}', 'ready b → wait', 'received http H', 'exited a → [b]', 'ready b → start {"http":"H"}', 'ready c → wait', 'received https S2', 'listening b → [c]', 'ready c → start {"http":"H","https":"S2"}']],
    ['a waiting worker that dies is not started; the first handle of a kind is kept', false,
      [['ready', 'a'], ['ready', 'b'], ['exited', 'b'], ['received', 'http', 'H'], ['received', 'http', 'H2'], ['listening', 'a']],
      ['ready a → start {}', 'ready b → wait', 'exited b → []', 'received http H', 'received http H2', 'listening a → []']],
    ['a worker that is not the binder says it listens: nobody is released', false,
      [['ready', 'a'], ['ready', 'b'], ['listening', 'b']],
      ['ready a → start {}', 'ready b → wait', 'listening b → []']],
  ])('%s', (_name, tls, steps, answers) => {
    expect(run(tls, steps)).toEqual(answers);
  });

  it('says who binds and who waits', () => {
    const h = new SocketHandover<string, string>({ tls: false });
    h.ready('a');
    h.ready('b');
    expect([h.binder, h.isWaiting('b'), h.isWaiting('a'), h.complete]).toEqual(['a', true, false, false]);
    h.received('http', 'H');
    expect(h.complete).toBe(true);
  });
});
