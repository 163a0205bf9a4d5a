import { ErrorCode, YoloscaleError } from '../protocol/index.js';

/** Options of {@link AdminClient}. */
export interface AdminClientOptions {
  /** Admin API base URL, e.g. `http://127.0.0.1:8081`. */
  baseUrl: string;
  token: string | undefined;
  timeoutMs?: number;
}

/**
 * Thin client of the scheduler's admin API (SPEC §6). Errors become one clear
 * message: unreachable scheduler, bad token, or the API's own error body.
 */
export class AdminClient {
  readonly #base: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  constructor(opts: AdminClientOptions) {
    this.#base = opts.baseUrl.replace(/\/+$/, '');
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Sends one request and returns the parsed JSON body. */
  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.#base}${path}`, {
        method,
        headers: {
          ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new YoloscaleError(ErrorCode.internal, `cannot reach the scheduler at ${this.#base} (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message})`);
    }
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      // non-JSON body: reported below
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      if (res.status === 401 || res.status === 403) {
        throw new YoloscaleError(ErrorCode.unauthorized, `the scheduler refused the admin token (HTTP ${res.status}); pass --token or set YOLOSCALE_ADMIN_TOKEN`);
      }
      const code = (Object.values(ErrorCode) as string[]).includes(e?.code ?? '') ? (e?.code as ErrorCode) : ErrorCode.internal;
      throw new YoloscaleError(code, e?.message ?? `HTTP ${res.status} from ${method} ${path}`);
    }
    return json as T;
  }
}
