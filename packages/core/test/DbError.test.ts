/**
 * Classification of driver errors into the `DbError` family, on the shapes
 * better-sqlite3 and node-postgres produce (the same shapes the other Db
 * tests provoke for real).
 */
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { DbError } from "@fiberkit/core"

const sqlite = (code: string, message: string) => new SqlError({ cause: Object.assign(new Error(message), { code }), message: "Failed to execute statement" })
const pg = (fields: Record<string, string>) =>
  new SqlError({ cause: Object.assign(new Error(fields["message"] ?? "error"), fields), message: "Failed to execute statement" })

const T = "sqlite:/tmp/x.db"
const P = "postgres://app@127.0.0.1:5432/test"

describe("DbError.fromSqlError", () => {
  it("SQLite constraint codes become typed violations naming table and columns", () => {
    const unique = DbError.fromSqlError(sqlite("SQLITE_CONSTRAINT_UNIQUE", "UNIQUE constraint failed: pages.site, pages.url"), "sqlite", T)
    expect(unique._tag).toBe("UniqueViolation")
    if (unique._tag !== "UniqueViolation") return
    expect(unique.table).toBe("pages")
    expect(unique.columns).toEqual(["site", "url"])
    expect(unique.message).toContain("key (site, url)")
    expect(unique.message).toContain("\"pages\"")

    expect(DbError.fromSqlError(sqlite("SQLITE_CONSTRAINT_PRIMARYKEY", "UNIQUE constraint failed: pages.id"), "sqlite", T)._tag)
      .toBe("UniqueViolation")
    expect(DbError.fromSqlError(sqlite("SQLITE_CONSTRAINT_FOREIGNKEY", "FOREIGN KEY constraint failed"), "sqlite", T)._tag)
      .toBe("ForeignKeyViolation")
    const notNull = DbError.fromSqlError(sqlite("SQLITE_CONSTRAINT_NOTNULL", "NOT NULL constraint failed: pages.url"), "sqlite", T)
    expect(notNull._tag === "ConstraintViolation" && notNull.kind).toBe("not-null")
    expect(notNull.message).toContain("NOT NULL column url")
  })

  it("SQLite busy and locked codes become Busy (retryable)", () => {
    for (const code of ["SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED"]) {
      const error = DbError.fromSqlError(sqlite(code, "database is locked"), "sqlite", T)
      expect(error._tag).toBe("Busy")
      expect(DbError.isRetryable(error)).toBe(true)
      expect(error.message).toContain(T)
      expect(error.message).toContain("DB_BUSY_TIMEOUT")
    }
  })

  it("Postgres SQLSTATEs become typed errors; the detail's values stay out of the message", () => {
    const unique = DbError.fromSqlError(
      pg({ code: "23505", table: "users", constraint: "users_email_key", detail: "Key (email)=(alice@example.com) already exists.", message: "duplicate key value violates unique constraint \"users_email_key\"" }),
      "pg",
      P
    )
    expect(unique._tag).toBe("UniqueViolation")
    if (unique._tag !== "UniqueViolation") return
    expect(unique.columns).toEqual(["email"])
    expect(unique.message).toContain("users_email_key")
    expect(unique.message).not.toContain("alice@example.com")

    const fk = DbError.fromSqlError(pg({ code: "23503", table: "links", constraint: "links_page_fkey", message: "fk" }), "pg", P)
    expect(fk._tag).toBe("ForeignKeyViolation")
    expect(fk.message).toContain("links_page_fkey")

    const serialization = DbError.fromSqlError(pg({ code: "40001", message: "could not serialize access" }), "pg", P)
    expect(serialization._tag === "SerializationFailure" && serialization.reason).toBe("serialization")
    const deadlock = DbError.fromSqlError(pg({ code: "40P01", message: "deadlock detected" }), "pg", P)
    expect(deadlock._tag === "SerializationFailure" && deadlock.reason).toBe("deadlock")
    expect(DbError.isRetryable(deadlock)).toBe(true)

    expect(DbError.fromSqlError(pg({ code: "57014", message: "canceling statement due to statement timeout" }), "pg", P)._tag)
      .toBe("StatementTimeout")
    expect(DbError.fromSqlError(pg({ code: "42P01", message: "relation \"nope\" does not exist" }), "pg", P)._tag).toBe("QueryFailed")
  })

  it("shutdowns, connection exceptions and socket errors become ConnectionLost naming the target", () => {
    for (const fields of [
      { code: "57P01", message: "terminating connection due to administrator command" },
      { code: "08006", message: "connection failure" },
      { code: "ECONNRESET", message: "read ECONNRESET" }
    ]) {
      const error = DbError.fromSqlError(pg(fields), "pg", P)
      expect(error._tag).toBe("ConnectionLost")
      expect(error.message).toContain(P)
      expect(DbError.isRetryable(error)).toBe(false)
    }
    const terminated = new SqlError({ cause: new Error("Connection terminated unexpectedly"), message: "Failed to execute statement" })
    expect(DbError.fromSqlError(terminated, "pg", P)._tag).toBe("ConnectionLost")
  })

  it("anything else is QueryFailed with the code and the driver's reason", () => {
    const error = DbError.fromSqlError(sqlite("SQLITE_ERROR", "near \"SELEC\": syntax error"), "sqlite", T)
    expect(error._tag).toBe("QueryFailed")
    expect(error.message).toBe("Query failed (SQLITE_ERROR): near \"SELEC\": syntax error")
  })
})
