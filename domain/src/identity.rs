//! Who is calling: people and integrations, their roles and scopes.

use std::{collections::BTreeSet, fmt};

use uuid::Uuid;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the text form, blaming `field` when it is not one of ours.
            pub fn parse(field: &str, s: &str) -> Result<Self, crate::Invalid> {
                s.parse::<Self>().map_err(|crate::Invalid(mut e)| {
                    for f in &mut e { f.field = field.to_owned(); }
                    crate::Invalid(e)
                })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result { f.write_str(self.as_str()) }
        }

        impl ::std::str::FromStr for $name {
            type Err = crate::Invalid;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(crate::Invalid::field(
                        stringify!($name),
                        format!("must be one of: {}", [$($text),+].join(", ")),
                    )),
                }
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(
    /// A person's or an integration's standing in a clinic.
    Role {
        Admin => "admin",
        Therapist => "therapist",
        Client => "client",
        Caregiver => "caregiver",
        Service => "service",
    }
);

impl Role {
    /// The accounts an admin creates directly; clients and caregivers are invited
    /// through the client's record.
    pub const STAFF: &'static [Role] = &[Role::Admin, Role::Therapist, Role::Service];
}

text_enum!(
    /// A therapist's profession: care is interdisciplinary.
    Discipline {
        OccupationalTherapy => "occupational-therapy",
        PhysicalTherapy => "physical-therapy",
        SpeechLanguage => "speech-language-pathology",
        Psychology => "psychology",
        Nursing => "nursing",
        Other => "other",
    }
);

text_enum!(
    /// What an integration (service account) may touch. People get their rights
    /// from their role and relationships instead.
    Scope {
        ClientsRead => "clients:read",
        ClientsWrite => "clients:write",
        ClinicalRead => "clinical:read",
        ClinicalWrite => "clinical:write",
        AuditRead => "audit:read",
    }
);

/// A set of scopes, written as OAuth writes them: space-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// Parses OAuth's `scope` parameter.
    pub fn parse(text: &str) -> Result<Self, crate::Invalid> {
        Self::parse_field("scope", text)
    }

    /// The same, blaming `field` for an unknown scope.
    pub fn parse_field(field: &str, text: &str) -> Result<Self, crate::Invalid> {
        text.split_whitespace()
            .map(|s| {
                s.parse::<Scope>()
                    .map_err(|_| crate::Invalid::field(field, format!("unknown scope `{s}`")))
            })
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Scopes)
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    /// A token's access is the smaller of what it asked for and what its account holds.
    pub fn intersection(&self, other: &Scopes) -> Scopes {
        Scopes(self.0.intersection(&other.0).copied().collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes(iter.into_iter().collect())
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&words.join(" "))
    }
}

/// The authenticated caller of one request, as the policy sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
    pub organization_id: Uuid,
    pub role: Role,
    /// For a client's own login: the client record that is theirs.
    pub client_id: Option<Uuid>,
    /// Meaningful for service accounts only.
    pub scopes: Scopes,
}

/// Whether an access token's claims are still backed by the account as stored now.
///
/// The database decides, never the token: the same account, organization, role and
/// client record; scopes no wider than the account holds now (narrowing an account
/// ends its wider tokens at once); and, for a person, a session that is live
/// (`live_session` is false when the token names none, or one that has ended). Only
/// integrations sign in without a session.
pub fn token_is_backed(claimed: &Principal, stored: &Principal, live_session: bool) -> bool {
    claimed.user_id == stored.user_id
        && claimed.organization_id == stored.organization_id
        && claimed.role == stored.role
        && claimed.client_id == stored.client_id
        && claimed.scopes.is_subset(&stored.scopes)
        && (live_session || claimed.role == Role::Service)
}

/// Rules for a login name: an e-mail address, compared case-insensitively.
pub fn parse_email(field: &str, raw: &str) -> Result<String, crate::Invalid> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(crate::Invalid::field(field, "must be an e-mail address"))
    }
}

