//! Client records, their identifiers and version history, care teams and caregivers.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::{
    client::{
        CareTeamMember, CaregiverLink, Client, ClientStatus, Demographics, ExternalIdentifier,
        TeamRole,
    },
    identity::{Discipline, Principal, Role},
    policy::{CaregiverPermission, ClientRelation, ClientScope},
};
use uuid::Uuid;

use crate::{
    rows::{id, opt_id, parse_stored, utc, ClientRow},
    schema::{
        care_team_members, caregiver_links, client_identifiers, client_versions, clients, users,
    },
    versions::bump,
    Conn, Page, PageRequest, Reached, StoreError, StoreResult,
};

/// What the caller is to a client record; the domain policy decides from this.
pub fn relation(conn: &mut Conn, who: &Principal, client_id: Uuid) -> StoreResult<ClientRelation> {
    let in_org = clients::table
        .filter(clients::id.eq(client_id.to_string()))
        .filter(clients::organization_id.eq(who.organization_id.to_string()));
    // One round trip: whether the record is in the caller's organization, and what
    // the caller is to it.
    let rel = match who.role {
        Role::Therapist => {
            let on_team = diesel::dsl::exists(
                care_team_members::table
                    .filter(care_team_members::client_id.eq(client_id.to_string()))
                    .filter(care_team_members::therapist_id.eq(who.user_id.to_string()))
                    .filter(care_team_members::removed_at.is_null()),
            );
            in_org
                .select(on_team)
                .first::<bool>(conn)
                .optional()?
                .map(|on_care_team| ClientRelation {
                    in_organization: true,
                    on_care_team,
                    ..Default::default()
                })
        }
        Role::Caregiver => {
            let permission = caregiver_links::table
                .filter(caregiver_links::client_id.eq(client_id.to_string()))
                .filter(caregiver_links::caregiver_id.eq(who.user_id.to_string()))
                .filter(caregiver_links::revoked_at.is_null())
                .select(caregiver_links::permission)
                .single_value();
            let found: Option<Option<String>> = in_org.select(permission).first(conn).optional()?;
            found
                .map(|p| {
                    let caregiver = p
                        .as_deref()
                        .map(|p| parse_stored(p, |s| CaregiverPermission::parse("permission", s)))
                        .transpose()?;
                    Ok::<_, StoreError>(ClientRelation {
                        in_organization: true,
                        caregiver,
                        ..Default::default()
                    })
                })
                .transpose()?
        }
        Role::Client | Role::Admin | Role::Service => {
            let n: i64 = in_org.count().get_result(conn)?;
            (n > 0).then(|| ClientRelation {
                in_organization: true,
                is_self: who.role == Role::Client && who.client_id == Some(client_id),
                ..Default::default()
            })
        }
    };
    Ok(rel.unwrap_or_default())
}

fn identifiers_of(
    conn: &mut Conn,
    client_ids: &[String],
) -> StoreResult<Vec<(String, ExternalIdentifier)>> {
    let rows: Vec<(String, String, String)> = client_identifiers::table
        .filter(client_identifiers::client_id.eq_any(client_ids))
        .order(client_identifiers::id.asc())
        .select((
            client_identifiers::client_id,
            client_identifiers::system,
            client_identifiers::value,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(c, system, value)| (c, ExternalIdentifier { system, value }))
        .collect())
}

fn assemble(conn: &mut Conn, rows: Vec<ClientRow>) -> StoreResult<Vec<Client>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut identifiers = identifiers_of(conn, &ids)?;
    rows.into_iter()
        .map(|row| {
            let mine: Vec<ExternalIdentifier> = identifiers
                .iter()
                .filter(|(c, _)| *c == row.id)
                .map(|(_, i)| i.clone())
                .collect();
            identifiers.retain(|(c, _)| *c != row.id);
            row.into_client(mine)
        })
        .collect()
}

/// A client of the organization (visibility is the gate's job, not this function's).
pub fn get(conn: &mut Conn, org_id: Uuid, client_id: Uuid) -> StoreResult<Client> {
    let row: ClientRow = clients::table
        .filter(clients::id.eq(client_id.to_string()))
        .filter(clients::organization_id.eq(org_id.to_string()))
        .select(ClientRow::as_select())
        .first(conn)?;
    assemble(conn, vec![row])?.pop().ok_or(StoreError::NotFound)
}

