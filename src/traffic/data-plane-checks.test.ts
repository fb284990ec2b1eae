import { describe, expect, it } from 'vitest';
import { formatSpecError, loadDocuments } from '../documents/index.js';
import { trafficLoadChecks } from './load-checks.js';

const app = (router: string[], releases: string[] = []) => [
  'apiVersion: graylane.dev/v1alpha1', 'kind: App', 'metadata: {name: shop}', 'spec:',
  ...router,
  '  services:', '  - name: web', '    process: {command: [node, web.js]}', '  - name: api', '    pathPrefix: /api', '    process: {command: [node, api.js]}',
  ...releases,
].join('\n');
const load = (text: string) => loadDocuments({ text, file: 'app.yaml' }, trafficLoadChecks()).errors.map(formatSpecError);

describe('what the data plane cannot do is refused at validate time', () => {
  it('refuses a release with pinning under router.type nginx, with the sentence', () => {
    const text = app(['  router: {type: nginx}'], ['  releases:', '  - name: shop', '    services: [web, api]', '    pinning: {cookie: graylane-release}', '    strategy: {canary: {steps: [{setWeight: 20}]}}']);
    expect(load(text)).toEqual([
      'app.yaml:13:5: spec.releases[0]: release shop (with pinning) cannot run under router.type nginx: an nginx configuration cannot issue or check signed version tokens, so it cannot pin a client to a release across services; use router.type builtin for an App with releases',
    ]);
  });

  it('takes the same release with the built-in router, and nginx without releases', () => {
    expect(load(app([], ['  releases:', '  - name: shop', '    services: [web, api]', '    pinning: {cookie: graylane-release}', '    strategy: {canary: {steps: [{setWeight: 20}]}}']))).toEqual([]);
    expect(load(app(['  router:', '    type: nginx', '    workers: 2', '    nginx: {includeFile: /etc/nginx/conf.d/graylane.conf, reloadCommand: [nginx, -s, reload]}']))).toEqual([]);
  });

  it('refuses the built-in router\'s client limits and trusted proxies under nginx, and an nginx block without nginx', () => {
    expect(load(app(['  router:', '    type: nginx', '    sendTimeout: 10s', '    trustedProxies: [10.0.0.1]']))).toEqual([
      'app.yaml:7:18: spec.router.sendTimeout: router.sendTimeout cannot run under router.type nginx: it is a limit of the built-in router, which nginx does not take from graylane; set it in nginx (client_header_timeout, client_body_timeout, send_timeout, client_max_body_size, worker_connections) or remove it',
      'app.yaml:8:5: spec.router.trustedProxies: router.trustedProxies cannot run under router.type nginx: graylane\'s nginx replaces X-Forwarded-For with the client address and does not read it from proxies; remove it, or use router.type builtin',
    ]);
    expect(load(app(['  router:', '    nginx: {includeFile: /x.conf, reloadCommand: [nginx, -s, reload]}']))).toEqual([
      'app.yaml:6:5: spec.router.nginx: router.nginx configures an nginx data plane: set router.type nginx, or remove it',
    ]);
  });

  it('refuses router.workerPriority for an nginx the user runs, and takes it for the nginx graylane runs', () => {
    expect(load(app(['  router:', '    type: nginx', '    workerPriority: -5', '    nginx: {includeFile: /x.conf, reloadCommand: [nginx, -s, reload]}']))).toEqual([
      'app.yaml:7:21: spec.router.workerPriority: router.workerPriority cannot be set for an nginx you run yourself (router.nginx): graylane writes only its http include; set worker_priority in your nginx.conf',
    ]);
    expect(load(app(['  router: {type: nginx, workerPriority: -5}']))).toEqual([]);
    expect(load(app(['  router: {workers: 2, workerPriority: -5}']))).toEqual([]);
  });

  it('refuses HTTPS settings under nginx: router.tls and a service\'s redirectToHttps', () => {
    const errors = load(app(['  router:', '    type: nginx', '    tls:', '      listen: 127.0.0.1:8443', '      certificates: [{hosts: [shop.example.com], certFile: c.crt, keyFile: c.key}]']).replace('    pathPrefix: /api', '    pathPrefix: /api\n    redirectToHttps: true'));
    expect(errors.some((e) => /spec\.router\.tls: router\.tls cannot run under router\.type nginx: graylane does not render TLS server blocks for nginx yet/.test(e))).toBe(true);
    expect(errors.some((e) => /spec\.services\[1\]\.redirectToHttps: service api's redirectToHttps cannot run under router\.type nginx/.test(e))).toBe(true);
  });

  it('refuses router.workers 0 under nginx, and a worker priority for a router inside the daemon', () => {
    expect(load(app(['  router: {type: nginx, workers: 0}']))).toEqual([
      'app.yaml:5:34: spec.router.workers: router.workers 0 means the built-in router inside the daemon; nginx needs at least one worker process: give a number, or remove it for one per core',
    ]);
    expect(load(app(['  router: {workers: 0, workerPriority: -5}']))).toEqual([
      'app.yaml:5:40: spec.router.workerPriority: router.workerPriority needs router workers: with router.workers 0 the router runs inside the daemon, whose priority every app process it starts would inherit',
    ]);
    expect(load(app(['  router: {workers: 0}']))).toEqual([]);
    expect(load(app(['  router: {workerPriority: -5}']))).toEqual([]);
  });
});
