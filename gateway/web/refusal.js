// What the page shows when tokens run out (issue #9): the refusal's
// self-service fields (reset time, top-up link, best-effort lane) as text and
// a link instead of a bare error. DOM-free except `renderRefusal`, so the text
// is tested in Node.

/** Seconds as "12 min 5 s" / "40 s". */
export function formatDuration(totalS) {
  const s = Math.max(0, Math.round(Number(totalS) || 0));
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}

/**
 * The lines to show for an `insufficient_tokens` error object (`body.error` of
 * a 429, or a WebSocket `{"type":"error",...}` message), or `null` for other errors.
 */
export function refusalHelp(err) {
  if (!err || err.code !== 'insufficient_tokens') return null;
  const resetInS = err.resetInS ?? err.retryAfterS;
  const at = err.resetAt ? new Date(err.resetAt) : null;
  const clock = at && !Number.isNaN(at.getTime()) ? `${at.toISOString().slice(11, 16)} UTC` : 'the next hour';
  return {
    title: 'Tokens exhausted (insufficient_tokens)',
    reset: `Your hourly budget comes back at ${clock}${resetInS !== undefined ? ` (in ${formatDuration(resetInS)})` : ''}.`,
    topupUrl: typeof err.topupUrl === 'string' && /^https?:\/\//.test(err.topupUrl) ? err.topupUrl : null,
    lane: err.bestEffortAvailable
      ? 'Your plan keeps serving frames from idle capacity (best-effort lane), uncharged.'
      : 'Your plan has no best-effort lane: a plan with overflow "best-effort" would keep serving you from idle capacity.',
  };
}

/** Fills `el` with the help for `err` (text nodes and one link; never HTML from the server). */
export function renderRefusal(el, help, prefix = '') {
  const doc = el.ownerDocument;
  const lines = [prefix ? `${prefix} ${help.title}.` : `${help.title}.`, help.reset, help.lane];
  el.replaceChildren();
  for (const line of lines) {
    el.append(doc.createTextNode(line), doc.createElement('br'));
  }
  if (help.topupUrl) {
    const a = doc.createElement('a');
    a.href = help.topupUrl;
    a.target = '_blank';
    a.rel = 'noopener';
    a.id = 'topup-link';
    a.textContent = 'Buy tokens now';
    el.append(a);
  }
  el.hidden = false;
}
