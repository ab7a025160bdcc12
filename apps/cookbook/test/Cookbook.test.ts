import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { execFile } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { find, listing } from "../src/Cookbook.js"
import { patterns } from "../src/index.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url))

/** Runs the CLI in a child process, as `npm run cookbook -- ...args` does. */
const runCli = (...args: ReadonlyArray<string>) =>
  Effect.async<{ readonly code: number; readonly stdout: string; readonly stderr: string }>((resume) => {
    const child = execFile(process.execPath, ["--import", "tsx", cli, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    return Effect.sync(() => child.kill())
  })

describe("the registry", () => {
  it("has every pattern of the issue once, with a kebab-case name and a file and a test of that name", () => {
    expect(patterns).toHaveLength(28)
    const names = patterns.map((p) => p.name)
    expect(new Set(names).size).toBe(names.length)
    for (const pattern of patterns) {
      expect(pattern.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/)
      expect(pattern.title.length).toBeGreaterThan(0)
      expect(pattern.asyncio.length).toBeGreaterThan(0)
      expect(pattern.summary.length).toBeGreaterThan(0)
      expect(existsSync(`${root}src/patterns/${pattern.name}.ts`)).toBe(true)
      expect(existsSync(`${root}test/${pattern.name}.test.ts`)).toBe(true)
    }
  })

  it("the README table has one row per pattern, in registry order, linking its file and test", () => {
    const readme = readFileSync(`${root}README.md`, "utf8")
    const rows = readme.split("\n").filter((line) => line.includes("(src/patterns/"))
    expect(rows.map((row) => /\| `([a-z0-9-]+)` \|/.exec(row)?.[1])).toEqual(patterns.map((p) => p.name))
    for (const row of rows) {
      for (const [, link] of row.matchAll(/\]\(([^)]+)\)/g)) expect(existsSync(`${root}${link}`)).toBe(true)
    }
  })
})

describe("the command line", () => {
  it("--list prints one line per pattern: name and title", () => {
    const lines = listing().split("\n")
    expect(lines).toHaveLength(patterns.length)
    patterns.forEach((pattern, i) => {
      expect(lines[i]).toMatch(new RegExp(`^${pattern.name} +${pattern.title.replace(/[()[\].*+?^$|\\]/g, "\\$&")}$`))
    })
  })

  it.effect("an unknown name is a typed error that says how to list the names", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(find("no-such-pattern"))
      expect(Either.isLeft(result) && result.left.message).toBe(
        "Unknown pattern \"no-such-pattern\". Run `npm run cookbook -- --list` to see the names."
      )
    }))

  it.live("as a process: --list exits 0, an unknown name exits 2 with the error on stderr, a name runs that pattern", () =>
    Effect.gen(function*() {
      const [list, unknown, lock] = yield* Effect.all(
        [runCli("--list"), runCli("no-such-pattern"), runCli("lock")],
        { concurrency: "unbounded" }
      )
      expect(list.code).toBe(0)
      expect(list.stdout.trim().split("\n")).toHaveLength(patterns.length)
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toContain("Unknown pattern \"no-such-pattern\"")
      expect(lock.code).toBe(0)
      expect(lock.stdout).toContain("== lock: Lock")
      expect(lock.stdout).toMatch(/lock +: 10 deposits of 10 → balance 100/)
    }), 60_000)
})
