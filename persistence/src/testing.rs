//! A fresh, seeded database for the persistence unit tests: a temporary SQLite file,
//! or (with `HEADWAY_TEST_PG` set) a fresh schema in that PostgreSQL, as the
//! black-box harness does (`tests/lib.rs`).

use diesel::{connection::SimpleConnection, prelude::*, PgConnection};
use domain::{
    audit::RequestMeta,
    client::{Demographics, DemographicsInput, TeamRole},
    identity::{Principal, Role, Scopes},
};
use uuid::Uuid;

use crate::{
    accounts::{self, NewUser},
    audit::Subject,
    clients::{self, NewMember},
    db,
    gate::Caller,
    now,
    schema::audit_events,
    Backend, Conn, StoreError, Writer,
};

/// A signed-in person: who their token says they are, and their session.
#[derive(Debug, Clone)]
pub struct Person {
    pub who: Principal,
    pub session_id: Uuid,
}

/// One audit event, as the tests look at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub action: String,
    pub outcome: String,
    pub client_id: Option<String>,
}

/// Riverside, a clinic with an admin, a therapist on Maria's care team, a therapist
/// on nobody's, Maria and Sam (on no team); and Hillside, another clinic with its own
/// therapist. Everyone has a live session.
pub struct Riverside {
    pub backend: Backend,
    /// The one door, as the API uses it.
    pub door: crate::Clinic,
    pub writer: Writer,
    pub organization: Uuid,
    pub admin: Person,
    pub therapist: Person,
    pub off_team_therapist: Person,
    pub other_clinic_therapist: Person,
    pub maria: Uuid,
    pub sam: Uuid,
    _dir: Option<tempfile::TempDir>,
}

pub(crate) fn backend() -> (Backend, Option<tempfile::TempDir>) {
    match std::env::var("HEADWAY_TEST_PG")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(base) => {
            // One schema per test in a shared database: cheap, and no cluster-wide lock.
            let schema = format!("u_{}", domain::new_id().simple());
            let mut conn = PgConnection::establish(&base)
                .unwrap_or_else(|e| panic!("cannot reach test PostgreSQL: {e}"));
            conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                .unwrap_or_else(|e| panic!("{e}"));
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
            (Backend::Postgres(url), None)
        }
        None => {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let path = dir.path().join("headway.db").display().to_string();
            (Backend::Sqlite(path), Some(dir))
        }
    }
}

fn person(
    c: &mut Conn,
    organization: Uuid,
    role: Role,
    client_id: Option<Uuid>,
) -> Result<Person, StoreError> {
    let t = now();
    let user = accounts::insert_user(
        c,
        NewUser {
            id: domain::new_id(),
            organization_id: organization,
            email: None,
            display_name: format!("{role:?}"),
            role,
            discipline: None,
            client_id,
            password_hash: None,
            scopes: Scopes::default(),
        },
        t,
    )?;
    let session_id = accounts::start_session(
        c,
        user.id,
        &Scopes::default(),
        &format!("refresh-{}", user.id),
        t,
        chrono::Duration::hours(1),
    )?;
    Ok(Person {
        who: Principal {
            user_id: user.id,
            organization_id: organization,
            role,
            client_id,
            scopes: Scopes::default(),
        },
        session_id,
    })
}

fn client(c: &mut Conn, organization: Uuid, name: &str) -> Result<Uuid, StoreError> {
    let t = now();
    let d = Demographics::parse(
        &DemographicsInput {
            name,
            ..Default::default()
        },
        t.date_naive(),
    )?;
    Ok(clients::create(c, organization, domain::new_id(), d, t)?.id)
}