/// Passwords: long enough to resist guessing, short enough not to be a hashing DoS.
pub fn check_new_password(field: &str, password: &str) -> Result<(), crate::Invalid> {
    let chars = password.chars().count();
    if chars < 12 {
        Err(crate::Invalid::field(
            field,
            "must be at least 12 characters",
        ))
    } else if password.len() > 256 {
        Err(crate::Invalid::field(field, "must be at most 256 bytes"))
    } else {
        Ok(())
    }
}

/// The scopes a service account asks for with its token (RFC 6749 §3.3): parsed
/// before it signs in, so an unknown scope is refused without trying the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRequest(Option<Scopes>);

/// More than the account holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExceedsHeld;

impl ScopeRequest {
    /// `None` or blank asks for everything held; otherwise every scope must be known.
    pub fn parse(requested: Option<&str>) -> Result<Self, crate::Invalid> {
        match requested.map(str::trim).filter(|r| !r.is_empty()) {
            None => Ok(ScopeRequest(None)),
            Some(r) => Ok(ScopeRequest(Some(Scopes::parse(r)?))),
        }
    }

    /// What the token carries: what was asked for, when the account holds all of it;
    /// everything it holds, when it asked for nothing.
    pub fn grant(&self, held: &Scopes) -> Result<Scopes, ExceedsHeld> {
        match &self.0 {
            None => Ok(held.clone()),
            Some(asked) if asked.is_subset(held) => Ok(asked.clone()),
            Some(_) => Err(ExceedsHeld),
        }
    }
}

