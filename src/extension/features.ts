/**
 * Feature registrars added on top of the core features (trees, commands, CodeLens, hover).
 * Each gets the extension context and the shared services, e.g.
 *   export function registerLineageFeatures(context, services) { … }
 * Add one import and one list entry here to plug a feature in.
 */
import type { FeatureRegistrar } from './services.js';
import { registerAmphoraFileSystem } from './fs/amphoraFileSystem.js';
import { registerCompare } from './compare/compareVersions.js';
import { registerLineage } from './lineage/register.js';
import { registerCompletion } from './language/completionProvider.js';
import { registerDiagnostics } from './language/diagnosticsProvider.js';
import { registerRuns } from './runs/register.js';
import { registerCliTerminal } from './commands/cliTerminal.js';

export const features: FeatureRegistrar[] = [registerAmphoraFileSystem, registerCompare, registerLineage, registerCompletion, registerDiagnostics, registerRuns, registerCliTerminal];
