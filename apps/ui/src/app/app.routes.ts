import { Routes } from '@angular/router';
import { authGuard } from './core/auth.guard';

export const routes: Routes = [
  { path: 'login', title: 'Log in · Kraken', loadComponent: () => import('./auth/login-page').then((m) => m.LoginPage) },
  {
    path: '',
    canActivate: [authGuard],
    children: [
      { path: '', pathMatch: 'full', redirectTo: 'agents' },
      { path: 'agents', title: 'Agents · Kraken', loadComponent: () => import('./agents/agents-page').then((m) => m.AgentsPage) },
      { path: 'agents/:id', title: 'Agent · Kraken', loadComponent: () => import('./agents/agent-page').then((m) => m.AgentPage) },
      { path: 'discovered', title: 'Discovered agents · Kraken', loadComponent: () => import('./agents/discovered-page').then((m) => m.DiscoveredPage) },
      { path: 'download', title: 'Download the agent · Kraken', loadComponent: () => import('./agents/download-page').then((m) => m.DownloadPage) },
      { path: 'groups', title: 'Groups · Kraken', loadComponent: () => import('./groups/groups-page').then((m) => m.GroupsPage) },
      { path: 'groups/:id', title: 'Group · Kraken', loadComponent: () => import('./groups/group-page').then((m) => m.GroupPage) },
      { path: 'workflows', title: 'Workflows · Kraken', loadComponent: () => import('./workflows/workflows-page').then((m) => m.WorkflowsPage) },
      { path: 'runs', title: 'Runs · Kraken', loadComponent: () => import('./runs/runs-page').then((m) => m.RunsPage) },
      { path: 'runs/:id', title: 'Run · Kraken', loadComponent: () => import('./runs/run-page').then((m) => m.RunPage) },
      { path: 'settings', title: 'Settings · Kraken', loadComponent: () => import('./settings/settings-page').then((m) => m.SettingsPage) },
      { path: '**', title: 'Not found · Kraken', loadComponent: () => import('./shared/not-found-page').then((m) => m.NotFoundPage) },
    ],
  },
];
