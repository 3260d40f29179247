//! What the `headway` command does to a database as a whole: migrate it, verify its
//! audit chains, seed the demo clinic, create a clinic with its first admin. These run
//! from the command line, before (or without) any caller: they pass no gate and leave
//! no audit event, as before the operations layer.

use diesel::prelude::*;
use domain::{
    client::{Demographics, DemographicsInput, TeamRole},
    identity::{Discipline, Role, Scopes, User},
    policy::CaregiverPermission,
};
use uuid::Uuid;

use crate::{
    accounts::{self, NewUser},
    audit::{self, VerifyReport},
    clients::{self, NewLink, NewMember},
    db, now, Backend, Clinic, Conn, Reached, StoreError, StoreResult,
};

/// The demo clinic's secrets, hashed by the caller (who owns the hashing policy).
#[derive(Debug, Clone)]
pub struct DemoSecrets {
    /// Every demo person's password.
    pub password_hash: String,
    /// The demo integration's client secret.
    pub service_secret_hash: String,
}

/// Who was seeded: (login, role, name) of each person, and the integration's id.
#[derive(Debug, Clone)]
pub struct DemoClinic {
    pub people: Vec<(String, Role, String)>,
    pub service_client_id: Uuid,
}

/// A new clinic's first admin; the password hash is computed by the caller.
#[derive(Debug, Clone)]
pub struct FirstAdmin {
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
}

impl Clinic {
    /// Applies pending migrations without starting anything else (`headway migrate`);
    /// returns their names.
    pub fn migrate(backend: &Backend) -> StoreResult<Vec<String>> {
        db::migrate(&mut db::connect(backend)?)
    }

    /// Checks every organization's audit hash chain on one consistent snapshot,
    /// changing nothing, not even migrations (`headway audit verify`).
    pub fn verify_audit_chain(backend: &Backend) -> StoreResult<VerifyReport> {
        audit::verify_chain(&mut db::connect(backend)?)
    }

    /// Whether the database holds no organization at all.
    pub fn is_empty(&self) -> StoreResult<bool> {
        self.read(accounts::is_empty)
    }

    /// Seeds the demo clinic if (and only if) the database holds no organization;
    /// `None` when it holds one.
    pub fn seed_demo(&self, secrets: DemoSecrets) -> StoreResult<Option<DemoClinic>> {
        self.write(move |c| {
            if !accounts::is_empty(c)? {
                return Ok(None);
            }
            seed(c, &secrets.password_hash, &secrets.service_secret_hash).map(Some)
        })
    }

    /// The people of the demo clinic, by login, when (and only when) the database
    /// holds the demo clinic exactly as [`Clinic::seed_demo`] left it: that one
    /// organization, no episode of care, and not a single audit event (nobody has
    /// signed in or done anything yet). `None` otherwise: a database that holds data
    /// gets nothing seeded into it. The demo's story is then told through the
    /// operations, as these people (`headway demo`).
    pub fn untouched_demo_people(&self, logins: &[&str]) -> StoreResult<Option<Vec<User>>> {
        let logins: Vec<String> = logins.iter().map(|l| (*l).to_owned()).collect();
        self.read(move |c| {
            if !untouched_demo(c)? {
                return Ok(None);
            }
            let mut people = Vec::new();
            for login in &logins {
                match accounts::credentials_by_email(c, login)? {
                    Some((user, _)) if user.active => people.push(user),
                    _ => return Ok(None),
                }
            }
            Ok(Some(people))
        })
    }

    /// Creates a clinic and its first admin (`headway create-org`): the clinic's and
    /// the admin's ids.
    pub fn create_organization(&self, name: &str, admin: FirstAdmin) -> StoreResult<(Uuid, Uuid)> {
        let name = name.trim().to_owned();
        self.write(move |c| {
            let org = accounts::create_organization(c, domain::new_id(), &name, now())?;
            let admin = accounts::insert_user(
                c,
                NewUser {
                    id: domain::new_id(),
                    organization_id: org.id,
                    email: Some(admin.email),
                    display_name: admin.display_name.trim().to_owned(),
                    role: Role::Admin,
                    discipline: None,
                    client_id: None,
                    password_hash: Some(admin.password_hash),
                    scopes: Scopes::default(),
                },
                now(),
            )?;
            Ok((org.id, admin.id))
        })
    }
}

/// The name of the demo clinic's organization.
const DEMO_ORGANIZATION: &str = "Riverside Therapy (demo)";

