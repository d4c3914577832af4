/** Fact sets: relations with PARAREL-style templates, facts, prompts, import/export and validation. */
export * from './types';
export * from './prompts';
export * from './validate';
export * from './csv';
export * from './decode';
export * from './io';
export * from './export';
