/**
 * The non-HTML resources of the synthetic site: a fixed set of small files
 * with the content types a crawler has to tell apart from HTML.
 *
 * @internal
 */

export interface Asset {
  readonly path: string
  readonly contentType: string
  readonly body: Uint8Array
}

/** A valid 1×1 transparent PNG. */
const png = Uint8Array.from(Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=",
  "base64"
))

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

const pdf = (n: number): Uint8Array =>
  text(
    `%PDF-1.4\n% synthetic site document ${n}\n` +
      "1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
  )

/** Every asset, by path. Pages link to these and nothing else non-HTML. */
export const all: ReadonlyArray<Asset> = [
  { path: "/assets/img/0.png", contentType: "image/png", body: png },
  { path: "/assets/img/1.png", contentType: "image/png", body: png },
  { path: "/assets/img/2.png", contentType: "image/png", body: png },
  { path: "/assets/img/3.png", contentType: "image/png", body: png },
  {
    path: "/assets/css/site.css",
    contentType: "text/css; charset=utf-8",
    body: text("body { font-family: sans-serif; margin: 2em; }\n")
  },
  { path: "/assets/docs/0.pdf", contentType: "application/pdf", body: pdf(0) },
  { path: "/assets/docs/1.pdf", contentType: "application/pdf", body: pdf(1) }
]

const byPath = new Map(all.map((asset) => [asset.path, asset]))

/** The asset served at `path`, if any. */
export const find = (path: string): Asset | undefined => byPath.get(path)
