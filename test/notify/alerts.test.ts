// The operator alerts of deploy/prometheus/alerts.yml: valid rules (promtool check rules), each one
// driven true by input series (promtool test rules), and every metric they read is one our
// processes really register.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parse, stringify } from 'yaml';
import { GatewayMetrics } from '../../gateway/metrics.js';
import { SqliteLedger } from '../../ledger/index.js';
import { Notifier, SchedulerMetrics } from '../../scheduler/index.js';
import { REPO_ROOT } from '../helpers/env.js';

const RULES = join(REPO_ROOT, 'deploy', 'prometheus', 'alerts.yml');
const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => spawnSync(p, ['--version']).status === 0);
const skip = PROMTOOL ? false : 'promtool is not installed (apt-get install prometheus)';

interface Rule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

/** For each alert: series that make it fire, when to look, and the labels it then carries. */
const CASES: Record<string, { series: Record<string, string>; at: string; labels?: Record<string, string>; quietAt?: string }> = {
  YoloscaleQueueWaitHigh: {
    // Ten frames a minute, nine of them waiting 0.25–0.5 s: p95 ≈ 0.49 s.
    series: {
      'yoloscale_queue_wait_seconds_bucket{le="0.25"}': '0+1x30',
      'yoloscale_queue_wait_seconds_bucket{le="0.5"}': '0+10x30',
      'yoloscale_queue_wait_seconds_bucket{le="+Inf"}': '0+10x30',
    },
    at: '15m',
    quietAt: '4m',
  },
  YoloscaleNoCapacity: {
    series: { 'yoloscale_frames_total{model="yolov10n",outcome="no_capacity"}': '0+5x20', 'yoloscale_frames_total{model="yolox-nano",outcome="ok"}': '0+50x20' },
    at: '10m',
    labels: { model: 'yolov10n' },
  },
  YoloscaleNodesFailed: { series: { 'yoloscale_nodes{state="failed"}': '1x20', 'yoloscale_nodes{state="ready"}': '2x20' }, at: '10m', quietAt: '3m' },
  YoloscaleNodesStuckProvisioning: { series: { 'yoloscale_nodes{state="provisioning"}': '1x40' }, at: '30m', quietAt: '10m' },
  YoloscaleWorkersDying: { series: { yoloscale_frames_requeued_total: '0 0 0 3 3 3 3' }, at: '5m', quietAt: '2m' },
  YoloscaleLedgerUnavailable: { series: { 'yoloscale_refusals_total{tenant="unknown",reason="ledger_unavailable"}': '0+2x10' }, at: '5m' },
  YoloscaleTenantExhausted: {
    // acme is refused for an hour; brief only for ten minutes and must not page anyone.
    series: {
      'yoloscale_refusals_total{tenant="acme",reason="insufficient_tokens"}': '0+3x60',
      'yoloscale_refusals_total{tenant="brief",reason="insufficient_tokens"}': '0+3x10 30x50',
    },
    at: '45m',
    labels: { tenant: 'acme' },
    quietAt: '20m',
  },
  YoloscaleWebhooksFailing: { series: { 'yoloscale_notifications_total{event="budget_exhausted",outcome="failed"}': '0 0 1 1 1' }, at: '4m', labels: { event: 'budget_exhausted' } },
};

const render = (text: string, labels: Record<string, string>): string => text.replace(/\{\{\s*\$labels\.(\w+)\s*\}\}/g, (_, k: string) => labels[k] ?? '');

t.test('alerts - promtool check rules accepts the rule file, every alert names its runbook step', { skip }, async (t) => {
  const r = spawnSync(PROMTOOL!, ['check', 'rules', RULES], { encoding: 'utf8' });
  t.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  const runbook = readFileSync(join(REPO_ROOT, 'deploy', 'prometheus', 'RUNBOOK.md'), 'utf8');
  for (const rule of rules) {
    t.match(rule.annotations?.summary, /runbook step \d+/, `${rule.alert} names a runbook step`);
    const step = /runbook step (\d+)/.exec(rule.annotations?.summary ?? '')?.[1];
    t.match(runbook, new RegExp(`^## ${step}\\. `, 'm'), `runbook has step ${step}`);
    t.match(runbook, new RegExp(`\`${rule.alert}\``), `runbook names ${rule.alert}`);
  }
  t.same(Object.keys(CASES).sort(), rules.map((r) => r.alert).sort(), 'every alert has a firing case below');
});

t.test('alerts - promtool test rules: each alert fires on its input series (and not before its hold time)', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ys-alerts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tests = rules.map((rule) => {
    const c = CASES[rule.alert];
    const labels = { ...(rule.labels ?? {}), ...(c.labels ?? {}) };
    const annotations = Object.fromEntries(Object.entries(rule.annotations ?? {}).map(([k, v]) => [k, render(v, labels)]));
    return {
      name: rule.alert,
      interval: '1m',
      input_series: Object.entries(c.series).map(([series, values]) => ({ series, values })),
      alert_rule_test: [
        { eval_time: c.at, alertname: rule.alert, exp_alerts: [{ exp_labels: { alertname: rule.alert, ...labels }, exp_annotations: annotations }] },
        ...(c.quietAt ? [{ eval_time: c.quietAt, alertname: rule.alert, exp_alerts: [] }] : []),
      ],
    };
  });
  const file = join(dir, 'alerts.test.yml');
  writeFileSync(file, stringify({ rule_files: [RULES], evaluation_interval: '1m', tests }));
  const r = spawnSync(PROMTOOL!, ['test', 'rules', file], { encoding: 'utf8' });
  t.equal(r.status, 0, `${r.stdout}${r.stderr}`);

  // The check can fail: a case whose series stay quiet makes promtool refuse.
  const broken = structuredClone(tests);
  broken[0].input_series = broken[0].input_series.map((s) => ({ ...s, values: '0x30' }));
  writeFileSync(file, stringify({ rule_files: [RULES], evaluation_interval: '1m', tests: broken }));
  t.not(spawnSync(PROMTOOL!, ['test', 'rules', file]).status, 0, 'promtool reports an alert that does not fire');
});

t.test('alerts - every metric the rules read is registered by the scheduler, gateway or notifier', async (t) => {
  const names = new Set<string>();
  const scheduler = new Registry();
  new SchedulerMetrics(scheduler, { queueDepth: () => 0, nodeCounts: () => ({ provisioning: 0, booting: 0, ready: 0, cordoned: 0, draining: 0, retired: 0, failed: 0 }) });
  const dir = mkdtempSync(join(tmpdir(), 'ys-alerts-ledger-'));
  const ledger = SqliteLedger.open({ path: join(dir, 'l.sqlite') });
  t.teardown(async () => {
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });
  new Notifier({ ledger, metricsRegistry: scheduler });
  const gateway = new Registry();
  new GatewayMetrics(gateway);
  for (const reg of [scheduler, gateway]) {
    for (const m of await reg.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
    }
  }
  const used = new Set(rules.flatMap((r) => r.expr.match(/\b(?:yoloscale_[a-z_]+|tokens_used_per_second)\b/g) ?? []));
  t.ok(used.size >= 6, `rules read ${[...used].join(', ')}`);
  for (const name of used) t.ok(names.has(name), `${name} is exported`);
});
