export { compileMtls, MtlsAuthenticator, normalizeFingerprint } from './compile.js';
