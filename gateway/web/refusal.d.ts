// Types of refusal.js (plain browser JavaScript, also imported by the Node tests).

/** What the page shows for an exhausted budget. */
export interface RefusalHelp {
  title: string;
  /** When the hourly budget comes back, as a sentence. */
  reset: string;
  /** The top-up link (http(s) only), or null. */
  topupUrl: string | null;
  /** Whether the best-effort lane serves the tenant, as a sentence. */
  lane: string;
}

/** Seconds as "12 min 5 s" / "40 s". */
export function formatDuration(totalS: number): string;
/** The help for an `insufficient_tokens` error object, or null for other errors. */
export function refusalHelp(err: unknown): RefusalHelp | null;
/** Fills `el` with the help (text nodes and one link). */
export function renderRefusal(el: Element, help: RefusalHelp, prefix?: string): void;
