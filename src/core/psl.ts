/**
 * The Public Suffix List functions bandguard uses (tldts). Loaded with require(): tldts ships CommonJS with
 * the whole list inline (200 kB), and importing it from ES modules makes node scan that file for its export
 * names first, which costs every command's start-up about 20 ms.
 */
import { createRequire } from 'node:module';

const tldts = createRequire(import.meta.url)('tldts') as typeof import('tldts');

export const getDomain: typeof tldts.getDomain = tldts.getDomain;
export const getPublicSuffix: typeof tldts.getPublicSuffix = tldts.getPublicSuffix;