impl User {
    /// Whether this existing account may be linked to a client as a caregiver of
    /// clinic `org`: only a caregiver's account, and only of that clinic.
    pub fn may_be_caregiver_in(&self, org: Uuid) -> Result<(), crate::Invalid> {
        if self.role == Role::Caregiver && self.organization_id == org {
            return Ok(());
        }
        Err(crate::Invalid::field(
            "email",
            "belongs to an account that cannot be a caregiver here",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_caregiver_account_of_the_clinic_becomes_a_caregiver() {
        let (clinic, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let account = |role, organization_id| User {
            id: Uuid::from_u128(3),
            organization_id,
            email: Some("sam@example.org".into()),
            display_name: "Sam".into(),
            role,
            discipline: None,
            client_id: None,
            scopes: Scopes::default(),
            active: true,
            has_password: true,
            version: 1,
            created_at: chrono::DateTime::default(),
            updated_at: chrono::DateTime::default(),
        };
        assert!(account(Role::Caregiver, clinic)
            .may_be_caregiver_in(clinic)
            .is_ok());
        for (role, org) in [
            (Role::Caregiver, other),
            (Role::Client, clinic),
            (Role::Therapist, clinic),
        ] {
            assert_eq!(
                account(role, org)
                    .may_be_caregiver_in(clinic)
                    .err()
                    .map(|e| e.to_string()),
                Some(
                    "invalid input (email: belongs to an account that cannot be a caregiver here)"
                        .into()
                ),
                "{role:?}"
            );
        }
    }

    #[test]
    fn roles_round_trip_through_text() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().ok(), Some(*role));
        }
        assert!("superuser".parse::<Role>().is_err());
    }

    #[test]
    fn scopes_parse_and_intersect() {
        let asked = Scopes::parse("clients:read audit:read").unwrap_or_default();
        let held = Scopes::parse("clients:read clients:write").unwrap_or_default();
        assert_eq!(asked.intersection(&held).to_string(), "clients:read");
        assert!(Scopes::parse("clients:read root").is_err());
        assert_eq!(
            Scopes::parse("").map(|s| s.to_string()).ok(),
            Some(String::new())
        );
    }

    mod backing {
        use super::*;
        use proptest::prelude::*;

        fn any_principal() -> impl Strategy<Value = Principal> {
            (
                0u128..3,
                0u128..2,
                proptest::sample::select(Role::ALL.to_vec()),
                proptest::option::of(0u128..2),
                proptest::sample::subsequence(Scope::ALL.to_vec(), 0..=Scope::ALL.len()),
            )
                .prop_map(|(user, org, role, client, scopes)| Principal {
                    user_id: Uuid::from_u128(user),
                    organization_id: Uuid::from_u128(org),
                    role,
                    client_id: client.map(Uuid::from_u128),
                    scopes: Scopes::from_iter(scopes),
                })
        }

        proptest! {
            #[test]
            fn a_token_stands_only_for_what_the_database_holds_now(claimed in any_principal(), stored in any_principal(), live in any::<bool>()) {
                let backed = token_is_backed(&claimed, &stored, live);
                if backed {
                    prop_assert_eq!(claimed.role, stored.role);
                    prop_assert_eq!(claimed.client_id, stored.client_id);
                    prop_assert_eq!(claimed.organization_id, stored.organization_id);
                    prop_assert!(claimed.scopes.is_subset(&stored.scopes));
                }
                // A person needs a live session, whatever else matches.
                if claimed.role != Role::Service && !live {
                    prop_assert!(!backed);
                }
            }

            #[test]
            fn an_unchanged_account_backs_its_own_tokens(p in any_principal()) {
                prop_assert!(token_is_backed(&p, &p, true));
                prop_assert_eq!(token_is_backed(&p, &p, false), p.role == Role::Service);
            }

            #[test]
            fn narrowing_an_account_ends_its_wider_tokens(p in any_principal(), keep in proptest::sample::subsequence(Scope::ALL.to_vec(), 0..=Scope::ALL.len())) {
                let narrowed = Principal { scopes: p.scopes.intersection(&Scopes::from_iter(keep)), ..p.clone() };
                prop_assert_eq!(token_is_backed(&p, &narrowed, true), p.scopes == narrowed.scopes);
            }
        }
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            parse_email("email", " Ana@Clinic.Example ").ok().as_deref(),
            Some("ana@clinic.example")
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@clinic.example",
            "ana@clinic",
            "a na@clinic.example",
        ] {
            assert!(parse_email("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_have_bounds() {
        assert!(check_new_password("password", "short").is_err());
        assert!(check_new_password("password", "correct horse battery").is_ok());
        assert!(check_new_password("password", &"x".repeat(300)).is_err());
    }
}

/// An account: a person at a clinic, or an integration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: Option<String>,
    pub display_name: String,
    pub role: Role,
    pub discipline: Option<Discipline>,
    /// For a client's login: their client record.
    pub client_id: Option<Uuid>,
    /// For service accounts: what they may be granted.
    pub scopes: Scopes,
    pub active: bool,
    /// Whether the person has set a password yet (an invitation may be pending).
    pub has_password: bool,
    /// Grows by one with every change; the entity tag is this number, quoted.
    pub version: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl User {
    /// Who this account is when it acts, holding `scopes` (a person holds none:
    /// their rights come from role and relationships).
    pub fn principal(&self, scopes: Scopes) -> Principal {
        Principal {
            user_id: self.id,
            organization_id: self.organization_id,
            role: self.role,
            client_id: self.client_id,
            scopes,
        }
    }
}

/// A clinic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl serde::Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

// --- Signing in ------------------------------------------------------------------

/// Who a sign-in attempt names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// A person, by login e-mail (trimmed and lower-cased at the edge).
    Person { email: String },
    /// An integration, by its client id as sent: a malformed one matches no account
    /// (and still costs a hash check).
    Service { client_id: String },
}

impl Login {
    /// The name failures are counted under, with the client address.
    pub fn throttle_key(&self) -> String {
        match self {
            Login::Person { email } => email.clone(),
            Login::Service { client_id } => format!("client:{client_id}"),
        }
    }

    /// Whether an account of `role` signs in this way: people with a password,
    /// integrations with client credentials.
    pub fn admits(&self, role: Role) -> bool {
        match self {
            Login::Person { .. } => role != Role::Service,
            Login::Service { .. } => role == Role::Service,
        }
    }
}

/// The result of checking a secret against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Wrong,
    /// Correct; `rehashed` is a fresh hash when the stored one has outdated parameters.
    Right {
        rehashed: Option<String>,
    },
}

/// One secret check. The API implements it (it owns the hashing policy and its bounded
/// thread pool, where a place is taken before anything else is done); a sign-in
/// operation spends it between reading the account and recording the outcome,
/// holding no database connection meanwhile.
pub trait PasswordCheck: Send {
    /// Checks `secret` against `stored`. `None` (no such account, no password yet, or
    /// an inactive one) must cost the same time and answer [`Verdict::Wrong`], so that
    /// unknown and known accounts are refused alike. `Err` means the check could not
    /// run at all.
    fn check(self, stored: Option<&str>, secret: &str) -> Result<Verdict, String>;
}

/// The sign-in throttle. Failures are counted per (login, client address): after
/// `login_max_failures` within `window` that login is locked for that address only,
/// so nobody can lock a person out just by knowing their login. Failures are also
/// counted per address across logins: after `address_max_failures` the address may not
/// sign in at all (password spraying). A lock lasts until its window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub login_max_failures: i32,
    pub address_max_failures: i32,
    pub window: chrono::Duration,
}