impl Riverside {
    pub fn new() -> Self {
        let (backend, dir) = backend();
        let mut conn = db::connect(&backend).unwrap_or_else(|e| panic!("{e}"));
        db::migrate(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        let seeded = db::write(&mut conn, |c| {
            let t = now();
            let org = accounts::create_organization(c, domain::new_id(), "Riverside", t)?.id;
            let other = accounts::create_organization(c, domain::new_id(), "Hillside", t)?.id;
            let admin = person(c, org, Role::Admin, None)?;
            let therapist = person(c, org, Role::Therapist, None)?;
            let off_team_therapist = person(c, org, Role::Therapist, None)?;
            let other_clinic_therapist = person(c, other, Role::Therapist, None)?;
            let maria = client(c, org, "Maria Lopez")?;
            let sam = client(c, org, "Samuel Osei")?;
            let member = NewMember {
                id: domain::new_id(),
                therapist_id: therapist.who.user_id,
                team_role: TeamRole::PrimaryTherapist,
            };
            let maria_reached = crate::Reached::without_caller(maria, org);
            clients::add_to_care_team(c, maria_reached, member, admin.who.user_id, t)?;
            Ok::<_, StoreError>((
                org,
                admin,
                therapist,
                off_team_therapist,
                other_clinic_therapist,
                maria,
                sam,
            ))
        })
        .unwrap_or_else(|e| panic!("seed: {e}"));
        let (
            organization,
            admin,
            therapist,
            off_team_therapist,
            other_clinic_therapist,
            maria,
            sam,
        ) = seeded;
        let (door, _) = crate::Clinic::open(&backend, 8).unwrap_or_else(|e| panic!("{e}"));
        let writer = door.writer.clone();
        Riverside {
            backend,
            door,
            writer,
            organization,
            admin,
            therapist,
            off_team_therapist,
            other_clinic_therapist,
            maria,
            sam,
            _dir: dir,
        }
    }

    /// The gate's view of one request by `person`.
    pub fn caller(&self, person: &Person) -> Caller {
        Caller::new(
            person.who.clone(),
            Some(person.session_id),
            RequestMeta {
                request_id: Some(format!("req-{}", domain::new_id())),
                source_ip: Some("127.0.0.1".into()),
            },
        )
    }

    /// A connection of its own, as another request would have.
    pub fn connect(&self) -> Conn {
        db::connect(&self.backend).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Every stored audit event, oldest first, read on a connection of its own.
    pub fn events(&self) -> Vec<Event> {
        let rows: Vec<(String, String, Option<String>)> = audit_events::table
            .select((
                audit_events::action,
                audit_events::outcome,
                audit_events::client_id,
            ))
            .order((audit_events::occurred_at, audit_events::id))
            .load(&mut self.connect())
            .unwrap_or_else(|e| panic!("{e}"));
        rows.into_iter()
            .map(|(action, outcome, client_id)| Event {
                action,
                outcome,
                client_id,
            })
            .collect()
    }

    /// A client's name as stored now.
    pub fn name_of(&self, client_id: Uuid) -> String {
        clients::get(&mut self.connect(), self.organization, client_id)
            .unwrap_or_else(|e| panic!("{e}"))
            .name
    }
}

/// The subject the tests' operations are audited under.
pub fn subject(action: &'static str) -> Subject {
    Subject {
        action,
        resource_type: "client",
        resource_id: None,
        client_id: None,
    }
}

/// Demographics with a new name, for a write that changes something visible.
pub fn renamed(name: &str) -> Demographics {
    Demographics::parse(
        &DemographicsInput {
            name,
            ..Default::default()
        },
        now().date_naive(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

// --- Accounts and sign-in (ops/auth_tests.rs, users_tests.rs, admin_tests.rs) -------

impl Riverside {
    /// A Riverside account of `role` that signs in as `email`, with the stored
    /// password hash `hash` (the tests' checker reads `plain:<password>`).
    pub fn login(&self, email: &str, role: Role, hash: &str) -> domain::identity::User {
        let new = NewUser {
            id: domain::new_id(),
            organization_id: self.organization,
            email: Some(email.to_owned()),
            display_name: email.to_owned(),
            role,
            discipline: None,
            client_id: None,
            password_hash: Some(hash.to_owned()),
            scopes: Scopes::default(),
        };
        db::write(&mut self.connect(), |c| {
            accounts::insert_user(c, new, now())
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// An account's stored password hash, by login.
    pub fn password_hash_of(&self, email: &str) -> Option<String> {
        accounts::credentials_by_email(&mut self.connect(), email)
            .unwrap_or_else(|e| panic!("{e}"))
            .and_then(|(_, hash)| hash)
    }
}

/// A door to a fresh, migrated and empty database, with what keeps it alive.
pub fn empty_clinic() -> (crate::Clinic, Backend, Option<tempfile::TempDir>) {
    let (backend, dir) = backend();
    let (clinic, _) = crate::Clinic::open(&backend, 2).unwrap_or_else(|e| panic!("{e}"));
    (clinic, backend, dir)
}

impl Riverside {
    /// A signed-in account for one of Riverside's clients (their own record).
    pub fn client_account(&self, client_id: Uuid) -> Person {
        db::write(&mut self.connect(), |c| {
            person(c, self.organization, Role::Client, Some(client_id))
        })
        .unwrap_or_else(|e| panic!("client account: {e}"))
    }
}

// --- Measures and measurements (ops/measures_tests.rs) -----------------------------

impl Riverside {
    /// A new active episode of care for `client_id`.
    pub fn episode_of(&self, client_id: Uuid) -> Uuid {
        use crate::schema::episodes;
        let (id, org, t) = (domain::new_id(), self.organization, now().naive_utc());
        db::write(&mut self.connect(), |c| {
            diesel::insert_into(episodes::table)
                .values((
                    episodes::id.eq(id.to_string()),
                    episodes::organization_id.eq(org.to_string()),
                    episodes::client_id.eq(client_id.to_string()),
                    episodes::reason_for_referral.eq("Referral"),
                    episodes::diagnoses.eq("[]"),
                    episodes::start_date.eq(t.date()),
                    episodes::status.eq("active"),
                    episodes::goal_count.eq(0),
                    episodes::progress_version.eq(0_i64),
                    episodes::created_by.eq(self.admin.who.user_id.to_string()),
                    episodes::created_at.eq(t),
                    episodes::updated_at.eq(t),
                ))
                .execute(c)
                .map_err(StoreError::from)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        id
    }

    /// How many measurement rows are stored, of anyone's.
    pub fn measurement_rows(&self) -> i64 {
        use crate::schema::measurements;
        measurements::table
            .count()
            .get_result(&mut self.connect())
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

// --- Clients, care and audit (ops/clients_tests.rs, care_tests.rs, audit_tests.rs) ---

/// One event about a client, as [`Riverside::events`] shows it.
pub fn event(action: &str, outcome: &str, client: Uuid) -> Event {
    Event {
        action: action.to_owned(),
        outcome: outcome.to_owned(),
        client_id: Some(client.to_string()),
    }
}

impl Riverside {
    /// The events stored after the first `from` (a length of [`Riverside::events`]).
    pub fn events_since(&self, from: usize) -> Vec<Event> {
        self.events().into_iter().skip(from).collect()
    }

    /// Runs `op` on Maria's record as each principal outside its reach (a therapist
    /// off her team, a therapist of another clinic): each is answered as if Maria did
    /// not exist, and leaves exactly one `not-found` event for `action`.
    pub fn refuses_outsiders<T: std::fmt::Debug>(
        &self,
        action: &str,
        op: impl Fn(&Caller) -> Result<T, StoreError>,
    ) {
        for person in [&self.off_team_therapist, &self.other_clinic_therapist] {
            let before = self.events().len();
            let result = op(&self.caller(person));
            assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
            assert_eq!(
                self.events_since(before),
                vec![event(action, "not-found", self.maria)]
            );
        }
    }
}
