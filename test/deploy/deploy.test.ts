import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import t from 'tap';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { loadInventory } from '../../scheduler/autoscaler/index.js';
import { REPO_ROOT } from '../helpers/env.js';

/**
 * deploy/ is validated, not just written: Kubernetes manifests against the
 * Kubernetes OpenAPI schemas (the validators the `kubernetes-models` package
 * generates from them), systemd units with `systemd-analyze verify`, the
 * Grafana dashboard's queries with `promtool`, the inventory with the
 * providers' own schema.
 */

const DEPLOY = join(REPO_ROOT, 'deploy');
const K8S = join(DEPLOY, 'kubernetes');

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

function manifests(): { file: string; doc: Manifest }[] {
  const out: { file: string; doc: Manifest }[] = [];
  for (const file of readdirSync(K8S).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const d of parseAllDocuments(readFileSync(join(K8S, file), 'utf8'))) {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0].message}`);
      const doc = d.toJS() as Manifest | null;
      if (doc) out.push({ file, doc });
    }
  }
  return out;
}

function validate(doc: Manifest): void {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc as never).validate();
}

/** The §10 metric names. */
const SPEC_METRICS = [
  'tokens_used_per_second',
  'yoloscale_tokens_charged_total',
  'yoloscale_tokens_refunded_total',
  'yoloscale_frames_total',
  'yoloscale_queue_depth',
  'yoloscale_batch_size',
  'yoloscale_inference_seconds',
  'yoloscale_request_seconds',
  'yoloscale_nodes',
  'yoloscale_forecast_tokens_per_second',
];

t.test('deploy - every Kubernetes manifest validates against the Kubernetes schemas', async (t) => {
  const all = manifests();
  t.ok(all.length >= 10, `${all.length} manifests`);
  for (const { file, doc } of all) {
    t.doesNotThrow(() => validate(doc), `${file}: ${doc.kind} ${doc.metadata.name}`);
  }
  const kinds = new Set(all.map(({ doc }) => doc.kind));
  for (const k of ['Deployment', 'Service', 'ConfigMap', 'HorizontalPodAutoscaler']) t.ok(kinds.has(k), `has a ${k}`);
  // The validators are live: a wrong type is refused.
  const hpa = structuredClone(all.find(({ doc }) => doc.kind === 'HorizontalPodAutoscaler')!.doc) as Manifest & { spec: { maxReplicas: unknown } };
  hpa.spec.maxReplicas = 'lots';
  t.throws(() => validate(hpa), /maxReplicas must be integer/);
  const dep = structuredClone(all.find(({ doc }) => doc.kind === 'Deployment')!.doc) as Manifest & { spec: { selector?: unknown } };
  delete dep.spec.selector;
  t.throws(() => validate(dep), /selector/);
});

t.test('deploy - the HPA scales the workers on tokens_used_per_second through the Prometheus adapter', async (t) => {
  const all = manifests().map((m) => m.doc);
  const hpa = all.find((d) => d.kind === 'HorizontalPodAutoscaler') as Manifest & {
    spec: {
      scaleTargetRef: { kind: string; name: string };
      metrics: { type: string; external?: { metric: { name: string }; target: { type: string; averageValue?: string } } }[];
      behavior: { scaleDown: { stabilizationWindowSeconds: number } };
    };
  };
  t.equal(hpa.apiVersion, 'autoscaling/v2');
  const m = hpa.spec.metrics[0];
  t.equal(m.type, 'External');
  t.equal(m.external?.metric.name, 'tokens_used_per_second');
  t.equal(m.external?.target.type, 'AverageValue');
  t.equal(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds, 300, 'the 300 s scale-down stabilisation the simulator models');
  const target = all.find((d) => d.kind === hpa.spec.scaleTargetRef.kind && d.metadata.name === hpa.spec.scaleTargetRef.name) as Manifest & {
    spec: { template: { spec: { containers: { args: string[] }[] } } };
  };
  t.ok(target, 'the scale target exists');
  t.same(target.spec.template.spec.containers[0].args, ['worker', '--node-id', '$(YOLOSCALE_NODE_ID)']);

  const adapter = all.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'prometheus-adapter') as Manifest & { data: Record<string, string> };
  const rules = parseYaml(adapter.data['config.yaml']) as {
    externalRules: { seriesQuery: string; name: { matches: string; as: string }; metricsQuery: string; resources: unknown }[];
  };
  const rule = rules.externalRules.find((r) => r.name.as === m.external?.metric.name);
  t.ok(rule, 'an adapter rule publishes the metric the HPA reads');
  t.match(rule?.seriesQuery, /^tokens_used_per_second\{/);
  t.match(rule?.metricsQuery, /<<\.Series>>\{<<\.LabelMatchers>>/);
  t.ok(new RegExp(rule!.name.matches).test('tokens_used_per_second'));
});

t.test('deploy - services select their deployments and pods get their config', async (t) => {
  const all = manifests().map((m) => m.doc);
  type Dep = Manifest & { spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: { envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[] }[] } } } };
  const deps = all.filter((d) => d.kind === 'Deployment') as Dep[];
  for (const svc of all.filter((d) => d.kind === 'Service') as (Manifest & { spec: { selector: Record<string, string> } })[]) {
    const hit = deps.find((d) => Object.entries(svc.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v));
    t.ok(hit, `service ${svc.metadata.name} selects deployment ${hit?.metadata.name}`);
  }
  for (const d of deps) {
    for (const ref of d.spec.template.spec.containers.flatMap((c) => c.envFrom ?? [])) {
      const name = ref.configMapRef?.name ?? ref.secretRef?.name;
      t.ok(all.some((x) => (x.kind === 'ConfigMap' || x.kind === 'Secret') && x.metadata.name === name), `${d.metadata.name} → ${name} exists`);
    }
  }
});

t.test('deploy - the Grafana dashboard parses and every panel queries §10 metrics', async (t) => {
  const dash = JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'yoloscale-dashboard.json'), 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  t.ok(dash.panels.length >= 8);
  const seen = new Set<string>();
  for (const p of dash.panels) {
    t.ok(p.targets.length > 0, `${p.title} has queries`);
    for (const q of p.targets) {
      const used = SPEC_METRICS.filter((m) => new RegExp(`\\b${m}(_bucket|_sum|_count)?\\b`).test(q.expr));
      t.ok(used.length > 0, `${p.title}: ${q.expr} queries a §10 metric`);
      used.forEach((m) => seen.add(m));
    }
  }
  t.same([...seen].sort(), [...SPEC_METRICS].sort(), 'every §10 metric is on the dashboard');
});

t.test('deploy - dashboard queries are valid PromQL (promtool)', { skip: existsSync('/usr/bin/promtool') ? undefined : 'promtool not installed' }, async (t) => {
  const dash = JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'yoloscale-dashboard.json'), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
  const dir = await mkdtemp(join(tmpdir(), 'yoloscale-promql-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const exprs = dash.panels.flatMap((p) => p.targets.map((q) => q.expr));
  const rules = { groups: [{ name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `yoloscale:dashboard_query_${i}`, expr })) }] };
  const file = join(dir, 'rules.yaml');
  await writeFile(file, JSON.stringify(rules));
  const r = spawnSync('/usr/bin/promtool', ['check', 'rules', file], { encoding: 'utf8' });
  t.equal(r.status, 0, `promtool check rules: ${r.stdout}${r.stderr}`);
  t.match(r.stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`));
  await writeFile(file, JSON.stringify({ groups: [{ name: 'bad', rules: [{ record: 'x:y', expr: 'sum by (model (tokens_used_per_second)' }] }] }));
  t.not(spawnSync('/usr/bin/promtool', ['check', 'rules', file]).status, 0, 'promtool refuses a broken query');
});