/// Which failure count a lock is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// One login from one address.
    LoginFromAddress,
    /// Every login from one address.
    Address,
}

impl Lockout {
    /// Failures in a window that started at or before this no longer count.
    pub fn window_cutoff(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> chrono::DateTime<chrono::Utc> {
        now - self.window
    }

    /// Until when `failures` counted since `window_started` lock sign-in, if they do.
    pub fn locks(
        &self,
        counted: Counted,
        failures: i32,
        window_started: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let most = match counted {
            Counted::LoginFromAddress => self.login_max_failures,
            Counted::Address => self.address_max_failures,
        };
        (failures >= most).then(|| window_started + self.window)
    }

    /// The latest of the locks that are still on at `now`.
    pub fn locked_until(
        locks: impl IntoIterator<Item = chrono::DateTime<chrono::Utc>>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        locks.into_iter().filter(|until| *until > now).max()
    }

    /// Seconds to ask a locked-out caller to wait: at least one.
    pub fn retry_after_secs(
        until: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> i64 {
        (until - now).num_seconds().max(1)
    }
}

/// What a sign-in attempt led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    Accepted(User),
    /// Unknown login, wrong secret, inactive account: callers cannot tell which.
    Refused,
    /// Too many failures for this login from this address, or from this address.
    Locked {
        retry_after_secs: i64,
    },
}

// --- Staff accounts ----------------------------------------------------------------

/// A new staff or integration account, checked: clients and caregivers are invited
/// through their client record instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStaff {
    pub role: Role,
    pub display_name: String,
    pub email: Option<String>,
    pub discipline: Option<Discipline>,
    pub scopes: Scopes,
}

/// A new account as sent, before its rules are checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewStaffInput<'a> {
    pub role: &'a str,
    pub display_name: &'a str,
    pub email: Option<&'a str>,
    pub discipline: Option<&'a str>,
    pub scopes: Option<&'a str>,
}

