import { HttpErrorResponse, HttpInterceptorFn } from '@angular/common/http';
import { inject } from '@angular/core';
import { Router } from '@angular/router';
import { catchError, throwError } from 'rxjs';
import { AuthService } from './auth.service';

/**
 * A 401 from any API call except login/me means the session expired: go to the login page.
 */
export const authInterceptor: HttpInterceptorFn = (req, next) => {
  const auth = inject(AuthService);
  const router = inject(Router);
  // Tells the server this is the UI: a 401 then comes without a Basic challenge, so the browser
  // does not pop up its own password dialog.
  if (req.url.startsWith('/api/')) req = req.clone({ setHeaders: { 'X-Requested-With': 'XMLHttpRequest' } });
  return next(req).pipe(
    catchError((err: unknown) => {
      if (err instanceof HttpErrorResponse && err.status === 401 && !req.url.startsWith('/api/auth/')) {
        auth.loggedOut(router.url);
      }
      return throwError(() => err);
    }),
  );
};
