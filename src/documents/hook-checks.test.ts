import { describe, expect, it } from 'vitest';
import { loadDocuments } from './index.js';

const app = (service: string) => `apiVersion: graylane.dev/v1alpha1
kind: App
metadata: {name: shop}
spec:
  services:
${service}`;
const web = (extra: string) => `  - name: web
    process: {command: [node, server.js]}
${extra}`;
const rollout = (hooks: string, strategy = 'canary: {steps: [{setWeight: 20}]}') => `apiVersion: graylane.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "web:v1"}]}
  strategy: {${strategy}}
  hooks:
${hooks}`;

const problems = (text: string) => loadDocuments({ text, file: 'f.yaml' }).errors.map((e) => `${e.path}: ${e.reason}`);

describe('hooks at load time', () => {
  it('accepts command hooks in an App and command or Job hooks in a Rollout', () => {
    expect(problems(app(web(`    strategy: {canary: {steps: [{setWeight: 20}]}}
    hooks:
      preRollout: {command: [./migrate, expand], env: {DB: shop}, timeoutSeconds: 120}
      prePromotion: {command: [./check]}
      postPromotion: {command: [./migrate, contract]}`)))).toEqual([]);
    expect(problems(rollout(`    preRollout: {command: [./migrate, expand]}
    postPromotion: {job: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: "m:1"}]}}}}}`))).toEqual([]);
  });

  it('refuses a hook with neither or both of command and job', () => {
    expect(problems(rollout('    preRollout: {timeoutSeconds: 5}'))).toEqual(['spec.hooks.preRollout: a hook has exactly one of command, job; found none']);
    expect(problems(rollout('    preRollout: {command: [x], job: {spec: {}}}'))).toEqual(['spec.hooks.preRollout: a hook has exactly one of command, job; found both']);
  });

  it('refuses a Job hook on a single host and env beside a Job', () => {
    expect(problems(app(web('    hooks: {preRollout: {job: {spec: {}}}}')))).toEqual([
      'spec.services[0].hooks.preRollout.job: a Job runs on Kubernetes only; on a single host give the hook a command',
    ]);
    expect(problems(rollout('    preRollout: {job: {spec: {}}, env: {A: b}}'))).toEqual([
      "spec.hooks.preRollout.env: env is for command; put the environment in the Job's containers",
    ]);
  });

  it('refuses prePromotion on a rolling update, which has no last switch to gate', () => {
    const [reason] = problems(app(web('    hooks: {prePromotion: {command: [./check]}}')));
    expect(reason).toMatch(/^spec\.services\[0\]\.hooks\.prePromotion: a rolling update has no last switch to gate/);
    expect(problems(rollout('    prePromotion: {command: [./check]}', 'blueGreen: {activeService: web}'))).toEqual([]);
  });

  it('refuses hooks on a targets service and unknown hook names', () => {
    expect(problems(app(`  - name: api
    targets: ["127.0.0.1:9"]
    hooks: {preRollout: {command: [x]}}`))).toEqual(['spec.services[0].hooks: not allowed on a targets service: graylane does not roll it out']);
    expect(problems(rollout('    preDeploy: {command: [x]}'))[0]).toMatch(/^spec\.hooks\.preDeploy: /);
  });
});