impl NewStaff {
    /// People need an e-mail (their login), therapists a discipline; integrations have
    /// no e-mail and may hold scopes; nobody else holds scopes.
    pub fn parse(input: NewStaffInput<'_>) -> Result<NewStaff, crate::Invalid> {
        let mut problems = crate::error::Problems::default();
        let role = problems.check(Role::parse("role", input.role));
        if role.is_some_and(|r| !Role::STAFF.contains(&r)) {
            problems.add(
                "role",
                "clients and caregivers are invited through their client record",
            );
        }
        let email = match (input.email, role) {
            (Some(_), Some(Role::Service)) => {
                problems.add("email", "service accounts have no e-mail");
                None
            }
            (Some(e), _) => problems.check(parse_email("email", e)),
            (None, Some(Role::Service)) | (None, None) => None,
            (None, Some(_)) => {
                problems.add("email", "is required");
                None
            }
        };
        let discipline = input
            .discipline
            .and_then(|d| problems.check(Discipline::parse("discipline", d)));
        if role == Some(Role::Therapist) && input.discipline.is_none() {
            problems.add("discipline", "is required for therapists");
        }
        let scopes = match (input.scopes, role) {
            (Some(s), Some(Role::Service)) => problems
                .check(Scopes::parse_field("scopes", s))
                .unwrap_or_default(),
            (Some(_), _) => {
                problems.add("scopes", "only service accounts have scopes");
                Scopes::default()
            }
            (None, _) => Scopes::default(),
        };
        problems.finish()?;
        Ok(NewStaff {
            role: role.ok_or_else(|| crate::Invalid::field("role", "is required"))?,
            display_name: input.display_name.trim().to_owned(),
            email,
            discipline,
            scopes,
        })
    }
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountChanges {
    pub display_name: Option<String>,
    pub discipline: Option<Discipline>,
    pub scopes: Option<Scopes>,
    /// `Some(false)` deactivates: every session of the account ends at once.
    pub active: Option<bool>,
}

/// Account changes as sent, before their rules are checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountChangesInput<'a> {
    pub display_name: Option<&'a str>,
    pub discipline: Option<&'a str>,
    pub scopes: Option<&'a str>,
    pub active: Option<bool>,
}

impl AccountChanges {
    /// Parses the changes `by` asks of account `target`: nobody deactivates their own
    /// account.
    pub fn parse(
        input: AccountChangesInput<'_>,
        by: Uuid,
        target: Uuid,
    ) -> Result<AccountChanges, crate::Invalid> {
        let mut problems = crate::error::Problems::default();
        let discipline = input
            .discipline
            .and_then(|d| problems.check(Discipline::parse("discipline", d)));
        let scopes = input
            .scopes
            .and_then(|s| problems.check(Scopes::parse_field("scopes", s)));
        if input.active == Some(false) && by == target {
            problems.add("active", "you cannot deactivate your own account");
        }
        problems.finish()?;
        Ok(AccountChanges {
            display_name: input.display_name.map(|n| n.trim().to_owned()),
            discipline,
            scopes,
            active: input.active,
        })
    }

