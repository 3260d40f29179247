//! Organizations, accounts, invitations, login sessions and sign-in throttling.

use chrono::{DateTime, Duration, Utc};
use diesel::{
    prelude::*,
    sql_query,
    sql_types::{Text, Timestamp},
};
use domain::{
    identity::{
        AccountChanges, Counted, Discipline, Lockout, Organization, Principal, Role, Scopes, User,
    },
    policy::{DirectoryScope, PractitionerScope},
};
use uuid::Uuid;

use crate::{
    rows::{id, utc, UserRow},
    schema::{
        address_throttle, care_team_members, caregiver_links, invitations, login_throttle,
        organizations, refresh_tokens, sessions, users,
    },
    versions::bump,
    Conn, Page, PageRequest, StoreError, StoreResult,
};

/// An account to create. The password hash is computed by the caller (the API owns
/// hashing policy); `None` means the person must accept an invitation first.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: Option<String>,
    pub display_name: String,
    pub role: Role,
    pub discipline: Option<Discipline>,
    pub client_id: Option<Uuid>,
    pub password_hash: Option<String>,
    pub scopes: Scopes,
}

pub fn create_organization(
    conn: &mut Conn,
    org_id: Uuid,
    name: &str,
    now: DateTime<Utc>,
) -> StoreResult<Organization> {
    diesel::insert_into(organizations::table)
        .values((
            organizations::id.eq(org_id.to_string()),
            organizations::name.eq(name),
            organizations::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(Organization {
        id: org_id,
        name: name.to_owned(),
        created_at: now,
    })
}

pub fn organization(conn: &mut Conn, org_id: Uuid) -> StoreResult<Organization> {
    let (oid, name, created_at) = organizations::table
        .find(org_id.to_string())
        .select((
            organizations::id,
            organizations::name,
            organizations::created_at,
        ))
        .first::<(String, String, chrono::NaiveDateTime)>(conn)?;
    Ok(Organization {
        id: id(&oid)?,
        name,
        created_at: utc(created_at),
    })
}

/// Whether the database holds any organization at all (demo seeding checks this).
pub fn is_empty(conn: &mut Conn) -> StoreResult<bool> {
    let count: i64 = organizations::table.count().get_result(conn)?;
    Ok(count == 0)
}

pub fn insert_user(conn: &mut Conn, new: NewUser, now: DateTime<Utc>) -> StoreResult<User> {
    if let Some(email) = &new.email {
        let taken: i64 = users::table
            .filter(users::email.eq(email))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(StoreError::Invalid(domain::Invalid::field(
                "email",
                "is already registered",
            )));
        }
    }
    let row = UserRow {
        id: new.id.to_string(),
        organization_id: new.organization_id.to_string(),
        email: new.email,
        display_name: new.display_name,
        role: new.role.as_str().to_owned(),
        discipline: new.discipline.map(|d| d.as_str().to_owned()),
        client_id: new.client_id.map(|c| c.to_string()),
        password_hash: new.password_hash,
        scopes: new.scopes.to_string(),
        active: true,
        version: 1,
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
    };
    diesel::insert_into(users::table)
        .values(&row)
        .execute(conn)?;
    row.into_user()
}

/// A user by id, within one organization.
pub fn user(conn: &mut Conn, org_id: Uuid, user_id: Uuid) -> StoreResult<User> {
    users::table
        .filter(users::id.eq(user_id.to_string()))
        .filter(users::organization_id.eq(org_id.to_string()))
        .select(UserRow::as_select())
        .first(conn)?
        .into_user()
}

/// The account behind a login name, with its password hash, for sign-in.
pub fn credentials_by_email(
    conn: &mut Conn,
    email: &str,
) -> StoreResult<Option<(User, Option<String>)>> {
    credentials(
        conn,
        users::table.filter(users::email.eq(email)).into_boxed(),
    )
}

/// A service account by its client id (its user id), with its secret hash.
pub fn credentials_by_id(
    conn: &mut Conn,
    user_id: Uuid,
) -> StoreResult<Option<(User, Option<String>)>> {
    credentials(
        conn,
        users::table
            .filter(users::id.eq(user_id.to_string()))
            .into_boxed(),
    )
}

fn credentials<'a>(
    conn: &mut Conn,
    query: users::BoxedQuery<'a, crate::db::MultiBackend>,
) -> StoreResult<Option<(User, Option<String>)>> {
    let row: Option<UserRow> = query.select(UserRow::as_select()).first(conn).optional()?;
    row.map(|r| {
        let hash = r.password_hash.clone();
        r.into_user().map(|u| (u, hash))
    })
    .transpose()
}

