//! Each migration's down really reverts its up, on whichever backend the suite runs on.

use diesel::{sql_query, sql_types::Text, QueryableByName, RunQueryDsl};
use headway_tests::TestDb;
use persistence::db::{self, DbConnection};

#[derive(QueryableByName, PartialEq, Eq, Debug, PartialOrd, Ord)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// The schema as text: every table, column, index and trigger, sorted.
fn schema(conn: &mut DbConnection) -> Vec<String> {
    let query = match conn {
        DbConnection::Sqlite(_) => {
            "SELECT type || ' ' || name || ' ' || coalesce(sql, '') AS line FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name != '__diesel_schema_migrations'"
        }
        DbConnection::Postgresql(_) => {
            "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') AS line
               FROM information_schema.columns WHERE table_schema = current_schema() AND table_name != '__diesel_schema_migrations'
             UNION ALL SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename != '__diesel_schema_migrations'
             UNION ALL SELECT 'trigger ' || trigger_name || ' ' || event_manipulation FROM information_schema.triggers WHERE trigger_schema = current_schema()
             UNION ALL SELECT 'function ' || routine_name FROM information_schema.routines WHERE routine_schema = current_schema()"
        }
    };
    let mut lines: Vec<String> = sql_query(query)
        .load::<Line>(conn)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|l| l.line)
        .collect();
    lines.sort();
    lines
}

#[test]
fn each_migration_down_reverts_its_up() {
    let test_db = TestDb::new();
    let backend = persistence::Backend::from_url(&test_db.url).unwrap_or_else(|e| panic!("{e}"));
    let pool = db::open_pool(&backend, 1).unwrap_or_else(|e| panic!("{e}"));
    let mut conn = pool.get().unwrap_or_else(|e| panic!("{e}"));
    let mut count = 0;
    loop {
        let before = schema(&mut conn);
        let Some(name) = db::migrate_one(&mut conn).unwrap_or_else(|e| panic!("{e}")) else {
            break;
        };
        let applied = schema(&mut conn);
        assert_ne!(applied, before, "{name} changed nothing");
        db::revert_last(&mut conn).unwrap_or_else(|e| panic!("revert {name}: {e}"));
        assert_eq!(schema(&mut conn), before, "{name}: down did not revert up");
        db::migrate_one(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        count += 1;
    }
    assert!(count >= 1);
    assert!(db::migrate(&mut conn)
        .unwrap_or_else(|e| panic!("{e}"))
        .is_empty());
}

#[test]
fn the_audit_trail_is_append_only_in_the_database_too() {
    let app = headway_tests::TestApp::spawn();
    app.login("admin@riverside.example");
    let mut conn = app.pool.get().unwrap_or_else(|e| panic!("{e}"));
    let update = sql_query("UPDATE audit_events SET outcome = 'success'").execute(&mut *conn);
    assert!(update.is_err(), "audit events must not be updatable");
    let delete = sql_query("DELETE FROM audit_events").execute(&mut *conn);
    assert!(delete.is_err(), "audit events must not be deletable");
}
