export { compileJwt, JwtAuthenticator, MIN_REFETCH_MS, type JwtRuntimeOptions } from './compile.js';
