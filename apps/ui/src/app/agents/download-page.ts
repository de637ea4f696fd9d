import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { RouterLink } from '@angular/router';
import { MatButtonModule } from '@angular/material/button';
import { MatIconModule } from '@angular/material/icon';
import { MatCardModule } from '@angular/material/card';
import { MatCheckboxModule } from '@angular/material/checkbox';
import { ApiService } from '../api/api.service';
import { NotifyService } from '../core/notify.service';
import { errorMessage } from '../core/errors';

/** The address agents use to reach this server: the configured server URL, else this page's origin. */
export function serverAddress(serverUrl: string | undefined, origin: string): string {
  return (serverUrl?.trim() || origin).replace(/\/+$/, '');
}

/** The agent's container image (see docker-compose.yaml). */
export const AGENT_IMAGE = 'kraken/agent';

/** The one-line install commands (see docs/agents.md); with a token the agent is authorized at once. */
export function installCommands(server: string, token?: string): { curl: string; wget: string; docker: string } {
  const script = `${server}/install/kraken-agent-install.sh`;
  const env = token ? ` KRAKEN_AGENT_TOKEN=${token}` : '';
  return {
    curl: `curl -fsSL ${script} | sudo${env} sh`,
    wget: `wget -qO- ${script} | sudo${env} sh`,
    docker: [
      'docker run -d --name kraken-agent --restart unless-stopped',
      `-e KRAKEN_SERVER_ADDR=${server}`,
      ...(token ? [`-e KRAKEN_AGENT_TOKEN=${token}`] : []),
      '-v /var/run/docker.sock:/var/run/docker.sock -v kraken-agent-data:/data',
      AGENT_IMAGE,
    ].join(' '),
  };
}

@Component({
  selector: 'kk-download-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [RouterLink, MatButtonModule, MatIconModule, MatCardModule, MatCheckboxModule],
  template: `
    <div class="page">
      <h1>Download the agent</h1>
      @if (error(); as e) {
        <div class="banner-error" role="alert">{{ e }} Showing this page's address instead.</div>
      }
      <p>
        Agents connect to <code>{{ server() }}</code>,
        @if (configured()) {
          the server URL from <a routerLink="/settings">Settings</a>.
        } @else {
          this page's address (set the <a routerLink="/settings">server URL</a> if agents reach the server by another address).
        }
        A new agent waits on the <a routerLink="/discovered">Discovered</a> page until you authorize it.
      </p>
      <p>
        <mat-checkbox [checked]="withToken()" (change)="withToken.set($event.checked)" [disabled]="!token()">
          Include the enrollment token: the new agent is authorized at once (keep these commands private)
        </mat-checkbox>
      </p>
      <div class="grid-2">
        <mat-card appearance="outlined">
          <mat-card-header><mat-card-title><h2>For Linux</h2></mat-card-title></mat-card-header>
          <mat-card-content>
            <p>Install the agent as a systemd service with the <a [href]="script()">install script</a> (needs Node.js 20 or later on the machine):</p>
            <div class="cmd"><pre aria-label="curl install command">{{ cmds().curl }}</pre><button mat-icon-button type="button" (click)="copy(cmds().curl)" aria-label="Copy curl command"><mat-icon aria-hidden="true">content_copy</mat-icon></button></div>
            <p>or with wget:</p>
            <div class="cmd"><pre aria-label="wget install command">{{ cmds().wget }}</pre><button mat-icon-button type="button" (click)="copy(cmds().wget)" aria-label="Copy wget command"><mat-icon aria-hidden="true">content_copy</mat-icon></button></div>
          </mat-card-content>
        </mat-card>
        <mat-card appearance="outlined">
          <mat-card-header><mat-card-title><h2>In a container</h2></mat-card-title></mat-card-header>
          <mat-card-content>
            <p>Run the agent in Docker (it runs docker jobs through the host's socket):</p>
            <div class="cmd"><pre aria-label="docker run command">{{ cmds().docker }}</pre><button mat-icon-button type="button" (click)="copy(cmds().docker)" aria-label="Copy docker command"><mat-icon aria-hidden="true">content_copy</mat-icon></button></div>
          </mat-card-content>
        </mat-card>
      </div>
    </div>
  `,
  styles: `
    .cmd { display: flex; align-items: flex-start; gap: 4px; background: var(--mat-sys-surface-container); border-radius: 6px; padding: 4px 4px 4px 12px; }
    .cmd pre { flex: 1; white-space: pre-wrap; word-break: break-all; margin: 8px 0; }
  `,
})
export class DownloadPage {
  private readonly api = inject(ApiService);
  private readonly notify = inject(NotifyService);
  private readonly serverUrl = signal<string>('');
  protected readonly token = signal<string>('');
  protected readonly withToken = signal(false);
  protected readonly error = signal<string | null>(null);
  protected readonly configured = computed(() => !!this.serverUrl().trim());
  protected readonly server = computed(() => serverAddress(this.serverUrl(), window.location.origin));
  protected readonly cmds = computed(() => installCommands(this.server(), this.withToken() ? this.token() : undefined));
  protected readonly script = computed(() => `${this.server()}/install/kraken-agent-install.sh`);

  constructor() {
    this.api.settings().then(
      (s) => {
        this.serverUrl.set(s.server_url);
        this.token.set(s.enrollment_token);
      },
      (err) => this.error.set(errorMessage(err, 'Loading the server URL')),
    );
  }

  async copy(text: string): Promise<void> {
    await this.notify.attempt('Copying (select the text and copy it by hand)', () => navigator.clipboard.writeText(text), 'Copied to the clipboard');
  }
}
