/**
 * Compressed runs of zero bytes, built without ever holding the
 * decompressed data: the basis of decompression-bomb replies. Node has no
 * synchronous streaming compressor, so the streams are assembled from
 * pieces whose framing is written here.
 *
 * - gzip / deflate: one 1 MiB block of zeros is deflated once with a full
 *   flush (byte-aligned, no back-references across it), repeated, and
 *   wrapped in the gzip (RFC 1952) or zlib (RFC 1950) container.
 * - br: meta-blocks of up to 16 MiB, each a single copy command at
 *   distance 1 with one-symbol prefix codes (RFC 7932), so each costs a
 *   few bytes.
 *
 * @internal
 */
import * as Zlib from "node:zlib"

const CHUNK = 1 << 20
const ZERO_CHUNK = Buffer.alloc(CHUNK)

let deflatedChunk: Buffer | undefined

/** Raw deflate of `bytes` zeros, ending byte-aligned without a final block. */
const deflatedZeros = (bytes: number): Buffer =>
  Zlib.deflateRawSync(bytes === CHUNK ? ZERO_CHUNK : Buffer.alloc(bytes), {
    finishFlush: Zlib.constants.Z_FULL_FLUSH
  })

/** A complete raw deflate stream of `bytes` zeros, as parts. */
const rawDeflate = (bytes: number): Array<Buffer> => {
  deflatedChunk ??= deflatedZeros(CHUNK)
  const parts: Array<Buffer> = []
  for (let i = 0; i < Math.floor(bytes / CHUNK); i++) parts.push(deflatedChunk)
  if (bytes % CHUNK > 0) parts.push(deflatedZeros(bytes % CHUNK))
  parts.push(Zlib.deflateRawSync(Buffer.alloc(0))) // the final, empty block
  return parts
}

const crc32OfZeros = (bytes: number): number => {
  let crc = 0
  for (let left = bytes; left > 0; left -= CHUNK) {
    crc = Zlib.crc32(left >= CHUNK ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, left), crc)
  }
  return crc
}

const gzip = (bytes: number): Buffer => {
  const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])
  const trailer = Buffer.alloc(8)
  trailer.writeUInt32LE(crc32OfZeros(bytes) >>> 0, 0)
  trailer.writeUInt32LE(bytes % 2 ** 32, 4)
  return Buffer.concat([header, ...rawDeflate(bytes), trailer])
}

const deflate = (bytes: number): Buffer => {
  const header = Buffer.from([0x78, 0x9c])
  const trailer = Buffer.alloc(4)
  // Adler-32 of n zeros: a stays 1, b adds 1 per byte.
  trailer.writeUInt32BE((((bytes % 65521) << 16) | 1) >>> 0, 0)
  return Buffer.concat([header, ...rawDeflate(bytes), trailer])
}

class BitWriter {
  private readonly bytes: Array<number> = []
  private current = 0
  private used = 0

  /** Appends the `count` low bits of `value`, least significant first. */
  write(value: number, count: number): void {
    for (let i = 0; i < count; i++) {
      this.current |= ((value >>> i) & 1) << this.used
      if (++this.used === 8) this.flushByte()
    }
  }

  alignToByte(): void {
    if (this.used > 0) this.flushByte()
  }

  zeroBytes(count: number): void {
    for (let i = 0; i < count; i++) this.bytes.push(0)
  }

  finish(): Buffer {
    this.alignToByte()
    return Buffer.from(this.bytes)
  }

  private flushByte(): void {
    this.bytes.push(this.current)
    this.current = 0
    this.used = 0
  }
}

const MAX_META_BLOCK = 1 << 24
/** Copy length codes (RFC 7932 section 5): base length and extra bits. */
const COPY_BASE = [2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 18, 22, 30, 38, 54, 70, 102, 134, 198, 326, 582, 1094, 2118]
const COPY_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10, 24]

const metaBlockHeader = (out: BitWriter, length: number, uncompressed: boolean): void => {
  out.write(0, 1) // ISLAST
  const nibbles = length - 1 < 1 << 16 ? 4 : length - 1 < 1 << 20 ? 5 : 6
  out.write(nibbles - 4, 2)
  out.write(length - 1, nibbles * 4)
  out.write(uncompressed ? 1 : 0, 1)
}

/** A prefix code with a single symbol: it costs zero bits per use. */
const singleSymbolCode = (out: BitWriter, symbol: number, alphabetBits: number): void => {
  out.write(1, 2) // HSKIP = 1: simple prefix code
  out.write(0, 2) // NSYM - 1
  out.write(symbol, alphabetBits)
}

/** `length` (2 ..= 2^24) zeros copied from distance 1. */
const copyMetaBlock = (out: BitWriter, length: number): void => {
  metaBlockHeader(out, length, false)
  out.write(0, 3) // NBLTYPESL, NBLTYPESI, NBLTYPESD = 1
  out.write(0, 2) // NPOSTFIX
  out.write(0, 4) // NDIRECT
  out.write(0, 2) // context mode of the literal block type
  out.write(0, 2) // NTREESL, NTREESD = 1
  let code = COPY_BASE.length - 1
  while ((COPY_BASE[code] ?? 0) > length) code--
  singleSymbolCode(out, 0, 8) // literals: none are used
  // Insert length code 0 with copy code `code`, explicit distance (RFC 7932 section 5 table).
  singleSymbolCode(out, code < 8 ? 128 + code : code < 16 ? 192 + code - 8 : 384 + code - 16, 10)
  singleSymbolCode(out, 16, 6) // distance code 16 with one extra bit 0: distance 1
  out.write(length - (COPY_BASE[code] ?? 0), COPY_EXTRA[code] ?? 0)
  out.write(0, 1)
}

const uncompressedMetaBlock = (out: BitWriter, length: number): void => {
  metaBlockHeader(out, length, true)
  out.alignToByte()
  out.zeroBytes(length)
}

const brotli = (bytes: number): Buffer => {
  const out = new BitWriter()
  out.write(0, 1) // WBITS = 16
  if (bytes > 0) uncompressedMetaBlock(out, 1)
  let left = bytes - 1
  while (left > 0) {
    let take = Math.min(left, MAX_META_BLOCK)
    if (left - take === 1) take-- // a copy needs at least 2 bytes: never leave a single one
    if (take < 2) uncompressedMetaBlock(out, take)
    else copyMetaBlock(out, take)
    left -= take
  }
  out.write(1, 1) // ISLAST
  out.write(1, 1) // ISLASTEMPTY
  return out.finish()
}

const cache = new Map<string, Buffer>()

/**
 * `bytes` zeros compressed with `encoding`, computed once per size and
 * encoding.
 *
 * @internal
 */
export const compressedZeros = (bytes: number, encoding: "gzip" | "br" | "deflate"): Buffer => {
  const key = `${encoding}:${bytes}`
  let compressed = cache.get(key)
  if (compressed === undefined) {
    compressed = encoding === "gzip" ? gzip(bytes) : encoding === "deflate" ? deflate(bytes) : brotli(bytes)
    cache.set(key, compressed)
  }
  return compressed
}
