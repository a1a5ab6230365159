/** The release every part reports: the server's /health and discovery file, `amphora --version`. */
export const RELEASE_VERSION = '0.1.0';
