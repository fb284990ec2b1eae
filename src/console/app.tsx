import { ApiClient } from '../api/client.js';

const client = new ApiClient('', undefined);

/** The console's shell: sign-in, then the overview or a rollout or release page. */
export function App() {
  void client;
  return <main><h1>graylane</h1></main>;
}