t.test('deploy - systemd units verify (systemd-analyze)', { skip: existsSync('/usr/bin/systemd-analyze') ? undefined : 'systemd-analyze not installed' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoloscale-units-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const units = readdirSync(join(DEPLOY, 'systemd')).filter((f) => f.endsWith('.service'));
  t.same(units.sort(), ['yoloscale-gateway.service', 'yoloscale-scheduler.service', 'yoloscale-worker@.service']);
  for (const u of units) {
    // Templates are verified as an instance.
    const name = u.replace('@.service', '@gpu-01.service');
    await copyFile(join(DEPLOY, 'systemd', u), join(dir, name));
    const r = spawnSync('/usr/bin/systemd-analyze', ['verify', join(dir, name)], { encoding: 'utf8', cwd: dir });
    t.equal(r.status, 0, `${u} verifies`);
    t.notMatch(`${r.stdout}${r.stderr}`, /Unknown key|ignoring|bad unit/i, `${u}: no warnings`);
    const text = readFileSync(join(DEPLOY, 'systemd', u), 'utf8');
    const role = u.replace(/^yoloscale-|@?\.service$/g, '');
    t.match(text, new RegExp(`^ExecStart=/usr/bin/node /opt/yoloscale/bin/yoloscale\\.js ${role}( --node-id %i)?$`, 'm'));
  }
  await writeFile(join(dir, 'broken.service'), '[Service]\nExecStrat=/usr/bin/node\n');
  t.not(spawnSync('/usr/bin/systemd-analyze', ['verify', join(dir, 'broken.service')]).status, 0, 'a broken unit is refused');
});

t.test('deploy - the inventory example loads with the providers schema', async (t) => {
  const hosts = loadInventory(join(DEPLOY, 'inventory.example.yaml'), { YOLOSCALE_BMC_PASSWORD: 'pw' });
  t.ok(hosts.length >= 3);
  t.ok(hosts.some((h) => h.bmc && h.bmc.password === 'pw' && h.type === 'gpu'), 'redfish hosts with BMCs');
  t.ok(hosts.some((h) => !h.bmc && h.type === 'cpu'), 'ssh hosts');
  t.match(hosts[0].startCommand, /yoloscale-worker@\{id\}/);
  // The example's start command names the unit of deploy/systemd.
  t.ok(existsSync(join(DEPLOY, 'systemd', 'yoloscale-worker@.service')));
});
