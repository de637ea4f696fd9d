import { TEST_ADMIN_PASSWORD } from './server';

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

/** A tiny client for the REST API, logged in as admin with a session cookie (or anonymous). */
export class ApiClient {
  private cookie?: string;

  constructor(private readonly baseUrl: string) {}

  static async loggedIn(baseUrl: string): Promise<ApiClient> {
    const c = new ApiClient(baseUrl);
    const res = await c.request<{ username: string }>('POST', '/api/auth/login', { username: 'admin', password: TEST_ADMIN_PASSWORD });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
    return c;
  }

  async request<T = any>(method: string, path: string, body?: unknown, init: { rawBody?: string; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.cookie) headers.cookie = this.cookie;
    let payload: string | undefined;
    if (init.rawBody !== undefined) payload = init.rawBody;
    else if (body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await fetch(this.baseUrl + path, { method, headers, body: payload });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';')[0];
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed as T };
  }

  /** Like request, but fails the test on a status other than `expect`. */
  async ok<T = any>(method: string, path: string, body?: unknown, expect = 200): Promise<T> {
    const res = await this.request<T>(method, path, body);
    if (res.status !== expect) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }
}
