export { compileBasic, type BasicRuntimeOptions } from './compile.js';
export { BasicAuthenticator } from './authenticator.js';
export { hashPassword, verifyPassword, parseHash } from './hash.js';