/// Replaces a stored password hash (set by invitation, or rehashed with new parameters).
pub fn set_password_hash(
    conn: &mut Conn,
    user_id: Uuid,
    hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::update(users::table.find(user_id.to_string()))
        .set((
            users::password_hash.eq(hash),
            users::version.eq(users::version + 1),
            users::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub active: Option<bool>,
}

type UsersQuery = users::BoxedQuery<'static, <Conn as Connection>::Backend>;

/// The accounts of an organization that a directory scope shows; `None` when it shows
/// none. Lists and single reads share it, so neither can show what the other hides.
fn directory(org_id: Uuid, scope: DirectoryScope) -> Option<UsersQuery> {
    let in_org = users::table
        .filter(users::organization_id.eq(org_id.to_string()))
        .into_boxed();
    match scope {
        DirectoryScope::Organization => Some(in_org),
        DirectoryScope::Nothing => None,
        DirectoryScope::StaffAndCaseloadOf(therapist) => {
            let caseload = || {
                care_team_members::table
                    .filter(care_team_members::therapist_id.eq(therapist.to_string()))
                    .filter(care_team_members::removed_at.is_null())
                    .select(care_team_members::client_id)
            };
            let caregivers = caregiver_links::table
                .filter(caregiver_links::revoked_at.is_null())
                .filter(caregiver_links::client_id.eq_any(caseload()))
                .select(caregiver_links::caregiver_id);
            let staff = [Role::Admin, Role::Therapist, Role::Service].map(Role::as_str);
            Some(
                in_org.filter(
                    users::role
                        .eq_any(staff)
                        .or(users::client_id.assume_not_null().eq_any(caseload()))
                        .or(users::id.eq_any(caregivers)),
                ),
            )
        }
    }
}

/// One account, if the caller's directory scope shows it.
pub fn directory_entry(
    conn: &mut Conn,
    org_id: Uuid,
    scope: DirectoryScope,
    user_id: Uuid,
) -> StoreResult<User> {
    directory(org_id, scope)
        .ok_or(StoreError::NotFound)?
        .filter(users::id.eq(user_id.to_string()))
        .select(UserRow::as_select())
        .first(conn)?
        .into_user()
}

pub fn list_users(
    conn: &mut Conn,
    org_id: Uuid,
    scope: DirectoryScope,
    filter: &UserFilter,
    page: PageRequest,
) -> StoreResult<Page<User>> {
    let Some(q) = directory(org_id, scope) else {
        return Ok(Page {
            items: vec![],
            next_cursor: None,
        });
    };
    let mut q = q
        .select(UserRow::as_select())
        .order(users::id.asc())
        .limit(i64::from(page.limit) + 1);
    if let Some(role) = filter.role {
        q = q.filter(users::role.eq(role.as_str()));
    }
    if let Some(active) = filter.active {
        q = q.filter(users::active.eq(active));
    }
    if let Some(after) = page.after {
        q = q.filter(users::id.gt(after.to_string()));
    }
    let items = q
        .load(conn)?
        .into_iter()
        .map(UserRow::into_user)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.limit, |u| u.id))
}

#[derive(AsChangeset)]
#[diesel(table_name = users)]
struct UserChangeset {
    display_name: Option<String>,
    discipline: Option<String>,
    scopes: Option<String>,
    active: Option<bool>,
    updated_at: chrono::NaiveDateTime,
}

pub fn update_user(
    conn: &mut Conn,
    org_id: Uuid,
    user_id: Uuid,
    read: i32,
    changes: AccountChanges,
    now: DateTime<Utc>,
) -> StoreResult<User> {
    let deactivating = changes.active == Some(false);
    let (org, uid) = (org_id.to_string(), user_id.to_string());
    let row = || {
        users::table
            .filter(users::id.eq(uid.as_str()))
            .filter(users::organization_id.eq(org.as_str()))
    };
    bump!(conn, users, row(), read)?;
    let changed = diesel::update(
        users::table
            .filter(users::id.eq(user_id.to_string()))
            .filter(users::organization_id.eq(org_id.to_string())),
    )
    .set(UserChangeset {
        display_name: changes.display_name,
        discipline: changes.discipline.map(|d| d.as_str().to_owned()),
        scopes: changes.scopes.map(|s| s.to_string()),
        active: changes.active,
        updated_at: now.naive_utc(),
    })
    .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    if deactivating {
        // Deactivation ends every session now, not when tokens expire.
        revoke_sessions_of(conn, user_id, "account deactivated", now)?;
    }
    user(conn, org_id, user_id)
}

