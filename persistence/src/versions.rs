//! The compare-and-set behind If-Match: an update names the version it was made
//! against ([`Expected`]); inside the write's transaction the stored version is
//! compared with it, and the row's version moves on by one only where it still is
//! the version read (`UPDATE ... WHERE version = read`), so of two writers that read
//! the same version, on one instance or several, exactly one succeeds.

pub use domain::version::Expected;

use crate::{StoreError, StoreResult};

/// Refuses an update made against another version than the one stored.
pub(crate) fn expect(expected: &Expected, current: i32) -> StoreResult<()> {
    if expected.admits(current) {
        Ok(())
    } else {
        Err(StoreError::Stale { current })
    }
}

/// Moves one row's `version` on from `read` to `read + 1`, or refuses with the
/// version it is at when another write moved it first. `$row` is a filter of the
/// table that selects the one row. Call inside a write transaction.
macro_rules! bump {
    ($conn:expr, $table:ident, $row:expr, $read:expr) => {{
        let read: i32 = $read;
        let changed = diesel::update($row.filter($table::version.eq(read)))
            .set($table::version.eq($table::version + 1))
            .execute($conn)?;
        if changed == 1 {
            Ok(read + 1)
        } else {
            let current: i32 = $row.select($table::version).first($conn)?;
            Err($crate::StoreError::Stale { current })
        }
    }};
}
pub(crate) use bump;
