/** Server version reported by /health and the discovery file. */
export { RELEASE_VERSION as SERVER_VERSION } from '../core/version.js';
