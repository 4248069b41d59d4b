/**
 * What the bytes of a fetched file say about it: an image's width and height, and its type when
 * the server named none (application/octet-stream). Read from the file's header only, by
 * image-size (pure JavaScript, no native code, widely used; it reads PNG, JPEG, GIF, WebP, AVIF,
 * BMP, SVG… without decoding the picture). The sender's claims (Matrix `info`, XEP-0447 metadata)
 * are hints; what the bytes say wins, so a lie about a picture's size cannot travel further.
 */
import { imageSize } from "image-size";
import type { Media } from "../adapter.ts";

const MIME_OF: Readonly<Record<string, string>> = {
  png: "image/png", jpg: "image/jpeg", gif: "image/gif", webp: "image/webp", avif: "image/avif",
  bmp: "image/bmp", heif: "image/heif", tiff: "image/tiff",
};
/** Types whose dimensions are read; others (svg: a document, not a picture) are left alone. */
const MEASURED = new Set(Object.keys(MIME_OF));
const GENERIC = new Set(["", "application/octet-stream", "binary/octet-stream"]);
/**
 * How much of a file is read for its header: what image-size itself reads from a file. Its JPEG
 * reader walks the bytes one at a time in search of a frame header; on a whole 50 MB file of
 * hostile bytes that blocked the event loop for half a minute. Every format's size is near the
 * start; a picture whose header lies further in goes unmeasured.
 */
export const HEADER_BYTES = 512 * 1024;

/** `media` with width/height (and a type for an unnamed one) when its bytes are a picture we know. */
export function measured(media: Media): Media {
  const claimed = media.mime.toLowerCase();
  if (!GENERIC.has(claimed) && !claimed.startsWith("image/")) return media;
  let found: { width?: number; height?: number; type?: string; orientation?: number };
  try {
    found = imageSize(media.data.subarray(0, HEADER_BYTES));
  } catch {
    return media; // not a picture this library knows
  }
  if (!found.type || !MEASURED.has(found.type) || !found.width || !found.height) return media;
  // EXIF orientations 5 to 8 turn the picture a quarter: what viewers show is the other way round.
  const turned = (found.orientation ?? 1) >= 5;
  return {
    ...media,
    mime: GENERIC.has(claimed) ? MIME_OF[found.type]! : media.mime,
    width: turned ? found.height : found.width,
    height: turned ? found.width : found.height,
  };
}
