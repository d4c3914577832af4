/** Knowledge-critical subnetworks (methods.md §5, D7): masks, losses, training, metrics, mask files. */
export * from './mask';
export * from './binary';
export * from './mask-io';
export * from './data';
export * from './losses';
export * from './settings';
export * from './progress';
export * from './trainer';
export * from './metrics';
export * from './sets';
