/**
 * Run a TypeScript entry point (a CLI) as a separate process the way users
 * run it — `node --import tsx <entry> ...args` — and collect what it prints,
 * for tests that kill it, signal it, or check its exit code and output.
 *
 * @example
 * ```ts
 * const run = ChildProcess.tsx("apps/crawler/src/bin/crawl.ts", ["status"], { cwd: root })
 * const ended = await run.done
 * expect(ended.code, ended.stderr).toBe(0)
 * ```
 *
 * @since 0.1.0
 */
import * as NodeChildProcess from "node:child_process"
import * as Path from "node:path"

/**
 * How a process ended, with everything it printed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ended {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * A running process.
 *
 * @since 0.1.0
 * @category models
 */
export interface Run {
  readonly child: NodeChildProcess.ChildProcess
  /** What it printed so far. */
  readonly output: () => { readonly stdout: string; readonly stderr: string }
  /** Resolves when it exits. */
  readonly done: Promise<Ended>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The working directory, against which a relative `entry` resolves. */
  readonly cwd: string
  /** Variables added to (or, as `""`, blanking) this process's environment. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Arguments for `node` before `--import tsx`, e.g. `--max-old-space-size=512`. */
  readonly nodeArgs?: ReadonlyArray<string> | undefined
}

/**
 * Start `node [nodeArgs] --import tsx <entry> ...args`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tsx = (entry: string, args: ReadonlyArray<string>, options: Options): Run => {
  const child = NodeChildProcess.spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), "--import", "tsx", Path.resolve(options.cwd, entry), ...args],
    { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...options.env } }
  )
  let stdout = ""
  let stderr = ""
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const done = new Promise<Ended>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return { child, output: () => ({ stdout, stderr }), done }
}
