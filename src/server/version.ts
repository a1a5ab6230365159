/** Server version reported by /health and the discovery file. */
export const SERVER_VERSION = '0.1.0';