/// Who a verified access token speaks for, now: `None` when the account is gone or
/// inactive, or the token's session was revoked.
/// The account as stored now, if it is active, and whether the named session (if any)
/// is live. `None`: no such active account. Whether that backs a token is the domain's
/// rule ([`domain::identity::token_is_backed`]).
pub fn principal(
    conn: &mut Conn,
    user_id: Uuid,
    session_id: Option<Uuid>,
) -> StoreResult<Option<(Principal, bool)>> {
    // One round trip on every authenticated request: the active account, and whether
    // the token's session is live. Static queries, so they stay in the prepared-statement
    // cache.
    let user = users::table
        .find(user_id.to_string())
        .filter(users::active.eq(true));
    let columns = (
        users::organization_id,
        users::role,
        users::client_id,
        users::scopes,
    );
    type Row = (String, String, Option<String>, String);
    let row: Option<(Row, bool)> = match session_id {
        Some(session_id) => user
            .select((
                columns,
                diesel::dsl::exists(
                    sessions::table
                        .filter(sessions::id.eq(session_id.to_string()))
                        .filter(sessions::user_id.eq(user_id.to_string()))
                        .filter(sessions::revoked_at.is_null()),
                ),
            ))
            .first(conn)
            .optional()?,
        None => user
            .select(columns)
            .first::<Row>(conn)
            .optional()?
            .map(|row| (row, false)),
    };
    let Some(((org, role, client, scopes), live_session)) = row else {
        return Ok(None);
    };
    let stored = Principal {
        user_id,
        organization_id: id(&org)?,
        role: crate::rows::parse_stored(&role, |s| Role::parse("role", s))?,
        client_id: crate::rows::opt_id(client.as_deref())?,
        scopes: crate::rows::parse_stored(&scopes, Scopes::parse)?,
    };
    Ok(Some((stored, live_session)))
}

// --- Invitations ---------------------------------------------------------------

pub fn create_invitation(
    conn: &mut Conn,
    org_id: Uuid,
    user_id: Uuid,
    token_hash: &str,
    created_by: Option<Uuid>,
    now: DateTime<Utc>,
    valid_for: Duration,
) -> StoreResult<DateTime<Utc>> {
    let expires = now + valid_for;
    diesel::insert_into(invitations::table)
        .values((
            invitations::id.eq(domain::new_id().to_string()),
            invitations::organization_id.eq(org_id.to_string()),
            invitations::user_id.eq(user_id.to_string()),
            invitations::token_hash.eq(token_hash),
            invitations::created_by.eq(created_by.map(|c| c.to_string())),
            invitations::created_at.eq(now.naive_utc()),
            invitations::expires_at.eq(expires.naive_utc()),
        ))
        .execute(conn)?;
    Ok(expires)
}

/// Spends an invitation: returns the invited account, or `None` if the token is
/// unknown, spent or expired. Call inside a write transaction.
pub fn accept_invitation(
    conn: &mut Conn,
    token_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<User>> {
    let found: Option<(String, String)> = invitations::table
        .filter(invitations::token_hash.eq(token_hash))
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::expires_at.gt(now.naive_utc()))
        .select((invitations::id, invitations::user_id))
        .first(conn)
        .optional()?;
    let Some((inv_id, user_id)) = found else {
        return Ok(None);
    };
    diesel::update(invitations::table.find(&inv_id))
        .set(invitations::accepted_at.eq(now.naive_utc()))
        .execute(conn)?;
    let row: UserRow = users::table
        .find(&user_id)
        .select(UserRow::as_select())
        .first(conn)?;
    if !row.active {
        return Ok(None);
    }
    row.into_user().map(Some)
}

// --- Sessions and refresh tokens -----------------------------------------------

/// Starts a login session with its first refresh token.
pub fn start_session(
    conn: &mut Conn,
    user_id: Uuid,
    scope: &Scopes,
    refresh_hash: &str,
    now: DateTime<Utc>,
    refresh_ttl: Duration,
) -> StoreResult<Uuid> {
    let session_id = domain::new_id();
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(session_id.to_string()),
            sessions::user_id.eq(user_id.to_string()),
            sessions::scope.eq(scope.to_string()),
            sessions::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    insert_refresh(conn, session_id, refresh_hash, now, refresh_ttl)?;
    Ok(session_id)
}

