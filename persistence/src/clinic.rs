//! The one door to the clinic's data. Every operation a person or system performs
//! (register a client, propose a goal, record a measurement, read a progress view,
//! sign in...) is a method of [`Clinic`], in `ops/`: it takes the confirmed caller and
//! parsed domain input, passes the gate (policy, transaction, one audit event) and
//! returns domain values or a [`StoreError`]. Nothing outside this crate can obtain a
//! connection or run a query.

use std::sync::Arc;

use crate::{db, Backend, Conn, Pool, StoreError, StoreResult, Writer};

/// The clinic's records: a pool of readers, the instance's writer, and the
/// progress views this instance holds in memory.
#[derive(Clone)]
pub struct Clinic {
    pub(crate) pool: Pool,
    pub(crate) writer: Writer,
    pub(crate) views: Arc<crate::ops::progress::ViewCache>,
    pub(crate) searches: Arc<crate::ops::search::SearchCache>,
    backend: Backend,
}

impl std::fmt::Debug for Clinic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clinic")
            .field("backend", &self.backend.name())
            .finish_non_exhaustive()
    }
}

impl Clinic {
    /// Opens the database, applies pending migrations (returning their names) and
    /// starts the writer. `pool_size` is the most pooled connections.
    pub fn open(backend: &Backend, pool_size: u32) -> StoreResult<(Clinic, Vec<String>)> {
        let pool = db::open_pool(backend, pool_size)?;
        let applied = db::migrate(&mut *pool.get()?)?;
        let writer = Writer::start(backend)?;
        if let Backend::Postgres(_) = backend {
            listen_for_changes(backend.clone(), Arc::downgrade(&writer.heads));
        }
        let clinic = Clinic {
            pool,
            writer,
            views: Arc::default(),
            searches: Arc::default(),
            backend: backend.clone(),
        };
        Ok((clinic, applied))
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Whether the database answers (readiness).
    pub fn ready(&self) -> StoreResult<()> {
        db::ping(&mut *self.pool.get()?)
    }

    /// Runs `f` for a confirmed caller (see the gate), ungated and unaudited: only
    /// for what is not a client's record (the caller's own account, the catalogue).
    pub(crate) fn confirmed_read<T>(
        &self,
        caller: &crate::Caller,
        f: impl FnOnce(&mut Conn) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.pool.get().map_err(StoreError::from)?;
        caller.confirm(&mut conn)?;
        db::read(&mut conn, f)
    }

    /// Runs `f` in a read transaction on a pooled connection, ungated: only for what
    /// is not a client's record and has no caller yet (sign-in).
    #[allow(dead_code)] // the sign-in operations use it next
    pub(crate) fn read<T>(&self, f: impl FnOnce(&mut Conn) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.pool.get().map_err(StoreError::from)?;
        db::read(&mut conn, f)
    }

    /// Runs `f` through the writer, ungated: the same restriction as [`Clinic::read`].
    pub(crate) fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> StoreResult<T> + Send + 'static,
    {
        self.writer.run(f)
    }
}

/// Hears other instances' commits to the change log (PostgreSQL NOTIFY, sent in the
/// committing transaction) and passes the new head to this instance's streams. Stops
/// when the clinic is dropped.
fn listen_for_changes(backend: Backend, heads: std::sync::Weak<tokio::sync::watch::Sender<i64>>) {
    use diesel::RunQueryDsl;
    let alive = heads.clone();
    let listen = move || -> StoreResult<()> {
        let mut conn = db::connect(&backend)?;
        let crate::DbConnection::Postgresql(pg) = &mut conn else {
            return Ok(());
        };
        diesel::sql_query(format!("LISTEN {}", crate::changes::CHANNEL)).execute(pg)?;
        loop {
            let Some(heads) = heads.upgrade() else {
                return Ok(());
            };
            for notification in pg.notifications_iter() {
                let head = notification?.payload.parse::<i64>().unwrap_or(0);
                heads.send_if_modified(|known| {
                    let newer = head > *known;
                    *known = (*known).max(head);
                    newer
                });
            }
            drop(heads);
            // Reading pending notifications does not block; a short nap bounds the
            // cross-instance delay without a busy loop.
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    let spawned = std::thread::Builder::new()
        .name("headway-listen".into())
        .spawn(move || loop {
            match listen() {
                Ok(()) => return,
                Err(_) if alive.strong_count() == 0 => return,
                Err(e) => {
                    tracing::warn!(error = %e, "change notifications lost; listening again");
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot listen for other instances' changes");
    }
}
