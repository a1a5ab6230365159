/** The version `amphora --version` prints: the same release as the server it ships with (package.json). */
export { SERVER_VERSION as VERSION } from '../server/version.js';
