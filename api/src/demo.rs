//! A demo clinic for newcomers: seeded only into an empty database.

use domain::{
    client::{Demographics, DemographicsInput, TeamRole},
    identity::{Discipline, Role, Scopes},
    policy::CaregiverPermission,
};
use persistence::{
    accounts::{self, NewUser},
    clients::{self, NewLink, NewMember},
    db, now, Conn, StoreError,
};
use uuid::Uuid;

use crate::auth::{passwords, tokens};

/// The password every demo person signs in with.
pub const DEMO_PASSWORD: &str = "headway-demo-2026";

/// Who was seeded, to print for the newcomer.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub people: Vec<(String, Role, String)>,
    pub service_client_id: String,
    pub service_secret: String,
}

/// Seeds the demo clinic if (and only if) the database holds no organization.
pub fn seed_if_empty(conn: &mut Conn) -> Result<Option<Seeded>, String> {
    let empty = accounts::is_empty(conn).map_err(|e| e.to_string())?;
    if !empty {
        return Ok(None);
    }
    let hash = passwords::hash(DEMO_PASSWORD)?;
    let secret = tokens::opaque_secret();
    let secret_hash = passwords::hash(&secret)?;
    db::write(conn, |c| seed(c, &hash, secret, &secret_hash))
        .map(Some)
        .map_err(|e| e.to_string())
}

fn seed(c: &mut Conn, hash: &str, secret: String, secret_hash: &str) -> Result<Seeded, StoreError> {
    let t = now();
    let org = accounts::create_organization(c, domain::new_id(), "Riverside Therapy (demo)", t)?.id;
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
        clients::seed_care_team_member(c, org, client_id, member, admin, t)?;
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
    clients::seed_caregiver_link(c, org, maria, link, admin, t)?;
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
    Ok(Seeded {
        people,
        service_client_id: service.id.to_string(),
        service_secret: secret,
    })
}

/// The welcome text: who exists and how to get a token.
pub fn welcome(seeded: &Seeded, base: &str) -> String {
    let mut out = String::new();
    out.push_str("\n=== Headway demo clinic: Riverside Therapy ===\n");
    out.push_str(&format!("Every person's password: {DEMO_PASSWORD}\n\n"));
    for (email, role, name) in &seeded.people {
        out.push_str(&format!("  {:<10} {:<30} {}\n", role.as_str(), email, name));
    }
    out.push_str(&format!(
        "  {:<10} client_id={} client_secret={}\n\n",
        "service", seeded.service_client_id, seeded.service_secret
    ));
    out.push_str("Get a token (swap the username for anyone above):\n");
    out.push_str(&format!(
        "  TOKEN=$(curl -s {base}/api/v1/auth/token -d grant_type=password -d username=olivia.ot@riverside.example -d password={DEMO_PASSWORD} | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n"
    ));
    out.push_str(&format!(
        "  curl -s {base}/api/v1/me -H \"Authorization: Bearer $TOKEN\"\n"
    ));
    out.push_str(&format!(
        "  curl -s {base}/api/v1/clients -H \"Authorization: Bearer $TOKEN\"\n"
    ));
    out.push_str(&format!("Service account:\n  curl -s {base}/api/v1/auth/token -u {}:{} -d grant_type=client_credentials\n", seeded.service_client_id, seeded.service_secret));
    out.push_str(&format!(
        "API docs: {base}/docs/   OpenAPI: {base}/openapi.json\n"
    ));
    out
}

/// Creates a clinic and its first admin (the `create-org` command; tests use it too).
pub fn create_organization(
    conn: &mut Conn,
    name: &str,
    admin_email: &str,
    admin_name: &str,
    password: &str,
) -> Result<(Uuid, Uuid), String> {
    let hash = passwords::hash(password)?;
    db::write(conn, |c| {
        let org = accounts::create_organization(c, domain::new_id(), name.trim(), now())?;
        let admin = accounts::insert_user(
            c,
            NewUser {
                id: domain::new_id(),
                organization_id: org.id,
                email: Some(admin_email.to_owned()),
                display_name: admin_name.trim().to_owned(),
                role: Role::Admin,
                discipline: None,
                client_id: None,
                password_hash: Some(hash.clone()),
                scopes: Scopes::default(),
            },
            now(),
        )?;
        Ok::<_, StoreError>((org.id, admin.id))
    })
    .map_err(|e| e.to_string())
}