fn insert_refresh(
    conn: &mut Conn,
    session_id: Uuid,
    hash: &str,
    now: DateTime<Utc>,
    ttl: Duration,
) -> StoreResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(domain::new_id().to_string()),
            refresh_tokens::session_id.eq(session_id.to_string()),
            refresh_tokens::token_hash.eq(hash),
            refresh_tokens::issued_at.eq(now.naive_utc()),
            refresh_tokens::expires_at.eq((now + ttl).naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// Rotated: the old token is spent, the new one stored.
    Rotated {
        user_id: Uuid,
        session_id: Uuid,
        scope: String,
    },
    /// A spent token came back: someone holds a copy. The whole session is revoked.
    ReuseDetected { user_id: Uuid },
    /// Unknown, expired, or its session is over.
    Invalid,
}

/// Spends a refresh token and stores its successor. Call inside a write transaction.
pub fn rotate_refresh(
    conn: &mut Conn,
    presented_hash: &str,
    next_hash: &str,
    now: DateTime<Utc>,
    ttl: Duration,
) -> StoreResult<Refresh> {
    type Found = (
        String,
        String,
        chrono::NaiveDateTime,
        Option<chrono::NaiveDateTime>,
        String,
        Option<chrono::NaiveDateTime>,
        String,
    );
    let found: Option<Found> = refresh_tokens::table
        .inner_join(sessions::table)
        .filter(refresh_tokens::token_hash.eq(presented_hash))
        .select((
            refresh_tokens::id,
            refresh_tokens::session_id,
            refresh_tokens::expires_at,
            refresh_tokens::used_at,
            sessions::user_id,
            sessions::revoked_at,
            sessions::scope,
        ))
        .first(conn)
        .optional()?;
    let Some((token_id, session_id, expires_at, used_at, user_id, revoked_at, scope)) = found
    else {
        return Ok(Refresh::Invalid);
    };
    let session_uuid = id(&session_id)?;
    let user_uuid = id(&user_id)?;
    if used_at.is_some() {
        revoke_session(conn, session_uuid, "refresh token reused", now)?;
        return Ok(Refresh::ReuseDetected { user_id: user_uuid });
    }
    if revoked_at.is_some() || utc(expires_at) <= now {
        return Ok(Refresh::Invalid);
    }
    diesel::update(refresh_tokens::table.find(&token_id))
        .set(refresh_tokens::used_at.eq(now.naive_utc()))
        .execute(conn)?;
    insert_refresh(conn, session_uuid, next_hash, now, ttl)?;
    Ok(Refresh::Rotated {
        user_id: user_uuid,
        session_id: session_uuid,
        scope,
    })
}

/// The session a refresh token belongs to, if any (for revocation).
pub fn session_of_refresh(conn: &mut Conn, hash: &str) -> StoreResult<Option<(Uuid, Uuid)>> {
    let found: Option<(String, String)> = refresh_tokens::table
        .inner_join(sessions::table)
        .filter(refresh_tokens::token_hash.eq(hash))
        .select((sessions::id, sessions::user_id))
        .first(conn)
        .optional()?;
    found.map(|(s, u)| Ok((id(&s)?, id(&u)?))).transpose()
}

pub fn revoke_session(
    conn: &mut Conn,
    session_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::update(
        sessions::table
            .find(session_id.to_string())
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(now.naive_utc()),
        sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)?;
    Ok(())
}

fn revoke_sessions_of(
    conn: &mut Conn,
    user_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id.to_string()))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(now.naive_utc()),
        sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)?;
    Ok(())
}

// --- Sign-in throttling ---------------------------------------------------------
//
// The counts live in the database so that every API instance enforces the same
// ones; the rule (how many failures, how long) is the domain's [`Lockout`].

