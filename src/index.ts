export * from './documents/schema.js';
