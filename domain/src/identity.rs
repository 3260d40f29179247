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
    pub fn parse(text: &str) -> Result<Self, crate::Invalid> {
        text.split_whitespace()
            .map(|s| {
                s.parse::<Scope>()
                    .map_err(|_| crate::Invalid::field("scope", format!("unknown scope `{s}`")))
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
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
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