/// Until when sign-in for this login from this address is refused, if it is.
pub fn locked_until(
    conn: &mut Conn,
    login: &str,
    address: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<DateTime<Utc>>> {
    let pair: Option<Option<chrono::NaiveDateTime>> = login_throttle::table
        .find((login, address))
        .select(login_throttle::locked_until)
        .first(conn)
        .optional()?;
    let whole_address: Option<Option<chrono::NaiveDateTime>> = address_throttle::table
        .find(address)
        .select(address_throttle::locked_until)
        .first(conn)
        .optional()?;
    let locks = [pair.flatten(), whole_address.flatten()]
        .into_iter()
        .flatten()
        .map(utc);
    Ok(Lockout::locked_until(locks, now))
}

/// Counts a failed sign-in for the login from this address, and for the address;
/// returns the lock's end when this failure locks either. Call inside a write
/// transaction.
pub fn record_failure(
    conn: &mut Conn,
    login: &str,
    address: &str,
    now: DateTime<Utc>,
    policy: Lockout,
) -> StoreResult<Option<DateTime<Utc>>> {
    let cutoff = policy.window_cutoff(now).naive_utc();
    let at = now.naive_utc();
    // Insert-if-absent, then one UPDATE that counts: both backends take the row lock,
    // so concurrent failures on several instances neither collide nor get lost.
    sql_query(
        "INSERT INTO login_throttle (login, address, failures, window_started_at) \
         VALUES ($1, $2, 0, $3) ON CONFLICT (login, address) DO NOTHING",
    )
    .bind::<Text, _>(login)
    .bind::<Text, _>(address)
    .bind::<Timestamp, _>(at)
    .execute(conn)?;
    sql_query(
        "UPDATE login_throttle SET \
           failures = CASE WHEN window_started_at > $1 THEN failures + 1 ELSE 1 END, \
           window_started_at = CASE WHEN window_started_at > $1 THEN window_started_at ELSE $2 END \
         WHERE login = $3 AND address = $4",
    )
    .bind::<Timestamp, _>(cutoff)
    .bind::<Timestamp, _>(at)
    .bind::<Text, _>(login)
    .bind::<Text, _>(address)
    .execute(conn)?;
    sql_query(
        "INSERT INTO address_throttle (address, failures, window_started_at) \
         VALUES ($1, 0, $2) ON CONFLICT (address) DO NOTHING",
    )
    .bind::<Text, _>(address)
    .bind::<Timestamp, _>(at)
    .execute(conn)?;
    sql_query(
        "UPDATE address_throttle SET \
           failures = CASE WHEN window_started_at > $1 THEN failures + 1 ELSE 1 END, \
           window_started_at = CASE WHEN window_started_at > $1 THEN window_started_at ELSE $2 END \
         WHERE address = $3",
    )
    .bind::<Timestamp, _>(cutoff)
    .bind::<Timestamp, _>(at)
    .bind::<Text, _>(address)
    .execute(conn)?;

    let (pair_failures, pair_started): (i32, chrono::NaiveDateTime) = login_throttle::table
        .find((login, address))
        .select((login_throttle::failures, login_throttle::window_started_at))
        .first(conn)?;
    let pair_lock = policy.locks(Counted::LoginFromAddress, pair_failures, utc(pair_started));
    if let Some(until) = pair_lock {
        diesel::update(login_throttle::table.find((login, address)))
            .set(login_throttle::locked_until.eq(until.naive_utc()))
            .execute(conn)?;
    }
    let (address_failures, address_started): (i32, chrono::NaiveDateTime) = address_throttle::table
        .find(address)
        .select((
            address_throttle::failures,
            address_throttle::window_started_at,
        ))
        .first(conn)?;
    let address_lock = policy.locks(Counted::Address, address_failures, utc(address_started));
    if let Some(until) = address_lock {
        diesel::update(address_throttle::table.find(address))
            .set(address_throttle::locked_until.eq(until.naive_utc()))
            .execute(conn)?;
    }
    // Counts whose window has ended mean nothing; dropping them keeps the tables as
    // small as the last window's failures, however many logins an attacker names.
    if pair_failures == 1 {
        diesel::delete(login_throttle::table.filter(login_throttle::window_started_at.le(cutoff)))
            .execute(conn)?;
        diesel::delete(
            address_throttle::table.filter(address_throttle::window_started_at.le(cutoff)),
        )
        .execute(conn)?;
    }
    Ok(pair_lock.into_iter().chain(address_lock).max())
}

/// A successful sign-in forgets the failures of this login from this address. The
/// address's own count stays: signing in to one's own account must not reset a spray.
pub fn clear_failures(conn: &mut Conn, login: &str, address: &str) -> StoreResult<()> {
    diesel::delete(login_throttle::table.find((login, address))).execute(conn)?;
    Ok(())
}

/// The login account of a client record, if it has one.
pub fn client_login(conn: &mut Conn, client_id: Uuid) -> StoreResult<Option<Uuid>> {
    let found: Option<String> = users::table
        .filter(users::client_id.eq(client_id.to_string()))
        .select(users::id)
        .first(conn)
        .optional()?;
    found.map(|u| id(&u)).transpose()
}

// --- Practitioners: the clinic's therapists as an EHR names them -------------------

/// The therapists of an organization that a practitioner scope shows; `None` when it
/// shows none. Reads by id and searches share it.
fn practitioners(org_id: Uuid, scope: PractitionerScope) -> Option<UsersQuery> {
    let therapists = users::table
        .filter(users::organization_id.eq(org_id.to_string()))
        .filter(users::role.eq(Role::Therapist.as_str()))
        .into_boxed();
    // Past members count: an Observation a therapist recorded still names them.
    let team_of = |clients: Vec<String>| {
        care_team_members::table
            .filter(care_team_members::client_id.eq_any(clients))
            .select(care_team_members::therapist_id)
    };
    match scope {
        PractitionerScope::Organization => Some(therapists),
        PractitionerScope::Nothing => None,
        PractitionerScope::CareTeamOf(client) => {
            Some(therapists.filter(users::id.eq_any(team_of(vec![client.to_string()]))))
        }
        PractitionerScope::CareTeamsFollowedBy(caregiver) => {
            let followed = caregiver_links::table
                .filter(caregiver_links::caregiver_id.eq(caregiver.to_string()))
                .filter(caregiver_links::revoked_at.is_null())
                .select(caregiver_links::client_id);
            let team = care_team_members::table
                .filter(care_team_members::client_id.eq_any(followed))
                .select(care_team_members::therapist_id);
            Some(therapists.filter(users::id.eq_any(team)))
        }
    }
}

/// One therapist, if the caller's practitioner scope shows them.
pub fn practitioner(
    conn: &mut Conn,
    org_id: Uuid,
    scope: PractitionerScope,
    user_id: Uuid,
) -> StoreResult<User> {
    practitioners(org_id, scope)
        .ok_or(StoreError::NotFound)?
        .filter(users::id.eq(user_id.to_string()))
        .select(UserRow::as_select())
        .first(conn)?
        .into_user()
}

/// What a practitioner search narrows to.
#[derive(Debug, Clone, Default)]
pub struct PractitionerFilter {
    /// Only these ids (`_id`).
    pub ids: Option<Vec<Uuid>>,
    pub active: Option<bool>,
    /// Part of the display name, any case.
    pub name_contains: Option<String>,
    /// Part of the e-mail address, any case.
    pub email: Option<String>,
}

/// A page of the therapists the caller's practitioner scope shows, by id.
pub fn list_practitioners(
    conn: &mut Conn,
    org_id: Uuid,
    scope: PractitionerScope,
    filter: &PractitionerFilter,
    page: PageRequest,
) -> StoreResult<Page<User>> {
    let Some(q) = practitioners(org_id, scope) else {
        return Ok(Page {
            items: vec![],
            next_cursor: None,
        });
    };
    // No LIMIT: names are matched below, after the rows are read.
    let mut q = q.select(UserRow::as_select()).order(users::id.asc());
    if let Some(ids) = &filter.ids {
        q = q.filter(users::id.eq_any(ids.iter().map(Uuid::to_string).collect::<Vec<_>>()));
    }
    if let Some(active) = filter.active {
        q = q.filter(users::active.eq(active));
    }
    if let Some(after) = page.after {
        q = q.filter(users::id.gt(after.to_string()));
    }
    let mut items = q
        .load(conn)?
        .into_iter()
        .map(UserRow::into_user)
        .collect::<StoreResult<Vec<_>>>()?;
    // Names and e-mails are matched here, in Unicode lower case, the same on both
    // backends (a clinic has tens of therapists, not thousands).
    let contains = |hay: Option<&str>, needle: &Option<String>| match needle {
        None => true,
        Some(n) => hay.is_some_and(|h| h.to_lowercase().contains(&n.to_lowercase())),
    };
    items.retain(|u| {
        contains(Some(&u.display_name), &filter.name_contains)
            && contains(u.email.as_deref(), &filter.email)
    });
    Ok(Page::from_rows(items, page.limit, |u| u.id))
}
