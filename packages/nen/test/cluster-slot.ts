// Redis Cluster key slot (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/,
// "Key distribution model"): CRC16-CCITT (XMODEM) of the hash tag, or of the whole key, mod 16384.
// Used by the tests to pick two session ids in different slots.

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

export function calculateSlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(new TextEncoder().encode(key)) % 16384;
}
