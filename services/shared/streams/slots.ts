// Redis Cluster's key -> slot mapping (CRC16/XMODEM of the hash tag, mod 16384), computed here so
// that stream partitions can be named to land in different slot ranges (keys.ts) without a client.
// The cluster tests check it against CLUSTER KEYSLOT.

export const slotCount = 16_384;

const table = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i += 1) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    t[i] = crc;
  }
  return t;
})();

function crc16(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text, 'utf8')) crc = ((crc << 8) & 0xffff) ^ table[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/** The hash tag of a key as Redis Cluster computes it: the first {...} with content, else the whole key. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return key.slice(open + 1, close);
  }
  return key;
}

/** The cluster slot of a key (CLUSTER KEYSLOT). */
export function slotOf(key: string): number {
  return crc16(hashTagOf(key)) % slotCount;
}
