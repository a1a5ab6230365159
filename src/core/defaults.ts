/** Plain constants with no imports, so light entry points (the CLI's argument parser) can use them without loading zod. */
export const DEFAULT_PROJECT = 'uncategorized';
export const DEFAULT_PORT = 7411;
