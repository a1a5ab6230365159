/**
 * Logged images for the run view's gallery. The clients write `Image`s as run files under
 * `media/images/<key>_<step>_<index>.<ext>` and put a pointer in the history row
 * (`{"_type": "image-file", "path": …, "caption": …}`, or `{"_type": "images", "items": [...]}`
 * for a list). The gallery is built from the run's file list, so it needs no pass over a long
 * history; captions come from the last logged value of each key.
 */
import type { MetricKey } from '../api.js';

export interface GalleryImage {
  /** The logged key as the client wrote it in the file name (unsafe characters became `_`). */
  key: string;
  step: number;
  index: number;
  /** Run file path. */
  path: string;
  size: number;
  caption: string | null;
}

const IMAGE_FILE = /^media\/images\/(.+)_(\d+)_(\d+)\.(png|jpe?g|gif|webp|bmp|svg)$/i;
/** Past this many images the gallery shows the newest (per key) and says so. */
export const MAX_GALLERY_IMAGES = 2_000;

/** The file-name form of a key, as the Python client writes it. */
export function safeMediaKey(key: string): string {
  return [...key].map((c) => (/[A-Za-z0-9._-]/.test(c) ? c : '_')).join('');
}

interface Descriptor {
  _type?: unknown;
  path?: unknown;
  caption?: unknown;
  items?: unknown;
}

function descriptors(v: unknown): Descriptor[] {
  const d = v as Descriptor | null;
  if (!d || typeof d !== 'object') return [];
  if (d._type === 'image-file') return [d];
  if (d._type === 'images' && Array.isArray(d.items)) return d.items.filter((x): x is Descriptor => !!x && typeof x === 'object' && (x as Descriptor)._type === 'image-file');
  return [];
}

/** Keys whose logged values are images (from the metrics route's key list). */
export function imageKeys(keys: MetricKey[]): string[] {
  return keys.filter((k) => !k.numeric && descriptors(k.last).length > 0).map((k) => k.key);
}

/** Maps a media file name's key back to the key as logged (file names replace unsafe characters). */
export function loggedKeyOf(keys: MetricKey[]): (fileKey: string) => string {
  const real = new Map(keys.map((k) => [safeMediaKey(k.key), k.key]));
  return (fileKey) => real.get(fileKey) ?? fileKey;
}

export function galleryImages(files: Array<{ path: string; size: number }>, keys: MetricKey[] = []): { images: GalleryImage[]; omitted: number } {
  const captions = new Map<string, string>();
  const realKey = loggedKeyOf(keys);
  for (const k of keys) {
    for (const d of descriptors(k.last)) if (typeof d.path === 'string' && typeof d.caption === 'string') captions.set(d.path, d.caption);
  }
  const all: GalleryImage[] = [];
  for (const f of files) {
    const m = IMAGE_FILE.exec(f.path);
    if (!m) continue;
    all.push({ key: realKey(m[1]), step: Number(m[2]), index: Number(m[3]), path: f.path, size: f.size, caption: captions.get(f.path) ?? null });
  }
  all.sort((a, b) => a.key.localeCompare(b.key) || a.step - b.step || a.index - b.index);
  if (all.length <= MAX_GALLERY_IMAGES) return { images: all, omitted: 0 };
  const kept = [...all].sort((a, b) => b.step - a.step).slice(0, MAX_GALLERY_IMAGES);
  kept.sort((a, b) => a.key.localeCompare(b.key) || a.step - b.step || a.index - b.index);
  return { images: kept, omitted: all.length - kept.length };
}

/** Steps of one key that have images, ascending (the slider's stops). */
export function imageSteps(images: GalleryImage[], key: string): number[] {
  return [...new Set(images.filter((i) => i.key === key).map((i) => i.step))].sort((a, b) => a - b);
}

/** MIME type of an image run file, from its extension. */
export function imageMime(path: string): string | null {
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  return ({ png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', bmp: 'image/bmp' } as Record<string, string>)[ext] ?? null;
}
