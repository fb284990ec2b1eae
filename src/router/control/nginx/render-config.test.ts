import { describe, expect, it } from 'vitest';
import type { ServiceRoute } from '../../contract/index.js';
import { renderHttpConfig, renderMainConfig } from './render-config.js';

const base: ServiceRoute = {
  name: 'web', pathPrefix: '/', stable: 'v1', canary: 'v2', canaryWeight: 25,
  revisions: { v1: { instances: [{ id: 'a', address: '127.0.0.1:1', ready: true }] }, v2: { instances: [{ id: 'b', address: '127.0.0.1:2', ready: true }, { id: 'c', address: '127.0.0.1:3', ready: true, draining: true }] } },
};
const opts = { listen: '127.0.0.1:8080', accessLog: '/s/nginx/access.log' };

describe('rendering a route table as nginx configuration', () => {
  it('splits by weight per request, keeps upstreams with keep-alive, and leaves draining instances out', () => {
    const { http } = renderHttpConfig({ services: [base] }, opts);
    expect(http).toContain('split_clients "${request_id}" $gl_s0_w {\n  25% "v2";\n  * "v1";\n}');
    expect(http).toContain('server 127.0.0.1:2 max_fails=0;');
    expect(http).not.toContain('127.0.0.1:3');
    expect(http).toMatch(/keepalive 32;/);
    expect(http).toContain('access_log "/s/nginx/access.log" graylane_log buffer=64k flush=200ms;');
  });

  it('renders the same instances as the same text in whatever order the table lists them', () => {
    const instances = [{ id: 'b', address: '127.0.0.1:20', ready: true }, { id: 'd', address: '127.0.0.1:3', ready: true }];
    const listed = (order: typeof instances) => renderHttpConfig({ services: [{ ...base, revisions: { ...base.revisions, v2: { instances: order } } }] }, opts).http;
    expect(listed([...instances].reverse())).toBe(listed(instances));
    expect(listed(instances)).toContain('  server 127.0.0.1:20 max_fails=0;\n  server 127.0.0.1:3 max_fails=0;\n');
  });

  it('gives a service that one revision takes whole a location with nothing left to decide per request', () => {
    const steady = renderHttpConfig({ services: [{ ...base, canaryWeight: 0 }] }, opts).http;
    expect(steady).toContain(`log_format graylane_s0 'gl1|web|v1|v1|$status|$request_time|$upstream_response_time|request';`);
    expect(steady).toContain('    access_log "/s/nginx/access.log" graylane_s0 buffer=64k flush=200ms;\n    proxy_pass http://gl_s0_r0;\n');
    expect(steady).not.toMatch(/\$gl_s0_|split_clients|if \(|Set-Cookie/);
    expect(steady).toMatch(/upstream gl_s0_r0 \{[^}]*keepalive_requests 100000;/);
    // The canary at 100% without a ready instance: stable serves, the canary was picked.
    const fallback = { ...base, canaryWeight: 100, revisions: { ...base.revisions, v2: { instances: [] } } };
    expect(renderHttpConfig({ services: [fallback] }, opts).http).toContain(`'gl1|web|v1|v2|$status|`);
    const none = { ...base, canaryWeight: 0, revisions: { v1: { instances: [] } } };
    expect(renderHttpConfig({ services: [none] }, opts).http).toMatch(/access_log [^\n]*\n {4}add_header X-Graylane-Error no-ready-instance always;[^\n]*return 503;/);
    // Mid-rollout the revision is decided per request, as before.
    expect(renderHttpConfig({ services: [base] }, opts).http).toContain('proxy_pass http://$gl_s0_up;');
  });

  it('refuses names and conditions nginx cannot carry, with the field', () => {
    expect(() => renderHttpConfig({ services: [{ ...base, name: 'we b' }] }, opts)).toThrow(expect.objectContaining({ code: 'UnsupportedName', message: expect.stringContaining('the service name "we b"') }));
    expect(() => renderHttpConfig({ services: [{ ...base, matches: [{ match: [{ headerName: 'x_y' }], revision: 'v2' }] }] }, opts)).toThrow(expect.objectContaining({ code: 'UnsupportedName' }));
    expect(() => renderHttpConfig({ services: [{ ...base, matches: [{ match: [{}], revision: 'v2' }] }] }, opts)).toThrow(expect.objectContaining({ code: 'UnsupportedMatch', message: 'services[0].matches[0].match[0]: a condition needs headerName or cookieName' }));
    expect(() => renderHttpConfig({ services: [{ ...base, matches: [{ match: [{ headerName: 'x', headerValue: {} }], revision: 'v2' }] }] }, opts)).toThrow(expect.objectContaining({ code: 'UnsupportedMatch', message: expect.stringContaining('services[0].matches[0].match[0].headerValue') }));
  });

  it('runs nginx in the foreground with the drain deadline as worker_shutdown_timeout', () => {
    const conf = renderMainConfig({ prefixDir: '/s/nginx', workers: 'auto', workerShutdownTimeoutMs: 2500, httpInclude: '/s/nginx/routes.conf' });
    expect(conf).toContain('daemon off;');
    expect(conf).toContain('worker_processes auto;');
    expect(conf).toContain('worker_shutdown_timeout 3s;');
    expect(conf).toContain('include /s/nginx/routes.conf;');
    expect(conf).not.toContain('worker_priority');
    expect(conf).not.toMatch(/^user /m);
  });

  it('gives nginx\'s workers the scheduling priority asked for (worker_priority)', () => {
    const conf = renderMainConfig({ prefixDir: '/s/nginx', workers: 2, workerPriority: -5, workerShutdownTimeoutMs: 2500, httpInclude: '/s/nginx/routes.conf' });
    expect(conf).toContain('worker_processes 2;\nworker_priority -5;');
  });

  it('runs the workers as the user asked for (user)', () => {
    const conf = renderMainConfig({ prefixDir: '/root/app/.graylane/nginx', workers: 2, workerUser: 'root', workerShutdownTimeoutMs: 2500, httpInclude: '/s/nginx/routes.conf' });
    expect(conf).toMatch(/^user root;$/m);
  });
});
