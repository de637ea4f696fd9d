import { HttpClient, HttpParams } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import { firstValueFrom } from 'rxjs';
import type {
  Agent,
  AgentCounts,
  AgentPage,
  Group,
  JobView,
  Me,
  RunView,
  Settings,
  UpdateAgentBody,
  UpdateSettingsBody,
  WorkflowView,
} from '@kraken/protocol';
import type { LogsPage, LogsQuery } from '@kraken/protocol';

export interface Page<T> {
  items: T[];
  total: number;
}

export interface AgentListQuery {
  authorized?: boolean;
  state?: 'connected' | 'offline';
  group?: number;
  q?: string;
  offset?: number;
  limit?: number;
  sort?: string;
  order?: 'asc' | 'desc';
}

function params(query: object): HttpParams {
  let p = new HttpParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    p = p.set(k, String(v));
  }
  return p;
}

/** The REST API under /api, one method per endpoint; every call resolves with the parsed JSON body. */
@Injectable({ providedIn: 'root' })
export class ApiService {
  private readonly http = inject(HttpClient);

  private get<T>(url: string, query: object = {}): Promise<T> {
    return firstValueFrom(this.http.get<T>(url, { params: params(query) }));
  }
  private send<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<T> {
    return firstValueFrom(this.http.request<T>(method, url, { body }));
  }

  // auth
  me = () => this.get<Me>('/api/auth/me');
  login = (username: string, password: string) => this.send<Me>('POST', '/api/auth/login', { username, password });
  logout = () => this.send<unknown>('POST', '/api/auth/logout', {});

  // agents
  agents = (q: AgentListQuery) => this.get<AgentPage>('/api/agents', q);
  agentCounts = () => this.get<AgentCounts>('/api/agents/counts');
  agent = (id: number) => this.get<Agent>(`/api/agents/${id}`);
  updateAgent = (id: number, body: UpdateAgentBody) => this.send<Agent>('PUT', `/api/agents/${id}`, body);
  deleteAgent = (id: number) => this.send<unknown>('DELETE', `/api/agents/${id}`);
  authorizeAgents = (ids: number[]) =>
    this.send<unknown>(
      'PATCH',
      '/api/agents',
      ids.map((id) => ({ id, authorized: true })),
    );
  agentJobs = (id: number, offset = 0, limit = 30) => this.get<Page<JobView>>(`/api/agents/${id}/jobs`, { offset, limit });
  agentLogs = (id: number, q: Partial<LogsQuery> = {}) => this.get<LogsPage>(`/api/agents/${id}/logs`, q);

  // groups
  groups = () => this.get<{ items: Group[] }>('/api/groups');
  group = (id: number) => this.get<Group>(`/api/groups/${id}`);
  createGroup = (name: string) => this.send<Group>('POST', '/api/groups', { name });
  renameGroup = (id: number, name: string) => this.send<Group>('PUT', `/api/groups/${id}`, { name });
  deleteGroup = (id: number) => this.send<unknown>('DELETE', `/api/groups/${id}`);
  addGroupAgents = (id: number, agentIds: number[]) => this.send<unknown>('POST', `/api/groups/${id}/agents`, { agentIds });
  removeGroupAgent = (id: number, agentId: number) => this.send<unknown>('DELETE', `/api/groups/${id}/agents/${agentId}`);

  // settings
  settings = () => this.get<Settings>('/api/settings');
  updateSettings = (body: UpdateSettingsBody) => this.send<Settings>('PUT', '/api/settings', body);
  regenerateToken = () => this.send<Settings>('POST', '/api/settings/enrollment-token', {});

  // workflows, runs and jobs
  workflows = () => this.get<{ items: WorkflowView[] }>('/api/workflows');
  /** Stores a schema (object, or JSON / YAML text) under a name. */
  saveWorkflow = (name: string, schema: unknown) => this.send<WorkflowView>('POST', '/api/workflows', { name, schema });
  runWorkflow = (id: number) => this.send<RunView>('POST', `/api/workflows/${id}/runs`, {});
  submitRun = (schema: unknown) => this.send<RunView>('POST', '/api/runs', { schema });
  /** Runs, newest first; only those of one saved workflow when `workflow` is given. */
  runs = (offset = 0, limit = 30, workflow?: number) => this.get<Page<RunView>>('/api/runs', { offset, limit, workflow });
  run = (id: number) => this.get<RunView>(`/api/runs/${id}`);
  job = (id: number) => this.get<JobView>(`/api/jobs/${id}`);
  cancelJob = (id: number) => this.send<unknown>('POST', `/api/jobs/${id}/cancel`, {});
  /** Cancels every unfinished job of the run at once. */
  cancelRun = (id: number) => this.send<RunView>('POST', `/api/runs/${id}/cancel`, {});
  jobLogs = (id: number, q: Partial<LogsQuery> = {}) => this.get<LogsPage>(`/api/jobs/${id}/logs`, q);
}
