/**
 * Set when the process has been told to stop (SIGINT, SIGTERM). Ctrl-C in a terminal reaches the
 * embedded PostgreSQL too, so it may stop before the server has written its last updates: errors
 * from the database are expected then, and logged as such rather than as failures.
 */
export const processShutdown = { started: false };

/** `error` normally; `info` once the process is stopping (see processShutdown). */
export const levelForDbError = (): 'error' | 'info' => (processShutdown.started ? 'info' : 'error');
