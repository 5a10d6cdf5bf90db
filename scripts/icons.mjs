// The app's icons, drawn at build time (no binary files in the repository).
//
// The logo is a stack of three white "servers" with a green status light each, on
// the brand blue. Shapes are signed distance functions, so every size is sharp and
// anti-aliased; a tiny PNG encoder (RGBA, zlib from node) writes the files.
import { deflateSync } from "node:zlib";

const BRAND = [30, 64, 175]; // #1e40af, the manifest's theme colour
const WHITE = [255, 255, 255];
const LIGHT = [34, 197, 94]; // status lights

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "ascii");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** An RGBA image (width * height * 4 bytes) as PNG bytes. */
export function encodePng(width, height, rgba) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8 bits, RGBA, deflate, no filter, no interlace
  const rows = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y += 1) {
    // Each row starts with its filter type (0: none).
    rgba.copy(rows, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

// Signed distance (unit square coordinates, centre 0,0) to a rounded box.
function roundedBox(x, y, halfW, halfH, radius) {
  const qx = Math.abs(x) - (halfW - radius);
  const qy = Math.abs(y) - (halfH - radius);
  const outside = Math.hypot(Math.max(qx, 0), Math.max(qy, 0));
  return outside + Math.min(Math.max(qx, qy), 0) - radius;
}

const SERVER_ROWS = [-0.17, 0, 0.17];

function coverage(distance, pixel) {
  return Math.min(Math.max(0.5 - distance / pixel, 0), 1);
}

function mix(under, over, alpha) {
  return under.map((value, i) => value + (over[i] - value) * alpha);
}

// The logo's colour at (x, y) over the brand blue, the logo scaled by ``scale``.
function logoColour(x, y, scale, pixel) {
  const u = x / scale;
  const v = y / scale;
  let colour = BRAND;
  for (const row of SERVER_ROWS) {
    const box = roundedBox(u, v - row, 0.27, 0.065, 0.03) * scale;
    colour = mix(colour, WHITE, coverage(box, pixel));
    const light = (Math.hypot(u - 0.17, v - row) - 0.028) * scale;
    colour = mix(colour, LIGHT, coverage(light, pixel));
  }
  return colour;
}

/**
 * Draw the icon at ``size`` pixels. ``fullBleed``: opaque square (maskable and
 * Apple icons, which the platform crops); otherwise a rounded tile on transparency.
 * ``scale`` shrinks the logo (maskable icons keep it inside the 80 % safe zone).
 */
export function drawIcon(size, { fullBleed = false, scale = 1 } = {}) {
  const rgba = Buffer.alloc(size * size * 4);
  const pixel = 1 / size; // one pixel in unit coordinates: the anti-aliasing width
  for (let py = 0; py < size; py += 1) {
    for (let px = 0; px < size; px += 1) {
      const x = (px + 0.5) / size - 0.5;
      const y = (py + 0.5) / size - 0.5;
      const tile = fullBleed ? -1 : roundedBox(x, y, 0.5, 0.5, 0.11);
      const colour = logoColour(x, y, scale, pixel).map(Math.round);
      rgba.set([...colour, Math.round(coverage(tile, pixel) * 255)], (py * size + px) * 4);
    }
  }
  return encodePng(size, size, rgba);
}

/** Every icon the manifest and templates refer to, by logical asset name. */
export function buildIcons() {
  return new Map([
    ["icon-32.png", drawIcon(32)],
    ["icon-192.png", drawIcon(192)],
    ["icon-512.png", drawIcon(512)],
    ["icon-maskable-512.png", drawIcon(512, { fullBleed: true, scale: 0.8 })],
    ["apple-touch-icon.png", drawIcon(180, { fullBleed: true, scale: 0.85 })],
  ]);
}
