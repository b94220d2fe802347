//! Read-only SQL pools (PostgreSQL or SQLite), chosen by the URL's scheme.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{PgPool, Row, SqlitePool};

/// Pool sizing and timeouts.
#[derive(Clone, Copy, Debug)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub connect_timeout: Duration,
    pub query_timeout: Duration,
}

#[derive(Clone)]
pub enum SqlPool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// A row of Django's session table, as [`SqlPool::django_session`] reads it.
#[derive(Debug)]
pub struct DjangoSessionRow {
    /// `session_data`, or `None` when it is longer than the bound asked for (not read).
    pub data: Option<String>,
    /// The length of `session_data` in bytes.
    pub bytes: i64,
    /// `expire_date` in microseconds since the epoch.
    pub expire_micros: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("query timed out")]
    Timeout,
}

impl SqlPool {
    /// A pool that connects on first use, so that signgate starts (and fails closed) while the
    /// database is down. Connections are read-only.
    pub fn connect_lazy(url: &str, s: PoolSettings) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options =
                PgConnectOptions::from_str(url)?.options([("default_transaction_read_only", "on")]);
            // No idle/lifetime reaper: it would need a runtime at construction, and broken
            // connections are caught by the check before each acquire.
            let pool = PgPoolOptions::new()
                .max_connections(s.max_connections)
                .acquire_timeout(s.connect_timeout)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_lazy_with(options);
            Ok(SqlPool::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .read_only(true)
                .create_if_missing(false);
            let pool = SqlitePoolOptions::new()
                .max_connections(s.max_connections)
                .acquire_timeout(s.connect_timeout)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_lazy_with(options);
            Ok(SqlPool::Sqlite(pool))
        } else {
            anyhow::bail!("unsupported database URL scheme (use postgres:// or sqlite:)")
        }
    }

    /// Whether `sql`, bound with `params` (as text), returns at least one row.
    pub async fn exists(
        &self,
        sql: &str,
        params: &[String],
        timeout: Duration,
    ) -> Result<bool, SqlError> {
        let run = async {
            Ok::<_, sqlx::Error>(match self {
                SqlPool::Postgres(pool) => {
                    let mut q = sqlx::query(sql);
                    for p in params {
                        q = q.bind(p.as_str());
                    }
                    q.fetch_optional(pool).await?.is_some()
                }
                SqlPool::Sqlite(pool) => {
                    let mut q = sqlx::query(sql);
                    for p in params {
                        q = q.bind(p.as_str());
                    }
                    q.fetch_optional(pool).await?.is_some()
                }
            })
        };
        tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| SqlError::Timeout)?
            .map_err(SqlError::Db)
    }

    /// A Django session row, its `session_data` only when it is at most `max_bytes` long: the
    /// length is taken by the database (`octet_length`, which reads neither a TOASTed Postgres
    /// value nor a SQLite value's overflow pages), so a longer value is never read or sent.
    pub async fn django_session(
        &self,
        table: &str,
        key: &str,
        max_bytes: u32,
        timeout: Duration,
    ) -> Result<Option<DjangoSessionRow>, SqlError> {
        let run = async {
            match self {
                SqlPool::Postgres(pool) => {
                    let sql = format!(
                        "SELECT CASE WHEN octet_length(session_data) <= $2 THEN session_data END, \
                         octet_length(session_data)::bigint, \
                         (EXTRACT(EPOCH FROM expire_date) * 1000000)::bigint \
                         FROM {table} WHERE session_key = $1"
                    );
                    let row = sqlx::query(&sql)
                        .bind(key)
                        .bind(i64::from(max_bytes))
                        .fetch_optional(pool)
                        .await?;
                    row.map(|r| {
                        Ok(DjangoSessionRow {
                            data: r.try_get(0)?,
                            bytes: r.try_get(1)?,
                            expire_micros: r.try_get(2)?,
                        })
                    })
                    .transpose()
                }
                SqlPool::Sqlite(pool) => {
                    let sql = format!(
                        "SELECT CASE WHEN octet_length(session_data) <= ?2 THEN session_data END, \
                         octet_length(session_data), expire_date \
                         FROM {table} WHERE session_key = ?1"
                    );
                    let row = sqlx::query(&sql)
                        .bind(key)
                        .bind(i64::from(max_bytes))
                        .fetch_optional(pool)
                        .await?;
                    row.map(|r| {
                        let expire: String = r.try_get(2)?;
                        let expire_micros = parse_datetime_micros(&expire).ok_or_else(|| {
                            sqlx::Error::Decode("expire_date is not a date".into())
                        })?;
                        Ok(DjangoSessionRow {
                            data: r.try_get(0)?,
                            bytes: r.try_get(1)?,
                            expire_micros,
                        })
                    })
                    .transpose()
                }
            }
        };
        tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| SqlError::Timeout)?
            .map_err(SqlError::Db)
    }

    /// Checks a statement against the database without running it.
    pub async fn prepare(&self, sql: &str, timeout: Duration) -> Result<(), SqlError> {
        use sqlx::Executor;
        let run = async {
            match self {
                SqlPool::Postgres(pool) => pool.describe(sql).await.map(|_| ()),
                SqlPool::Sqlite(pool) => pool.describe(sql).await.map(|_| ()),
            }
        };
        tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| SqlError::Timeout)?
            .map_err(SqlError::Db)
    }

    pub async fn ping(&self, timeout: Duration) -> Result<(), SqlError> {
        self.exists("SELECT 1", &[], timeout).await.map(|_| ())
    }
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` (optionally with `T` and a `+00:00`/`Z` suffix), UTC, to
/// microseconds since the epoch. Django stores UTC this way in SQLite.
pub fn parse_datetime_micros(text: &str) -> Option<i64> {
    let text = text.trim().trim_end_matches('Z').trim_end_matches("+00:00");
    let (date, time) = text.split_once([' ', 'T'])?;
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':');
    let (h, mi, s): (i64, i64, i64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || h > 23
        || mi > 59
        || s > 60
        || frac.len() > 6
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let micros: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + s) * 1_000_000) + micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime_micros("1970-01-01 00:00:00"), Some(0));
        assert_eq!(
            parse_datetime_micros("2025-06-01 13:00:00"),
            Some(1_748_782_800_000_000)
        );
        assert_eq!(
            parse_datetime_micros("2025-06-15 12:00:00.123456"),
            Some(1_749_988_800_123_456)
        );
        assert_eq!(
            parse_datetime_micros("2025-06-15T12:00:00.5+00:00"),
            Some(1_749_988_800_500_000)
        );
        assert_eq!(
            parse_datetime_micros("2000-02-29 00:00:00"),
            Some(951_782_400_000_000)
        );
        for bad in [
            "",
            "2025-13-01 00:00:00",
            "yesterday",
            "2025-06-01",
            "2025-06-01 25:00:00",
            "2025-06-01 00:00:00.1234567",
        ] {
            assert_eq!(parse_datetime_micros(bad), None, "{bad}");
        }
    }
}
