/** Fetching and caching of checkpoints: the one place that touches the network or model files. */
export * from './source';
export * from './fetch';
export * from './cache';
export * from './files';
export * from './checkpoint';
