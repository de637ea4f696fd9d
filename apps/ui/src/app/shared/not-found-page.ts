import { Component } from '@angular/core';
import { RouterLink } from '@angular/router';

@Component({
  selector: 'kk-not-found-page',
  imports: [RouterLink],
  template: `<div class="page"><h1>Page not found</h1><p>There is nothing here. Go to <a routerLink="/agents">Agents</a>.</p></div>`,
})
export class NotFoundPage {}
