import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { REPO_ROOT, VIDEO_DIR } from '../helpers/env.js';
import { Registry } from 'prom-client';
import { buildApp } from '../../gateway/index.js';
import { EngineBackend, gatewayApp, ledgerWithTenant, listen, netCharged, sharedEngine } from '../gateway/helpers.js';

// Real models on a shared 2-core machine: allow for a loaded host (typical run well under a minute).
t.setTimeout(300_000);

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(REPO_ROOT, 'test', 'artifacts');

interface PageStats {
  sent: number;
  results: number;
  dropped: number;
  charged: number;
  balance: number | null;
  boxesDrawn: number;
  fps: number;
  latencyMs: number | null;
  lastClasses: string[];
  closeCode: number | null;
  lastError: string | null;
}

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;

/** The page's live counters (`window.yoloscale.stats`), read in the browser. */
const STATS = '({ ...window.yoloscale.stats })';

async function pageStats(page: Page): Promise<PageStats> {
  return (await page.evaluate(STATS)) as PageStats;
}

{
  t.test('web page - streams the fake camera, draws boxes and moves the counters', { skip }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ys-browser-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const cam = join(dir, 'cam.y4m');
    // People walk through the room from 25 s on (../shared/video/README.md).
    execFileSync('ffmpeg', ['-v', 'error', '-ss', '26', '-i', join(VIDEO_DIR, 'one-by-one-person-detection.mp4'), '-t', '4', '-vf', 'scale=640:360', '-pix_fmt', 'yuv420p', cam], { stdio: 'ignore' });

    const engine = await sharedEngine(t);
    const backend = new EngineBackend(engine);
    const { ledger, key, tenantId } = await ledgerWithTenant(t);
    const { app } = await gatewayApp(t, backend, ledger);
    const base = await listen(app);

    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-video-capture=${cam}`,
      ],
    });
    t.teardown(() => browser.close());
    // The page's CSP forbids eval; Playwright's string predicates need it, so the test context bypasses CSP.
    const page: Page = await browser.newPage({ viewport: { width: 1200, height: 800 }, bypassCSP: true });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    await page.goto(base);
    await page.waitForSelector('#model option[value="yolox-nano"]', { state: 'attached' });
    t.equal(await page.inputValue('#model'), 'yolox-nano', 'the model picker is filled from /v1/models');

    // A wrong key is reported on the page, not swallowed.
    await page.fill('#key', 'ys_wrong');
    await page.click('#start');
    await page.waitForSelector('#error:not([hidden])');
    t.match(await page.textContent('#error'), /unauthorized/, 'a refused key shows its error');

    await page.fill('#key', key);
    await page.selectOption('#fps', '5');
    await page.selectOption('#resolution', '640');
    await page.click('#start');
    await page.waitForFunction(
      '(() => { const s = window.yoloscale.stats; return s.results >= 6 && s.boxesDrawn > 0 && s.lastClasses.includes("person"); })()',
      undefined,
      { timeout: 90_000, polling: 200 },
    );
    const stats = await pageStats(page);
    t.ok(stats.results >= 6, `results arrive (${stats.results} of ${stats.sent} sent)`);
    t.ok(stats.lastClasses.includes('person'), `a person is detected in the camera frames (${stats.lastClasses.join(', ')})`);
    t.ok(stats.charged >= stats.results, `tokens charged move (${stats.charged})`);
    t.ok(stats.balance !== null && stats.balance > 0, `balance shown (${stats.balance})`);
    t.ok(stats.latencyMs !== null && stats.latencyMs > 0, `latency measured (${Math.round(stats.latencyMs ?? 0)} ms)`);
    t.ok(stats.fps > 0, `fps measured (${stats.fps.toFixed(1)})`);
    t.equal(await page.isHidden('#error'), true, 'no error shown while streaming');
    t.ok(Number(await page.textContent('#stat-results')) >= 6, 'the results counter on the page moves');
    t.ok(Number(await page.textContent('#stat-charged')) >= 6, 'the tokens counter on the page moves');
    t.match(await page.textContent('#stat-latency'), /^\d+ ms$/);

    // Boxes are drawn on the overlay: count painted pixels.
    const painted = (await page.evaluate(`(() => {
      const c = document.getElementById('overlay');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return { n, w: c.width, h: c.height };
    })()`)) as { n: number; w: number; h: number };
    t.ok(painted.n > 200, `box outlines painted on the overlay (${painted.n} pixels of ${painted.w}x${painted.h})`);
    const videoPlaying = await page.evaluate(`(() => {
      const v = document.getElementById('video');
      return v.videoWidth > 0 && !v.paused;
    })()`);
    t.ok(videoPlaying, 'the camera video plays under the overlay');

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'browser-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.ok(existsSync(shot), `screenshot saved to ${shot}`);

    await page.click('#stop');
    await page.waitForFunction(`document.getElementById('status').textContent === 'idle'`);
    const final = await pageStats(page);
    await new Promise((r) => setTimeout(r, 500));
    const { net } = await netCharged(ledger, tenantId);
    t.ok(net >= final.results && net <= final.results + 2, `ledger net charge ${net} matches results shown (${final.results}, at most the 2 frames in flight more)`);
    t.same(pageErrors, [], 'no script errors on the page');
  });

  t.test('web page - exhausted tokens (4029) are shown with their reason', { skip }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ys-browser-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const cam = join(dir, 'cam.y4m');
    execFileSync('ffmpeg', ['-v', 'error', '-ss', '26', '-i', join(VIDEO_DIR, 'one-by-one-person-detection.mp4'), '-t', '1', '-vf', 'scale=320:180', '-pix_fmt', 'yuv420p', cam], { stdio: 'ignore' });
    const engine = await sharedEngine(t);
    const { ledger, key, tenantId } = await ledgerWithTenant(t, { tokensPerHour: 3 });
    const app = await buildApp({ backend: new EngineBackend(engine), ledger, registry: new Registry(), topupUrl: 'https://billing.example/topup/{tenant}' });
    t.teardown(() => app.close());
    const base = await listen(app);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${cam}`],
    });
    t.teardown(() => browser.close());
    const page = await browser.newPage({ bypassCSP: true });
    await page.goto(base);
    await page.waitForSelector('#model option[value="yolox-nano"]', { state: 'attached' });
    await page.fill('#key', key);
    await page.selectOption('#fps', '5');
    await page.selectOption('#resolution', '320');
    await page.click('#start');
    await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    await page.waitForFunction('window.yoloscale.stats.closeCode !== null', undefined, { timeout: 30_000 });
    const text = (await page.textContent('#error')) ?? '';
    t.match(text, /4029/, `close code shown: ${text}`);
    t.match(text, /insufficient_tokens/, 'with its reason');
    // Issue #9: what to do next instead of a bare error.
    t.match(text, /comes back at \d\d:00 UTC \(in \d+ (min \d+ )?s\)/, 'when the budget resets');
    t.match(text, /no best-effort lane/, 'whether the best-effort lane is available');
    t.equal(await page.getAttribute('#topup-link', 'href'), `https://billing.example/topup/${tenantId}`, 'the top-up link');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'browser-refusal.png'), fullPage: true });
    t.equal(await page.textContent('#status'), 'idle', 'the page stops streaming');
    t.equal(await page.isDisabled('#start'), false, 'and can start again');
  });
}
