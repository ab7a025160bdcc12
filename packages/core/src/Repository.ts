/**
 * A repository over an `@effect/sql` `Model` class — the counterpart of
 * `Model.makeRepository` whose failures are typed {@link DbError.DbError}s
 * instead of defects: a duplicate insert is a `UniqueViolation`, a missing
 * parent a `ForeignKeyViolation`, an update of a missing row `NotFound`, a
 * dropped connection `ConnectionLost`. Lookups by id are batched through a
 * {@link Db.Loader}, writes outside a transaction are retried on `Busy` /
 * `SerializationFailure`, and spans never record row values.
 *
 * @example
 * ```ts
 * import { Model } from "@effect/sql"
 * import { Effect, Schema } from "effect"
 * import { Repository } from "@fiberkit/core"
 *
 * class Page extends Model.Class<Page>("Page")({
 *   id: Model.Generated(Schema.Int),
 *   url: Schema.String,
 *   status: Schema.Int
 * }) {}
 *
 * const program = Effect.gen(function*() {
 *   const pages = yield* Repository.make(Page, { table: "pages", idColumn: "id" })
 *   const page = yield* pages.insert(Page.insert.make({ url: "https://example.com/", status: 200 })).pipe(
 *     Effect.catchTag("UniqueViolation", () => Effect.succeed(undefined))
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as Model from "@effect/sql/Model"
import type * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import * as Db from "./Db.js"
import type * as DbError from "./DbError.js"
import * as internal from "./internal/dbRepository.js"

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<Id> {
  readonly table: string
  /** The primary key column (a field of the model). */
  readonly idColumn: Id
}

/**
 * Options of {@link Repository.stream}.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamOptions {
  /** An extra condition, e.g. ``sql`status = ${200}` ``. */
  readonly where?: Statement.Fragment | undefined
  /** Rows per page on SQLite. */
  readonly pageSize?: number | undefined
}

/**
 * The operations of a repository. `A` is the model, `Insert` and `Update`
 * its `insert` and `update` variants, `Id` the type of its id.
 *
 * @since 0.1.0
 * @category models
 */
export interface Repository<A, Insert, Update, Id> {
  /** Inserts a row and returns it as stored (generated columns included). */
  readonly insert: (row: Insert) => Effect.Effect<A, DbError.DbError>
  readonly insertVoid: (row: Insert) => Effect.Effect<void, DbError.DbError>
  /** Inserts rows in chunked multi-row statements, in one transaction; returns the count. */
  readonly insertMany: (rows: Iterable<Insert>) => Effect.Effect<number, DbError.DbError>
  /** Updates the row with the id of `row`; `NotFound` when there is none. */
  readonly update: (row: Update) => Effect.Effect<A, DbError.DbError>
  readonly updateVoid: (row: Update) => Effect.Effect<void, DbError.DbError>
  /** The row with this id, if any. Batched: lookups waiting at the same moment make one query. */
  readonly findById: (id: Id) => Effect.Effect<Option.Option<A>, DbError.DbError>
  /** The row with this id, or `NotFound`. Batched like `findById`. */
  readonly getById: (id: Id) => Effect.Effect<A, DbError.DbError>
  /** Deletes the row with this id; `NotFound` when there is none. */
  readonly delete: (id: Id) => Effect.Effect<void, DbError.DbError>
  /** Every row (or those matching `where`) in id order, with bounded memory. */
  readonly stream: (options?: StreamOptions) => Stream.Stream<A, DbError.DbError>
}

/**
 * The repository type of a model `S` with id column `Id`.
 *
 * @since 0.1.0
 * @category models
 */
export type For<S extends Model.AnyNoContext, Id extends keyof S["fields"]> = Repository<
  S["Type"],
  S["insert"]["Type"],
  S["update"]["Type"],
  Schema.Schema.Type<S["fields"][Id]>
>

/**
 * Builds a repository for `Model` stored in `options.table`, using the
 * {@link Db.Db} service from the context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <
  S extends Model.AnyNoContext,
  Id extends (keyof S["Type"]) & (keyof S["update"]["Type"]) & (keyof S["fields"]) & string
>(Model: S, options: Options<Id>): Effect.Effect<For<S, Id>, never, Db.Db> =>
  Effect.map(Db.Db, (db) => internal.make(db, Model, options))