    /// Whether these changes fit the account as it is: scopes are for integrations,
    /// disciplines for therapists.
    pub fn fit(&self, account: &User) -> Result<(), crate::Invalid> {
        if self.scopes.is_some() && account.role != Role::Service {
            return Err(crate::Invalid::field(
                "scopes",
                "only service accounts have scopes",
            ));
        }
        if self.discipline.is_some() && account.role != Role::Therapist {
            return Err(crate::Invalid::field(
                "discipline",
                "only therapists have a discipline",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod sign_in_tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;

    fn lockout() -> Lockout {
        Lockout {
            login_max_failures: 5,
            address_max_failures: 50,
            window: Duration::minutes(15),
        }
    }

    #[test]
    fn a_login_locks_for_its_address_after_enough_failures_until_the_window_ends() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
        let l = lockout();
        assert_eq!(l.locks(Counted::LoginFromAddress, 4, start), None);
        assert_eq!(
            l.locks(Counted::LoginFromAddress, 5, start),
            Some(start + Duration::minutes(15))
        );
        assert_eq!(l.locks(Counted::Address, 49, start), None);
        assert_eq!(
            l.locks(Counted::Address, 50, start),
            Some(start + Duration::minutes(15))
        );
        assert_eq!(l.window_cutoff(start), start - Duration::minutes(15));
    }

    #[test]
    fn only_locks_still_on_count_and_the_wait_is_at_least_a_second() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
        let (past, soon, later) = (
            now - Duration::seconds(1),
            now + Duration::milliseconds(200),
            now + Duration::seconds(90),
        );
        assert_eq!(Lockout::locked_until([past], now), None);
        assert_eq!(Lockout::locked_until([past, soon, later], now), Some(later));
        assert_eq!(Lockout::retry_after_secs(soon, now), 1);
        assert_eq!(Lockout::retry_after_secs(later, now), 90);
    }

    #[test]
    fn people_and_integrations_sign_in_their_own_way() {
        let person = Login::Person {
            email: "ada@example.org".into(),
        };
        let service = Login::Service {
            client_id: "abc".into(),
        };
        assert_eq!(person.throttle_key(), "ada@example.org");
        assert_eq!(service.throttle_key(), "client:abc");
        assert!(person.admits(Role::Therapist) && !person.admits(Role::Service));
        assert!(service.admits(Role::Service) && !service.admits(Role::Admin));
    }

    #[test]
    fn new_staff_follow_the_rules_of_their_role() {
        let ok = NewStaff::parse(NewStaffInput {
            role: "therapist",
            display_name: " Olivia ",
            email: Some("Olivia@Example.org"),
            discipline: Some("occupational-therapy"),
            scopes: None,
        });
        assert_eq!(
            ok.map(|s| (s.display_name, s.email)),
            Ok(("Olivia".into(), Some("olivia@example.org".into())))
        );
        let fields = |input| {
            NewStaff::parse(input)
                .err()
                .map(|e| e.0.into_iter().map(|f| f.field).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        assert_eq!(
            fields(NewStaffInput {
                role: "therapist",
                display_name: "T",
                ..Default::default()
            }),
            ["email", "discipline"]
        );
        assert_eq!(
            fields(NewStaffInput {
                role: "client",
                display_name: "C",
                email: Some("c@example.org"),
                scopes: Some("clients:read"),
                ..Default::default()
            }),
            ["role", "scopes"]
        );
        assert_eq!(
            fields(NewStaffInput {
                role: "service",
                display_name: "EHR",
                email: Some("e@example.org"),
                ..Default::default()
            }),
            ["email"]
        );
    }

    #[test]
    fn nobody_deactivates_themself_and_changes_fit_the_role() {
        let me = Uuid::from_u128(1);
        let off = AccountChangesInput {
            active: Some(false),
            ..Default::default()
        };
        assert!(AccountChanges::parse(off, me, me).is_err());
        assert!(AccountChanges::parse(off, me, Uuid::from_u128(2)).is_ok());
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
        let admin = User {
            id: me,
            organization_id: Uuid::from_u128(9),
            email: None,
            display_name: "A".into(),
            role: Role::Admin,
            discipline: None,
            client_id: None,
            scopes: Scopes::default(),
            active: true,
            has_password: true,
            version: 1,
            created_at: t,
            updated_at: t,
        };
        let scopes = AccountChanges {
            scopes: Some(Scopes::default()),
            ..Default::default()
        };
        let discipline = AccountChanges {
            discipline: Some(Discipline::Nursing),
            ..Default::default()
        };
        assert!(scopes.fit(&admin).is_err());
        assert!(discipline.fit(&admin).is_err());
        let service = User {
            role: Role::Service,
            ..admin
        };
        assert!(scopes.fit(&service).is_ok());
    }

    #[test]
    fn a_service_gets_what_it_asks_for_within_what_it_holds() {
        let held = Scopes::parse("clients:read clinical:read").unwrap_or_default();
        let grant = |asked| ScopeRequest::parse(asked).map(|r| r.grant(&held));
        assert_eq!(grant(None), Ok(Ok(held.clone())));
        assert_eq!(grant(Some("  ")), Ok(Ok(held.clone())));
        assert_eq!(
            grant(Some("clinical:read")),
            Ok(Ok(Scopes::parse("clinical:read").unwrap_or_default()))
        );
        assert_eq!(grant(Some("clinical:write")), Ok(Err(ExceedsHeld)));
        assert!(grant(Some("everything")).is_err());
    }
}
