/**
 * Feature registrars added on top of the core features (trees, commands, CodeLens, hover).
 * Each gets the extension context and the shared services, e.g.
 *   export function registerLineageFeatures(context, services) { … }
 * Add one import and one list entry here to plug a feature in.
 */
import type { FeatureRegistrar } from './services.js';

export const features: FeatureRegistrar[] = [];
