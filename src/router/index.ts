// The router stage: path normalisation and the compiled route matcher.
export { normalizePath } from './normalize.js';
export { compileRouter, stripPrefix, type Router } from './router.js';
