/**
 * Imported first by the webview entry: the page's CSP forbids eval, and zod probes for it (and
 * the browser reports the refused probe) when the first schema is built unless told not to.
 */
import { z } from 'zod';

z.config({ jitless: true });
