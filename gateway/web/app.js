// yoloscale live page: trades the key for a stream ticket, streams webcam or
// video-file frames over the WebSocket at the chosen rate and size, and draws
// the boxes that come back. Plain browser JavaScript, no build step needed.

import { refusalHelp, renderRefusal } from './refusal.js';

const $ = (id) => document.getElementById(id);
const els = {
  form: $('controls'), key: $('key'), model: $('model'), file: $('file'), fps: $('fps'), resolution: $('resolution'),
  conf: $('conf'), start: $('start'), stop: $('stop'), video: $('video'), overlay: $('overlay'), status: $('status'),
  statFps: $('stat-fps'), statLatency: $('stat-latency'), statSent: $('stat-sent'), statResults: $('stat-results'),
  statDropped: $('stat-dropped'), statObjects: $('stat-objects'), statCharged: $('stat-charged'),
  statBalance: $('stat-balance'), statLane: $('stat-lane'), error: $('error'),
};

const CLOSE_REASONS = {
  1006: 'connection lost',
  1008: 'refused by policy',
  1009: 'frame too big',
  1011: 'server error',
  1013: 'server busy, try again later',
  4001: 'authentication failed',
  4003: 'model not in your plan',
  4029: 'tokens exhausted',
};

/** Live counters; also read by the browser test. */
const stats = {
  sent: 0, results: 0, dropped: 0, errors: 0, charged: 0, balance: null, lane: null,
  objects: 0, boxesDrawn: 0, latencyMs: null, fps: 0, lastClasses: [], closeCode: null, lastError: null, refusal: null,
};
window.yoloscale = { stats };

let ws = null;
let timer = null;
let stream = null;
let sentAt = new Map();
let sentSize = new Map();
let resultTimes = [];
let encoding = false;
let lastError = null;
const grab = document.createElement('canvas');

function showError(message) {
  stats.lastError = message;
  els.error.textContent = message;
  els.error.hidden = false;
}

/** Shows what to do about an exhausted budget instead of a bare error; false for other errors. */
function showRefusal(err, prefix = '') {
  const help = refusalHelp(err);
  if (!help) return false;
  stats.refusal = help;
  stats.lastError = `${err.code}: ${err.message}`;
  renderRefusal(els.error, help, prefix);
  return true;
}

function clearError() {
  els.error.hidden = true;
  els.error.textContent = '';
}

function setStatus(text) {
  els.status.textContent = text;
}

function render() {
  els.statSent.textContent = String(stats.sent);
  els.statResults.textContent = String(stats.results);
  els.statDropped.textContent = String(stats.dropped);
  els.statObjects.textContent = String(stats.objects);
  els.statCharged.textContent = String(stats.charged);
  els.statBalance.textContent = stats.balance === null ? '–' : String(stats.balance);
  els.statLane.textContent = stats.lane ?? '–';
  els.statLatency.textContent = stats.latencyMs === null ? '–' : `${Math.round(stats.latencyMs)} ms`;
  els.statFps.textContent = stats.fps.toFixed(1);
}

function authHeaders() {
  return { 'X-Auth-Token': els.key.value.trim() };
}

async function errorText(res) {
  try {
    const body = await res.json();
    if (body && body.error) return `${body.error.code}: ${body.error.message}`;
  } catch {
    // not JSON
  }
  return `HTTP ${res.status}`;
}

async function loadModels() {
  try {
    const res = await fetch('/v1/models');
    if (!res.ok) throw new Error(await errorText(res));
    const { models } = await res.json();
    els.model.replaceChildren(
      ...models.map((m) => {
        const o = document.createElement('option');
        o.value = m.id;
        o.textContent = `${m.id} (${m.tokensPerFrame} token${m.tokensPerFrame === 1 ? '' : 's'}/frame)`;
        if (m.default) o.selected = true;
        return o;
      }),
    );
    if (models.length === 0) showError('The cluster offers no models right now.');
  } catch (err) {
    showError(`Could not load the model list: ${err.message}`);
  }
}

async function openSource() {
  const width = Number(els.resolution.value);
  const useFile = document.querySelector('input[name="source"]:checked').value === 'file';
  if (useFile) {
    const file = els.file.files && els.file.files[0];
    if (!file) throw new Error('Choose a video file first.');
    els.video.srcObject = null;
    els.video.src = URL.createObjectURL(file);
    els.video.loop = true;
  } else {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error('This browser cannot open a camera here (HTTPS or localhost is needed).');
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: width } }, audio: false });
    els.video.srcObject = stream;
  }
  await els.video.play();
  if (!els.video.videoWidth) await new Promise((resolve) => els.video.addEventListener('loadedmetadata', resolve, { once: true }));
}

function closeSource() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  els.video.pause();
  if (els.video.src && els.video.src.startsWith('blob:')) URL.revokeObjectURL(els.video.src);
  els.video.removeAttribute('src');
  els.video.srcObject = null;
}

function sendFrame() {
  if (!ws || ws.readyState !== WebSocket.OPEN || encoding) return;
  if (ws.bufferedAmount > 2 * 1024 * 1024) return; // the network is behind: skip this tick
  const vw = els.video.videoWidth;
  const vh = els.video.videoHeight;
  if (!vw || !vh) return;
  const width = Math.min(Number(els.resolution.value), vw);
  const height = Math.round((vh * width) / vw);
  grab.width = width;
  grab.height = height;
  grab.getContext('2d').drawImage(els.video, 0, 0, width, height);
  encoding = true;
  grab.toBlob(
    (blob) => {
      encoding = false;
      if (!blob || !ws || ws.readyState !== WebSocket.OPEN) return;
      stats.sent += 1;
      sentAt.set(stats.sent, performance.now());
      sentSize.set(stats.sent, { width, height });
      ws.send(blob);
      render();
    },
    'image/jpeg',
    0.8,
  );
}