#[derive(Debug, Clone, Default)]
pub struct ClientFilter {
    pub status: Option<ClientStatus>,
    pub identifier: Option<ExternalIdentifier>,
    /// An identifier's value in any system (a FHIR `identifier` search without one).
    pub identifier_value: Option<String>,
    /// Part of the name or preferred name, any case (a FHIR `name` search).
    pub name_contains: Option<String>,
    /// Born on or after / on or before (a FHIR `birthdate` search).
    pub born_from: Option<chrono::NaiveDate>,
    pub born_to: Option<chrono::NaiveDate>,
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// A LIKE pattern that matches `part` anywhere, its own wildcards taken literally.
fn containing(part: &str) -> String {
    let escaped = part
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The clients a caller may see, one page at a time. `scope` comes from the policy,
/// so the list cannot show what a direct read would hide.
pub fn list(
    conn: &mut Conn,
    org_id: Uuid,
    scope: ClientScope,
    filter: &ClientFilter,
    page: PageRequest,
) -> StoreResult<Page<Client>> {
    let mut q = clients::table
        .filter(clients::organization_id.eq(org_id.to_string()))
        .select(ClientRow::as_select())
        .order(clients::id.asc())
        .limit(i64::from(page.limit) + 1)
        .into_boxed();
    match scope {
        ClientScope::Organization => {}
        ClientScope::Nothing => {
            return Ok(Page {
                items: vec![],
                next_cursor: None,
            })
        }
        ClientScope::Only(client) => q = q.filter(clients::id.eq(client.to_string())),
        ClientScope::CareTeamOf(therapist) => {
            q = q.filter(
                clients::id.eq_any(
                    care_team_members::table
                        .filter(care_team_members::therapist_id.eq(therapist.to_string()))
                        .filter(care_team_members::removed_at.is_null())
                        .select(care_team_members::client_id),
                ),
            );
        }
        ClientScope::CaregiverOf(caregiver) => {
            q = q.filter(
                clients::id.eq_any(
                    caregiver_links::table
                        .filter(caregiver_links::caregiver_id.eq(caregiver.to_string()))
                        .filter(caregiver_links::revoked_at.is_null())
                        .select(caregiver_links::client_id),
                ),
            );
        }
    }
    if let Some(status) = filter.status {
        q = q.filter(clients::status.eq(status.as_str()));
    }
    if let Some(ident) = &filter.identifier {
        q = q.filter(
            clients::id.eq_any(
                client_identifiers::table
                    .filter(client_identifiers::organization_id.eq(org_id.to_string()))
                    .filter(client_identifiers::system.eq(ident.system.clone()))
                    .filter(client_identifiers::value.eq(ident.value.clone()))
                    .select(client_identifiers::client_id),
            ),
        );
    }
    if let Some(value) = &filter.identifier_value {
        q = q.filter(
            clients::id.eq_any(
                client_identifiers::table
                    .filter(client_identifiers::organization_id.eq(org_id.to_string()))
                    .filter(client_identifiers::value.eq(value.clone()))
                    .select(client_identifiers::client_id),
            ),
        );
    }
    if let Some(part) = &filter.name_contains {
        let pattern = containing(part);
        q = q.filter(
            lower(clients::name)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(clients::preferred_name.assume_not_null())
                    .like(pattern)
                    .escape('\\')),
        );
    }
    if let Some(from) = filter.born_from {
        q = q.filter(clients::date_of_birth.ge(from));
    }
    if let Some(to) = filter.born_to {
        q = q.filter(clients::date_of_birth.le(to));
    }
    if let Some(after) = page.after {
        q = q.filter(clients::id.gt(after.to_string()));
    }
    let rows = q.load(conn)?;
    let items = assemble(conn, rows)?;
    Ok(Page::from_rows(items, page.limit, |c| c.id))
}

/// The client holding each identifier in the organization now, if any, in order.
pub fn identifier_holders(
    conn: &mut Conn,
    org_id: Uuid,
    identifiers: &[ExternalIdentifier],
) -> StoreResult<Vec<Option<Uuid>>> {
    identifiers
        .iter()
        .map(|ident| {
            let holder: Option<String> = client_identifiers::table
                .filter(client_identifiers::organization_id.eq(org_id.to_string()))
                .filter(client_identifiers::system.eq(&ident.system))
                .filter(client_identifiers::value.eq(&ident.value))
                .select(client_identifiers::client_id)
                .first(conn)
                .optional()?;
            holder.as_deref().map(id).transpose()
        })
        .collect()
}

fn write_identifiers(
    conn: &mut Conn,
    org_id: Uuid,
    client_id: Uuid,
    identifiers: &[ExternalIdentifier],
) -> StoreResult<()> {
    diesel::delete(
        client_identifiers::table.filter(client_identifiers::client_id.eq(client_id.to_string())),
    )
    .execute(conn)?;
    for ident in identifiers {
        diesel::insert_into(client_identifiers::table)
            .values((
                client_identifiers::id.eq(domain::new_id().to_string()),
                client_identifiers::organization_id.eq(org_id.to_string()),
                client_identifiers::client_id.eq(client_id.to_string()),
                client_identifiers::system.eq(&ident.system),
                client_identifiers::value.eq(&ident.value),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Registers a client; its identifiers must be free (see [`identifier_holders`]).
/// Call inside a write transaction.
pub fn create(
    conn: &mut Conn,
    org_id: Uuid,
    client_id: Uuid,
    d: Demographics,
    now: DateTime<Utc>,
) -> StoreResult<Client> {
    let row = ClientRow {
        id: client_id.to_string(),
        organization_id: org_id.to_string(),
        name: d.name,
        preferred_name: d.preferred_name,
        date_of_birth: d.date_of_birth,
        email: d.email,
        phone: d.phone,
        status: ClientStatus::Active.as_str().to_owned(),
        version: 1,
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
    };
    diesel::insert_into(clients::table)
        .values(&row)
        .execute(conn)?;
    write_identifiers(conn, org_id, client_id, &d.identifiers)?;
    row.into_client(d.identifiers)
}

/// A stored earlier state of a client record.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClientVersion {
    pub version: i32,
    pub recorded_by: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub record: serde_json::Value,
}

/// Changes a client's demographics and status; its identifiers must be free (see
/// [`identifier_holders`]). The state being replaced is kept as a version, so a
/// correction never loses what was there. Call inside a write transaction.
pub fn update(
    conn: &mut Conn,
    client: Reached,
    read: i32,
    d: Demographics,
    status: ClientStatus,
    actor: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Client> {
    let (org_id, client_id) = (client.organization_id(), client.client_id());
    let (org, cid) = (org_id.to_string(), client_id.to_string());
    let row = || {
        clients::table
            .filter(clients::id.eq(cid.as_str()))
            .filter(clients::organization_id.eq(org.as_str()))
    };
    // First, so that of two writers that read the same version one is refused here.
    bump!(conn, clients, row(), read)?;
    let before = get(conn, org_id, client_id)?;
    let before = Client {
        version: read,
        ..before
    };
    let snapshot = serde_json::to_string(&before).map_err(|e| StoreError::Config(e.to_string()))?;
    diesel::insert_into(client_versions::table)
        .values((
            client_versions::id.eq(domain::new_id().to_string()),
            client_versions::organization_id.eq(org_id.to_string()),
            client_versions::client_id.eq(client_id.to_string()),
            client_versions::version.eq(before.version),
            client_versions::snapshot.eq(snapshot),
            client_versions::recorded_by.eq(actor.to_string()),
            client_versions::recorded_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    diesel::update(
        clients::table
            .filter(clients::id.eq(client_id.to_string()))
            .filter(clients::organization_id.eq(org_id.to_string())),
    )
    .set((
        clients::name.eq(d.name),
        clients::preferred_name.eq(d.preferred_name),
        clients::date_of_birth.eq(d.date_of_birth),
        clients::email.eq(d.email),
        clients::phone.eq(d.phone),
        clients::status.eq(status.as_str()),
        clients::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    write_identifiers(conn, org_id, client_id, &d.identifiers)?;
    get(conn, org_id, client_id)
}

/// Every earlier version of a client record, oldest first.
pub fn versions(conn: &mut Conn, client: Reached) -> StoreResult<Vec<ClientVersion>> {
    let rows: Vec<(i32, String, NaiveDateTime, String)> = client_versions::table
        .filter(client_versions::client_id.eq(client.client_id().to_string()))
        .filter(client_versions::organization_id.eq(client.organization_id().to_string()))
        .order(client_versions::version.asc())
        .select((
            client_versions::version,
            client_versions::recorded_by,
            client_versions::recorded_at,
            client_versions::snapshot,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(version, by, at, snapshot)| {
            Ok(ClientVersion {
                version,
                recorded_by: id(&by)?,
                recorded_at: utc(at),
                record: serde_json::from_str(&snapshot).unwrap_or(serde_json::Value::Null),
            })
        })
        .collect()
}

// --- Care teams -------------------------------------------------------------------

type MemberRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    NaiveDateTime,
    Option<String>,
    Option<NaiveDateTime>,
);

fn member_from(row: MemberRow) -> StoreResult<CareTeamMember> {
    let (
        mid,
        client,
        therapist,
        name,
        discipline,
        team_role,
        added_by,
        added_at,
        removed_by,
        removed_at,
    ) = row;
    Ok(CareTeamMember {
        id: id(&mid)?,
        client_id: id(&client)?,
        therapist_id: id(&therapist)?,
        therapist_name: name,
        discipline: discipline
            .as_deref()
            .map(|d| parse_stored(d, |s| Discipline::parse("discipline", s)))
            .transpose()?,
        team_role: parse_stored(&team_role, |s| TeamRole::parse("team_role", s))?,
        added_by: id(&added_by)?,
        added_at: utc(added_at),
        removed_by: opt_id(removed_by.as_deref())?,
        removed_at: removed_at.map(utc),
    })
}

/// A client's care team; with `history`, past members too.
pub fn care_team(
    conn: &mut Conn,
    client: Reached,
    history: bool,
) -> StoreResult<Vec<CareTeamMember>> {
    let (org_id, client_id) = (client.organization_id(), client.client_id());
    let mut q = care_team_members::table
        .inner_join(users::table)
        .filter(care_team_members::client_id.eq(client_id.to_string()))
        .filter(care_team_members::organization_id.eq(org_id.to_string()))
        .order(care_team_members::id.asc())
        .select((
            care_team_members::id,
            care_team_members::client_id,
            care_team_members::therapist_id,
            users::display_name,
            users::discipline,
            care_team_members::team_role,
            care_team_members::added_by,
            care_team_members::added_at,
            care_team_members::removed_by,
            care_team_members::removed_at,
        ))
        .into_boxed();
    if !history {
        q = q.filter(care_team_members::removed_at.is_null());
    }
    q.load::<MemberRow>(conn)?
        .into_iter()
        .map(member_from)
        .collect()
}

/// Whether a therapist is on the client's care team now.
pub fn is_on_care_team(conn: &mut Conn, client: Reached, therapist_id: Uuid) -> StoreResult<bool> {
    let n: i64 = care_team_members::table
        .filter(care_team_members::client_id.eq(client.client_id().to_string()))
        .filter(care_team_members::organization_id.eq(client.organization_id().to_string()))
        .filter(care_team_members::therapist_id.eq(therapist_id.to_string()))
        .filter(care_team_members::removed_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// A therapist joining a care team.
#[derive(Debug, Clone, Copy)]
pub struct NewMember {
    pub id: Uuid,
    pub therapist_id: Uuid,
    pub team_role: TeamRole,
}

/// Puts a therapist on a client's care team (the rules, `policy::may_join_care_team`,
/// were asked first). Call inside a write transaction.
pub fn add_to_care_team(
    conn: &mut Conn,
    client: Reached,
    member: NewMember,
    actor: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<CareTeamMember> {
    let (org_id, client_id) = (client.organization_id(), client.client_id());
    diesel::insert_into(care_team_members::table)
        .values((
            care_team_members::id.eq(member.id.to_string()),
            care_team_members::organization_id.eq(org_id.to_string()),
            care_team_members::client_id.eq(client_id.to_string()),
            care_team_members::therapist_id.eq(member.therapist_id.to_string()),
            care_team_members::team_role.eq(member.team_role.as_str()),
            care_team_members::added_by.eq(actor.to_string()),
            care_team_members::added_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    care_team(conn, client, false)?
        .into_iter()
        .find(|m| m.id == member.id)
        .ok_or(StoreError::NotFound)
}

/// Ends a care-team membership; the row stays as history. Call inside a write transaction.
pub fn remove_from_care_team(
    conn: &mut Conn,
    client: Reached,
    member_id: Uuid,
    actor: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let changed = diesel::update(
        care_team_members::table
            .filter(care_team_members::id.eq(member_id.to_string()))
            .filter(care_team_members::client_id.eq(client.client_id().to_string()))
            .filter(care_team_members::organization_id.eq(client.organization_id().to_string()))
            .filter(care_team_members::removed_at.is_null()),
    )
    .set((
        care_team_members::removed_by.eq(actor.to_string()),
        care_team_members::removed_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

// --- Caregivers -------------------------------------------------------------------

type LinkRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    NaiveDateTime,
    Option<String>,
    Option<NaiveDateTime>,
    i32,
);

fn link_from(row: LinkRow) -> StoreResult<CaregiverLink> {
    let (
        lid,
        client,
        caregiver,
        name,
        email,
        relationship,
        permission,
        granted_by,
        granted_at,
        revoked_by,
        revoked_at,
        version,
    ) = row;
    Ok(CaregiverLink {
        id: id(&lid)?,
        client_id: id(&client)?,
        caregiver_id: id(&caregiver)?,
        caregiver_name: name,
        caregiver_email: email,
        relationship,
        permission: parse_stored(&permission, |s| CaregiverPermission::parse("permission", s))?,
        granted_by: id(&granted_by)?,
        granted_at: utc(granted_at),
        revoked_by: opt_id(revoked_by.as_deref())?,
        revoked_at: revoked_at.map(utc),
        version,
    })
}

/// A client's caregivers; with `history`, revoked links too.
pub fn caregivers(
    conn: &mut Conn,
    client: Reached,
    history: bool,
) -> StoreResult<Vec<CaregiverLink>> {
    let (org_id, client_id) = (client.organization_id(), client.client_id());
    let mut q = caregiver_links::table
        .inner_join(users::table)
        .filter(caregiver_links::client_id.eq(client_id.to_string()))
        .filter(caregiver_links::organization_id.eq(org_id.to_string()))
        .order(caregiver_links::id.asc())
        .select((
            caregiver_links::id,
            caregiver_links::client_id,
            caregiver_links::caregiver_id,
            users::display_name,
            users::email,
            caregiver_links::relationship,
            caregiver_links::permission,
            caregiver_links::granted_by,
            caregiver_links::granted_at,
            caregiver_links::revoked_by,
            caregiver_links::revoked_at,
            caregiver_links::version,
        ))
        .into_boxed();
    if !history {
        q = q.filter(caregiver_links::revoked_at.is_null());
    }
    q.load::<LinkRow>(conn)?
        .into_iter()
        .map(link_from)
        .collect()
}

pub fn live_link(conn: &mut Conn, client: Reached, link_id: Uuid) -> StoreResult<CaregiverLink> {
    caregivers(conn, client, false)?
        .into_iter()
        .find(|l| l.id == link_id)
        .ok_or(StoreError::NotFound)
}

/// Whether an account holds an active caregiver link to the client now.
pub fn is_caregiver_of(conn: &mut Conn, client: Reached, caregiver_id: Uuid) -> StoreResult<bool> {
    let n: i64 = caregiver_links::table
        .filter(caregiver_links::client_id.eq(client.client_id().to_string()))
        .filter(caregiver_links::organization_id.eq(client.organization_id().to_string()))
        .filter(caregiver_links::caregiver_id.eq(caregiver_id.to_string()))
        .filter(caregiver_links::revoked_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// A caregiver being linked to a client.
#[derive(Debug, Clone)]
pub struct NewLink {
    pub id: Uuid,
    pub caregiver_id: Uuid,
    pub relationship: Option<String>,
    pub permission: CaregiverPermission,
}

/// Links a caregiver account to a client (the rules, `policy::may_link_caregiver`,
/// were asked first). Call inside a write transaction.
pub fn link_caregiver(
    conn: &mut Conn,
    client: Reached,
    link: NewLink,
    actor: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<CaregiverLink> {
    let (org_id, client_id) = (client.organization_id(), client.client_id());
    diesel::insert_into(caregiver_links::table)
        .values((
            caregiver_links::id.eq(link.id.to_string()),
            caregiver_links::organization_id.eq(org_id.to_string()),
            caregiver_links::client_id.eq(client_id.to_string()),
            caregiver_links::caregiver_id.eq(link.caregiver_id.to_string()),
            caregiver_links::relationship.eq(link.relationship),
            caregiver_links::permission.eq(link.permission.as_str()),
            caregiver_links::granted_by.eq(actor.to_string()),
            caregiver_links::granted_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    caregivers(conn, client, false)?
        .into_iter()
        .find(|l| l.id == link.id)
        .ok_or(StoreError::NotFound)
}

/// Revokes a caregiver link at once; the row stays as history. Call inside a write transaction.
pub fn revoke_caregiver(
    conn: &mut Conn,
    client: Reached,
    link_id: Uuid,
    actor: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let changed = diesel::update(
        caregiver_links::table
            .filter(caregiver_links::id.eq(link_id.to_string()))
            .filter(caregiver_links::client_id.eq(client.client_id().to_string()))
            .filter(caregiver_links::organization_id.eq(client.organization_id().to_string()))
            .filter(caregiver_links::revoked_at.is_null()),
    )
    .set((
        caregiver_links::revoked_by.eq(actor.to_string()),
        caregiver_links::revoked_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The client ids a caregiver may currently follow, with the grant for each.
pub fn followed_by(
    conn: &mut Conn,
    caregiver_id: Uuid,
) -> StoreResult<Vec<(Uuid, CaregiverPermission)>> {
    let rows: Vec<(String, String)> = caregiver_links::table
        .filter(caregiver_links::caregiver_id.eq(caregiver_id.to_string()))
        .filter(caregiver_links::revoked_at.is_null())
        .order(caregiver_links::id.asc())
        .select((caregiver_links::client_id, caregiver_links::permission))
        .load(conn)?;
    rows.into_iter()
        .map(|(c, p)| {
            Ok((
                id(&c)?,
                parse_stored(&p, |s| CaregiverPermission::parse("permission", s))?,
            ))
        })
        .collect()
}

/// Changes what an active caregiver link grants. Call inside a write transaction.
pub fn set_caregiver_permission(
    conn: &mut Conn,
    client: Reached,
    link_id: Uuid,
    read: i32,
    permission: CaregiverPermission,
) -> StoreResult<CaregiverLink> {
    let (lid, cid) = (link_id.to_string(), client.client_id().to_string());
    let row = || {
        caregiver_links::table
            .filter(caregiver_links::id.eq(lid.as_str()))
            .filter(caregiver_links::client_id.eq(cid.as_str()))
    };
    bump!(conn, caregiver_links, row(), read)?;
    let changed = diesel::update(
        caregiver_links::table
            .filter(caregiver_links::id.eq(link_id.to_string()))
            .filter(caregiver_links::client_id.eq(client.client_id().to_string()))
            .filter(caregiver_links::organization_id.eq(client.organization_id().to_string()))
            .filter(caregiver_links::revoked_at.is_null()),
    )
    .set(caregiver_links::permission.eq(permission.as_str()))
    .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    live_link(conn, client, link_id)
}

/// Whose record a caregiver link of this clinic is on (NotFound when none has it).
pub fn link_client_of(conn: &mut Conn, org_id: Uuid, link_id: Uuid) -> StoreResult<Uuid> {
    let client: String = caregiver_links::table
        .filter(caregiver_links::id.eq(link_id.to_string()))
        .filter(caregiver_links::organization_id.eq(org_id.to_string()))
        .select(caregiver_links::client_id)
        .first(conn)?;
    id(&client)
}
