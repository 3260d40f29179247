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
        let clinic = Clinic {
            pool,
            writer,
            views: Arc::default(),
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
