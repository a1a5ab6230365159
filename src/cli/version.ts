/** The version `amphora --version` prints: the same release as the server it ships with (from core, so --help loads no server code). */
export { RELEASE_VERSION as VERSION } from '../core/version.js';
