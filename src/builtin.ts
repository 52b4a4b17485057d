import type { PluginDefinition } from './plugin.js';
import { plugins } from '../plugins/index.js';

/** The plugins the preload starts unless told otherwise (the list lives with them, in plugins/index.ts). */
export const builtinPlugins: readonly PluginDefinition[] = plugins;
