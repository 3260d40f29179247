//! Connections: one diesel code path over SQLite (embedded default) and PostgreSQL.

use std::time::Duration;

use diesel::{
    connection::{AnsiTransactionManager, SimpleConnection, TransactionManager},
    pg::PgConnection,
    r2d2::R2D2Connection,
    sqlite::SqliteConnection,
    Connection,
};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::StoreError;

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

pub type Conn = DbConnection;
pub type Pool = r2d2::Pool<Manager>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// Where the data lives, parsed from a `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A file path (`sqlite://headway.db`, `sqlite:///var/lib/headway.db`).
    Sqlite(String),
    /// A libpq connection URL.
    Postgres(String),
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() || path == ":memory:" {
                // A memory database is private to one connection; a pool of them is
                // a pool of different, empty databases.
                return Err(StoreError::Config(
                    "DATABASE_URL: SQLite needs a file path".into(),
                ));
            }
            Ok(Backend::Sqlite(path.to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres(url.to_owned()))
        } else {
            Err(StoreError::Config(
                "DATABASE_URL must start with sqlite:// or postgres://".into(),
            ))
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// Opens connections for the pool, setting SQLite up for safe concurrent use.
#[derive(Debug, Clone)]
pub struct Manager {
    backend: Backend,
}

/// SQLite settings applied to every connection (`foreign_keys` and `busy_timeout` are
/// per connection). `synchronous=FULL`: in WAL mode a commit survives power loss only
/// with FULL, and health records deserve that.
/// `busy_timeout` goes first: switching to WAL takes a lock that other new
/// connections must wait for, not fail on.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000;
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;";

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        match &self.backend {
            Backend::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
            Backend::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Postgresql)
                .map_err(diesel::r2d2::Error::ConnectionError),
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

/// Opens one connection outside the pool (the writer thread keeps its own).
pub fn connect(backend: &Backend) -> Result<DbConnection, StoreError> {
    use r2d2::ManageConnection;
    Manager {
        backend: backend.clone(),
    }
    .connect()
    .map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// Opens a pool; `size` is the most connections it will hold.
pub fn open_pool(backend: &Backend, size: u32) -> Result<Pool, StoreError> {
    // SQLite in WAL mode reads concurrently; writes go through the single writer
    // thread, so pooled connections are readers. 32 is plenty for two cores.
    let size = match backend {
        Backend::Sqlite(_) => size.min(32),
        Backend::Postgres(_) => size,
    };
    r2d2::Pool::builder()
        .max_size(size.max(1))
        .connection_timeout(Duration::from_secs(10))
        .build(Manager {
            backend: backend.clone(),
        })
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

fn migrations(conn: &DbConnection) -> EmbeddedMigrations {
    match conn {
        DbConnection::Sqlite(_) => SQLITE_MIGRATIONS,
        DbConnection::Postgresql(_) => POSTGRES_MIGRATIONS,
    }
}

/// Applies every pending migration; returns their names.
pub fn migrate(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    let source = migrations(conn);
    let applied = conn
        .run_pending_migrations(source)
        .map_err(|e| StoreError::Migration(e.to_string()))?;
    Ok(applied.iter().map(ToString::to_string).collect())
}

/// Reverts the newest applied migration (used by the down-reverts-up check).
pub fn revert_last(conn: &mut DbConnection) -> Result<String, StoreError> {
    let source = migrations(conn);
    conn.revert_last_migration(source)
        .map(|v| v.to_string())
        .map_err(|e| StoreError::Migration(e.to_string()))
}

/// Applies the next pending migration only.
pub fn migrate_one(conn: &mut DbConnection) -> Result<Option<String>, StoreError> {
    let source = migrations(conn);
    let pending = conn
        .pending_migrations(source)
        .map_err(|e| StoreError::Migration(e.to_string()))?;
    match pending.first() {
        None => Ok(None),
        Some(m) => conn
            .run_migration(m.as_ref())
            .map(|v| Some(v.to_string()))
            .map_err(|e| StoreError::Migration(e.to_string())),
    }
}

/// Runs `f` in a write transaction. On SQLite it begins IMMEDIATE: a deferred
/// transaction that later writes fails with SQLITE_BUSY at once, ignoring busy_timeout.
pub fn write<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        DbConnection::Postgresql(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            // The error that made us roll back is the one worth reporting.
            let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
            Err(e)
        }
    }
}

/// Runs `f` in a read transaction, for a consistent view across several queries.
pub fn read<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    conn.transaction(f)
}

/// Whether the database answers (readiness).
pub fn ping(conn: &mut DbConnection) -> Result<(), StoreError> {
    conn.batch_execute("SELECT 1").map_err(StoreError::from)
}

/// Inserts `$rows` (a `Vec` of one table's insertable rows) into `$table`. In-process
/// (SQLite), one cached single-row statement per row costs less than preparing a
/// multi-row statement whose text changes with the count; over the network
/// (PostgreSQL), one multi-row statement per 500 rows saves round trips. Multi-row
/// inserts are backend-specific in diesel, hence the match.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            $crate::DbConnection::Sqlite(c) => {
                for row in &$rows {
                    diesel::insert_into($table).values(row).execute(c)?;
                }
            }
            $crate::DbConnection::Postgresql(c) => {
                for chunk in $rows.chunks(500) {
                    diesel::insert_into($table).values(chunk).execute(c)?;
                }
            }
        }
    };
}
pub(crate) use insert_rows;
