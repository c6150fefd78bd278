//! The two databases the store runs on, and the little that differs between their SQL.
//!
//! A store is either one SQLite file (the default: embedded, nothing to start) or a database
//! on a Postgres server that a team shares. Every query is written once, with `?`
//! placeholders and the SQL both understand (`INSERT … ON CONFLICT … DO UPDATE` rather than
//! SQLite's `INSERT OR REPLACE`); [`on_pool!`] compiles the code that runs it once per
//! backend, and [`Dialect::sql`] numbers the placeholders for Postgres. What does not agree
//! (reading a field of JSON text, the on-disk size, compaction) is a method of [`Dialect`], so
//! the differences stay in this file and the migrations (`migrations/sqlite/`,
//! `migrations/postgres/`).
//!
//! This module must never grow a second copy of a query: when the dialects disagree, add a
//! small method here instead.

use std::borrow::Cow;

use sqlx::{PgPool, SqlitePool};

/// The store's connection pool, on one backend or the other.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    /// One SQLite file.
    Sqlite(SqlitePool),
    /// A Postgres database.
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to the concrete pool (`&SqlitePool` or `&PgPool`), and
/// optionally `$db` naming its database type (`sqlx::Sqlite` or `sqlx::Postgres`), so the same
/// source compiles for each backend with its own types.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            $crate::db::Pool::Sqlite($p) => $body,
            $crate::db::Pool::Postgres($p) => $body,
        }
    };
    ($pool:expr, |$p:ident, $db:ident| $body:expr) => {
        match $pool {
            $crate::db::Pool::Sqlite($p) => {
                type $db = sqlx::Sqlite;
                $body
            }
            $crate::db::Pool::Postgres($p) => {
                type $db = sqlx::Postgres;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

/// What the SQL of each backend says differently.
pub(crate) trait Dialect {
    /// The query with its `?` placeholders in the backend's form (`$1`, `$2`, … for Postgres).
    /// Queries in this crate hold no `?` inside quotes, so a plain scan is enough.
    fn sql(&self, text: &'static str) -> Cow<'static, str>;

    /// An expression for the text at `key`, then `field`, of a column holding JSON text
    /// (`data ->> '$.outputs."$hash"'` in SQLite).
    fn json_text(&self, column: &str, key: &str, field: &str) -> String;
}

impl Dialect for SqlitePool {
    fn sql(&self, text: &'static str) -> Cow<'static, str> {
        Cow::Borrowed(text)
    }

    fn json_text(&self, column: &str, key: &str, field: &str) -> String {
        format!("json_extract({column}, '$.{key}.\"{field}\"')")
    }
}

impl Dialect for PgPool {
    fn sql(&self, text: &'static str) -> Cow<'static, str> {
        numbered(text)
    }

    fn json_text(&self, column: &str, key: &str, field: &str) -> String {
        // The log keeps the exact JSON text it was given (TEXT, not JSONB), so parse it here.
        format!("(({column})::jsonb -> '{key}' ->> '{field}')")
    }
}

/// `?, ?` → `$1, $2`.
fn numbered(text: &'static str) -> Cow<'static, str> {
    if !text.contains('?') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether a store location names a Postgres database rather than a SQLite file.
pub(crate) fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// The URL with its password hidden, as it is shown in messages and `runs list`.
pub(crate) fn redacted(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let Some(at) = url[start..authority_end].rfind('@').map(|i| start + i) else {
        return url.to_owned();
    };
    match url[start..at].find(':').map(|i| start + i) {
        Some(colon) => format!("{}:***{}", &url[..colon], &url[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            numbered("SELECT a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
        assert!(matches!(numbered("SELECT 1"), Cow::Borrowed(_)));
    }

    #[test]
    fn urls_are_told_apart_from_paths_and_shown_without_password() {
        assert!(is_postgres_url("postgres://me@db/runs"));
        assert!(is_postgres_url("postgresql://db/runs"));
        assert!(!is_postgres_url("/home/me/.local/share/symphony/runs.db"));
        assert!(!is_postgres_url("postgres.db"));
        for (url, shown) in [
            (
                "postgres://me:s3cret@db:5432/runs",
                "postgres://me:***@db:5432/runs",
            ),
            ("postgres://me@db/runs", "postgres://me@db/runs"),
            ("postgres://db/runs?user=me", "postgres://db/runs?user=me"),
            ("postgres://me:p@ss@db/runs", "postgres://me:***@db/runs"),
        ] {
            assert_eq!(redacted(url), shown, "{url}");
        }
    }
}