/// Whether the database holds the demo clinic as seeded and nothing else has happened.
fn untouched_demo(c: &mut Conn) -> StoreResult<bool> {
    use crate::schema::{audit_events, episodes, organizations};
    let names: Vec<String> = organizations::table
        .select(organizations::name)
        .limit(2)
        .load(c)?;
    if names != [DEMO_ORGANIZATION] {
        return Ok(false);
    }
    let events: i64 = audit_events::table.count().get_result(c)?;
    let episodes: i64 = episodes::table.count().get_result(c)?;
    Ok(events == 0 && episodes == 0)
}

fn seed(c: &mut Conn, hash: &str, secret_hash: &str) -> StoreResult<DemoClinic> {
    let t = now();
    let org = accounts::create_organization(c, domain::new_id(), DEMO_ORGANIZATION, t)?.id;
    let mut people = Vec::new();
    let mut person = |c: &mut Conn,
                      email: &str,
                      name: &str,
                      role: Role,
                      discipline: Option<Discipline>,
                      client_id: Option<Uuid>| {
        let user = accounts::insert_user(
            c,
            NewUser {
                id: domain::new_id(),
                organization_id: org,
                email: Some(email.to_owned()),
                display_name: name.to_owned(),
                role,
                discipline,
                client_id,
                password_hash: Some(hash.to_owned()),
                scopes: Scopes::default(),
            },
            t,
        )?;
        people.push((email.to_owned(), role, name.to_owned()));
        Ok::<_, StoreError>(user.id)
    };
    let admin = person(
        c,
        "admin@riverside.example",
        "Ada Admin",
        Role::Admin,
        None,
        None,
    )?;
    let ot = person(
        c,
        "olivia.ot@riverside.example",
        "Olivia Okafor, OT",
        Role::Therapist,
        Some(Discipline::OccupationalTherapy),
        None,
    )?;
    let pt = person(
        c,
        "peter.pt@riverside.example",
        "Peter Park, PT",
        Role::Therapist,
        Some(Discipline::PhysicalTherapy),
        None,
    )?;
    let today = t.date_naive();
    let client = |c: &mut Conn, name: &str, preferred: &str, mrn: &str| {
        let d = Demographics::parse(
            &DemographicsInput {
                name,
                preferred_name: Some(preferred),
                identifiers: vec![("urn:demo-ehr:mrn", mrn)],
                ..Default::default()
            },
            today,
        )?;
        Ok::<_, StoreError>(clients::create(c, org, domain::new_id(), d, t)?.id)
    };
    let maria = client(c, "Maria Lopez", "Maria", "MRN-1001")?;
    let sam = client(c, "Samuel Osei", "Sam", "MRN-1002")?;
    let jun = client(c, "Jun Tanaka", "Jun", "MRN-1003")?;
    for (client_id, therapist, role) in [
        (maria, ot, TeamRole::PrimaryTherapist),
        (maria, pt, TeamRole::Consulting),
        (sam, ot, TeamRole::PrimaryTherapist),
        (jun, pt, TeamRole::PrimaryTherapist),
    ] {
        let member = NewMember {
            id: domain::new_id(),
            therapist_id: therapist,
            team_role: role,
        };
        clients::add_to_care_team(c, Reached::without_caller(client_id, org), member, admin, t)?;
    }
    person(
        c,
        "maria@client.example",
        "Maria",
        Role::Client,
        None,
        Some(maria),
    )?;
    person(
        c,
        "sam@client.example",
        "Sam",
        Role::Client,
        None,
        Some(sam),
    )?;
    person(
        c,
        "jun@client.example",
        "Jun",
        Role::Client,
        None,
        Some(jun),
    )?;
    let carer = person(
        c,
        "lucia@family.example",
        "Lucia Lopez",
        Role::Caregiver,
        None,
        None,
    )?;
    let link = NewLink {
        id: domain::new_id(),
        caregiver_id: carer,
        relationship: Some("daughter".into()),
        permission: CaregiverPermission::View,
    };
    clients::link_caregiver(c, Reached::without_caller(maria, org), link, admin, t)?;
    let service = accounts::insert_user(
        c,
        NewUser {
            id: domain::new_id(),
            organization_id: org,
            email: None,
            display_name: "Demo EHR integration".into(),
            role: Role::Service,
            discipline: None,
            client_id: None,
            password_hash: Some(secret_hash.to_owned()),
            scopes: Scopes::parse("clients:read clinical:read").unwrap_or_default(),
        },
        t,
    )?;
    Ok(DemoClinic {
        people,
        service_client_id: service.id,
    })
}