function forget(frame) {
  sentAt.delete(frame);
  sentSize.delete(frame);
}

function drawBoxes(msg) {
  const ctx = els.overlay.getContext('2d');
  const rect = els.video.getBoundingClientRect();
  els.overlay.width = Math.max(1, Math.round(rect.width));
  els.overlay.height = Math.max(1, Math.round(rect.height));
  ctx.clearRect(0, 0, els.overlay.width, els.overlay.height);
  const sx = els.overlay.width / msg.image.width;
  const sy = els.overlay.height / msg.image.height;
  ctx.lineWidth = 2;
  ctx.font = '13px system-ui, sans-serif';
  ctx.textBaseline = 'top';
  for (const d of msg.detections) {
    const hue = (d.classId * 47) % 360;
    const x = d.box.x1 * sx;
    const y = d.box.y1 * sy;
    const w = (d.box.x2 - d.box.x1) * sx;
    const h = (d.box.y2 - d.box.y1) * sy;
    ctx.strokeStyle = `hsl(${hue} 90% 50%)`;
    ctx.strokeRect(x, y, w, h);
    const label = `${d.class} ${(d.score * 100).toFixed(0)}%`;
    const tw = ctx.measureText(label).width + 6;
    ctx.fillStyle = `hsl(${hue} 90% 40%)`;
    ctx.fillRect(x, Math.max(0, y - 17), tw, 17);
    ctx.fillStyle = 'white';
    ctx.fillText(label, x + 3, Math.max(0, y - 16));
    stats.boxesDrawn += 1;
  }
}

function onMessage(event) {
  let msg;
  try {
    msg = JSON.parse(event.data);
  } catch {
    return;
  }
  const now = performance.now();
  if (msg.type === 'detections') {
    const t0 = sentAt.get(msg.frame);
    if (t0 !== undefined) stats.latencyMs = now - t0;
    forget(msg.frame);
    stats.results += 1;
    stats.objects = msg.detections.length;
    stats.lastClasses = msg.detections.map((d) => d.class);
    if (msg.tokens) {
      stats.charged += msg.tokens.charged;
      stats.balance = msg.tokens.remaining;
      stats.lane = msg.tokens.lane;
    }
    // Results per second over the last ten results (or the last 3 s when results come faster).
    resultTimes.push(now);
    while (resultTimes.length > 10 || (resultTimes.length > 2 && now - resultTimes[0] > 3000)) resultTimes.shift();
    stats.fps = resultTimes.length > 1 ? ((resultTimes.length - 1) * 1000) / (now - resultTimes[0]) : 0;
    drawBoxes(msg);
  } else if (msg.type === 'dropped') {
    forget(msg.frame);
    stats.dropped += 1;
  } else if (msg.type === 'error') {
    if (msg.frame !== undefined) forget(msg.frame);
    stats.errors += 1;
    lastError = msg;
    if (!showRefusal(msg)) showError(`${msg.code}: ${msg.message}${msg.retryAfterS ? ` (retry in ${msg.retryAfterS} s)` : ''}`);
  }
  render();
}

function onClose(event) {
  stats.closeCode = event.code;
  const known = CLOSE_REASONS[event.code];
  if (event.code !== 1000 && event.code !== 1005) {
    const detail = lastError ? ` — ${lastError.code}: ${lastError.message}` : event.reason ? ` — ${event.reason}` : '';
    if (!showRefusal(lastError, `Stream closed (${event.code}).`)) showError(`Stream closed (${event.code}${known ? `, ${known}` : ''})${detail}`);
  }
  stop(false);
}

async function start(event) {
  event.preventDefault();
  clearError();
  if (!els.key.value.trim()) {
    showError('Enter your API key.');
    return;
  }
  els.start.disabled = true;
  setStatus('connecting…');
  try {
    const res = await fetch('/v1/stream-tickets', { method: 'POST', headers: authHeaders() });
    if (!res.ok) throw new Error(`Could not get a stream ticket: ${await errorText(res)}`);
    const { ticket } = await res.json();
    await openSource();
    Object.assign(stats, { sent: 0, results: 0, dropped: 0, errors: 0, charged: 0, objects: 0, latencyMs: null, fps: 0, closeCode: null });
    sentAt = new Map();
    sentSize = new Map();
    resultTimes = [];
    lastError = null;
    const params = new URLSearchParams({ ticket, model: els.model.value, conf: els.conf.value || '0.25' });
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${proto}//${location.host}/v1/stream?${params}`);
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('message', onMessage);
    ws.addEventListener('close', onClose);
    ws.addEventListener('open', () => {
      setStatus('streaming');
      els.stop.disabled = false;
      timer = setInterval(sendFrame, 1000 / Number(els.fps.value));
    });
  } catch (err) {
    showError(err.message);
    stop(true);
  }
}

function stop(closeSocket = true) {
  if (timer) clearInterval(timer);
  timer = null;
  if (ws && closeSocket && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'stopped');
  ws = null;
  closeSource();
  els.start.disabled = false;
  els.stop.disabled = true;
  setStatus('idle');
  render();
}

for (const radio of document.querySelectorAll('input[name="source"]')) {
  radio.addEventListener('change', () => {
    els.file.disabled = document.querySelector('input[name="source"]:checked').value !== 'file';
  });
}
els.form.addEventListener('submit', start);
els.stop.addEventListener('click', () => stop(true));
els.fps.addEventListener('change', () => {
  if (timer) {
    clearInterval(timer);
    timer = setInterval(sendFrame, 1000 / Number(els.fps.value));
  }
});
render();
loadModels();
