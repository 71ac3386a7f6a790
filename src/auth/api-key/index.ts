export { compileApiKey } from './compile.js';
export { ApiKeyAuthenticator } from './authenticator.js';
export { loadKeys, type ApiKeyEntry } from './keys-file.js';
