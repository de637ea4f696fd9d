export * from './errors';
export * from './host-info';
export * from './agent-messages';
export * from './api';
export * from './workflow';
export * from './jobs';
export * from './logs';
