export * from './spec/schema.js';
