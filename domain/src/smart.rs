//! SMART App Launch v2 scopes (and v1's syntax), as a narrowing of the policy.
//!
//! A scope such as `system/Observation.rs` names a context (`patient`, `user`,
//! `system`), a FHIR resource type (or `*`) and interactions (c create, r read,
//! u update, d delete, s search). Headway keeps a granted set expanded into
//! [`Permission`]s, so intersecting and comparing sets is plain set arithmetic.
//!
//! The scopes never widen anything: every operation is first asked of the policy
//! (`crate::policy`), and only what it allows is then held to the scopes
//! ([`narrow`]). A token without SMART scopes (a person's, or an integration's with
//! Headway's own scopes) keeps the powers its account has.

use std::{collections::BTreeSet, fmt};

use uuid::Uuid;

use crate::{
    identity::{text_enum, Principal, Scope, Scopes},
    policy::Decision,
};

text_enum!(
    /// The FHIR resource types Headway's records are served as (and the nearest
    /// type for the JSON API's own records, so that a scoped token is held to its
    /// scopes on `/api/v1` too).
    ResourceType {
        Patient => "Patient",
        Practitioner => "Practitioner",
        RelatedPerson => "RelatedPerson",
        CareTeam => "CareTeam",
        EpisodeOfCare => "EpisodeOfCare",
        Goal => "Goal",
        Observation => "Observation",
        CarePlan => "CarePlan",
        DocumentReference => "DocumentReference",
        QuestionnaireResponse => "QuestionnaireResponse",
        Communication => "Communication",
        Questionnaire => "Questionnaire",
        Subscription => "Subscription",
        AuditEvent => "AuditEvent",
    }
);

/// Whose data a scope speaks of: the patient in context, the signed-in user's
/// reach, or the whole reach of a backend system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    Patient,
    User,
    System,
}

impl Context {
    pub const ALL: &'static [Context] = &[Context::Patient, Context::User, Context::System];

    pub fn as_str(self) -> &'static str {
        match self {
            Context::Patient => "patient",
            Context::User => "user",
            Context::System => "system",
        }
    }
}

/// One FHIR interaction, in SMART v2's letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interaction {
    Create,
    Read,
    Update,
    Delete,
    Search,
}

impl Interaction {
    /// In the order SMART v2 writes them: `cruds`.
    pub const ALL: &'static [Interaction] = &[
        Interaction::Create,
        Interaction::Read,
        Interaction::Update,
        Interaction::Delete,
        Interaction::Search,
    ];

    pub fn letter(self) -> char {
        match self {
            Interaction::Create => 'c',
            Interaction::Read => 'r',
            Interaction::Update => 'u',
            Interaction::Delete => 'd',
            Interaction::Search => 's',
        }
    }

    fn writes(self) -> bool {
        matches!(
            self,
            Interaction::Create | Interaction::Update | Interaction::Delete
        )
    }
}

/// One thing a granted scope set allows: an interaction on a resource type, in a
/// context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    pub context: Context,
    pub resource: ResourceType,
    pub interaction: Interaction,
}

/// What one operation asks of a scoped token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Need {
    pub resource: ResourceType,
    pub interaction: Interaction,
}

/// A set of SMART scopes, expanded. Written back in v2 syntax, `*` where a context
/// holds the same interactions on every resource type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmartScopes(BTreeSet<Permission>);

/// Whether a word of OAuth's `scope` parameter is a SMART scope (`context/...`)
/// rather than one of Headway's own (`clinical:read`).
pub fn is_smart_word(word: &str) -> bool {
    word.contains('/')
}

fn invalid(word: &str, why: impl fmt::Display) -> crate::Invalid {
    crate::Invalid::field("scope", format!("`{word}`: {why}"))
}

/// The interactions of one scope's permission part: v2 letters in `cruds` order,
/// or v1's `read`, `write` and `*`.
fn interactions(word: &str, text: &str) -> Result<Vec<Interaction>, crate::Invalid> {
    use Interaction::*;
    match text {
        "read" => return Ok(vec![Read, Search]),
        "write" => return Ok(vec![Create, Update, Delete]),
        "*" => return Ok(Interaction::ALL.to_vec()),
        _ => {}
    }
    let mut found = Vec::new();
    let mut rest = Interaction::ALL.iter();
    for letter in text.chars() {
        match rest.by_ref().find(|i| i.letter() == letter) {
            Some(i) => found.push(*i),
            None => {
                return Err(invalid(
                    word,
                    "the permissions must be letters of `cruds`, each once and in that \
                     order (v2), or `read`, `write` or `*` (v1)",
                ))
            }
        }
    }
    if found.is_empty() {
        return Err(invalid(word, "names no permission"));
    }
    Ok(found)
}

fn parse_word(word: &str) -> Result<Vec<Permission>, crate::Invalid> {
    let (context, rest) = word
        .split_once('/')
        .ok_or_else(|| invalid(word, "is not a SMART scope (context/Resource.permissions)"))?;
    let context = match context {
        "patient" => Context::Patient,
        "user" => Context::User,
        "system" => Context::System,
        _ => return Err(invalid(word, "the context must be patient, user or system")),
    };
    if rest.contains('?') {
        return Err(invalid(
            word,
            "restrictions by search parameter (`?...`) are not supported; \
             ask for the whole resource type",
        ));
    }
    let (resource, permissions) = rest
        .rsplit_once('.')
        .ok_or_else(|| invalid(word, "names no permissions (e.g. `.rs`)"))?;
    let resources = match resource {
        "*" => ResourceType::ALL.to_vec(),
        name => vec![name
            .parse::<ResourceType>()
            .map_err(|_| invalid(word, format!("Headway serves no resource type `{name}`")))?],
    };
    let interactions = interactions(word, permissions)?;
    Ok(resources
        .into_iter()
        .flat_map(|resource| {
            interactions.iter().map(move |&interaction| Permission {
                context,
                resource,
                interaction,
            })
        })
        .collect())
}

impl SmartScopes {
    /// Parses SMART scopes, space-separated; every word must be one.
    pub fn parse(text: &str) -> Result<Self, crate::Invalid> {
        let mut all = BTreeSet::new();
        for word in text.split_whitespace() {
            all.extend(parse_word(word)?);
        }
        Ok(SmartScopes(all))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, permission: Permission) -> bool {
        self.0.contains(&permission)
    }

    pub fn is_subset(&self, other: &SmartScopes) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn intersection(&self, other: &SmartScopes) -> SmartScopes {
        SmartScopes(self.0.intersection(&other.0).copied().collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        self.0.iter().copied()
    }

    /// Whether these scopes let `who` do what an operation needs, on the record of
    /// `client` (none: an organization-wide operation). `system/` and `user/` scopes
    /// cover whatever the account reaches; a `patient/` scope only the patient in
    /// context, which for Headway is a client's own login.
    pub fn permits(&self, who: &Principal, need: Need, client: Option<Uuid>) -> bool {
        let has = |context| {
            self.contains(Permission {
                context,
                resource: need.resource,
                interaction: need.interaction,
            })
        };
        let own_record = who.client_id.is_some() && (client.is_none() || client == who.client_id);
        has(Context::System) || has(Context::User) || (own_record && has(Context::Patient))
    }
}

impl FromIterator<Permission> for SmartScopes {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        SmartScopes(iter.into_iter().collect())
    }
}

impl fmt::Display for SmartScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words = Vec::new();
        for &context in Context::ALL {
            let letters = |resource: ResourceType| -> String {
                Interaction::ALL
                    .iter()
                    .filter(|&&interaction| {
                        self.contains(Permission {
                            context,
                            resource,
                            interaction,
                        })
                    })
                    .map(|i| i.letter())
                    .collect()
            };
            let each: Vec<(ResourceType, String)> =
                ResourceType::ALL.iter().map(|&r| (r, letters(r))).collect();
            let first = &each[0].1;
            if !first.is_empty() && each.iter().all(|(_, l)| l == first) {
                words.push(format!("{}/*.{first}", context.as_str()));
                continue;
            }
            for (resource, l) in each.iter().filter(|(_, l)| !l.is_empty()) {
                words.push(format!("{}/{resource}.{l}", context.as_str()));
            }
        }
        f.write_str(&words.join(" "))
    }
}

/// Which of Headway's own scopes an integration needs for an interaction on a
/// resource type; none where no integration ever may (accounts, measures,
/// webhooks are the admins').
fn native_scope(resource: ResourceType, interaction: Interaction) -> Option<Scope> {
    use ResourceType::*;
    let write = interaction.writes();
    match resource {
        Patient | RelatedPerson | CareTeam => Some(if write {
            Scope::ClientsWrite
        } else {
            Scope::ClientsRead
        }),
        EpisodeOfCare
        | Goal
        | Observation
        | CarePlan
        | DocumentReference
        | QuestionnaireResponse
        | Communication => Some(if write {
            Scope::ClinicalWrite
        } else {
            Scope::ClinicalRead
        }),
        AuditEvent => (!write).then_some(Scope::AuditRead),
        Practitioner | Questionnaire | Subscription => None,
    }
}

/// The `system/` scopes an integration holding Headway's scopes `held` may be
/// granted: Backend Services ask for no more than this, and get at most this.
pub fn grantable_to_service(held: &Scopes) -> SmartScopes {
    ResourceType::ALL
        .iter()
        .flat_map(|&resource| {
            Interaction::ALL.iter().map(move |&interaction| Permission {
                context: Context::System,
                resource,
                interaction,
            })
        })
        .filter(|p| native_scope(p.resource, p.interaction).is_some_and(|s| held.contains(s)))
        .collect()
}

/// What an operation (named by its audit action, `resource.verb`) asks of a scoped
/// token. `None`: nothing a SMART scope grants (following live changes, the sync
/// feed), so a scoped token is refused it.
pub fn need_of(action: &str) -> Option<Need> {
    use Interaction::*;
    use ResourceType::*;
    let (resource, interaction) = match action {
        "client.read" | "client.versions" | "me.read" => (Patient, Read),
        "client.list" => (Patient, Search),
        "client.create" => (Patient, Create),
        "client.update" | "client.invite" => (Patient, Update),
        "client.access_log" => (AuditEvent, Read),
        "care_team.read" => (CareTeam, Read),
        "care_team.add" | "care_team.remove" => (CareTeam, Update),
        "caregiver.read" => (RelatedPerson, Read),
        "caregiver.grant" => (RelatedPerson, Create),
        "caregiver.change" => (RelatedPerson, Update),
        "caregiver.revoke" => (RelatedPerson, Delete),
        "episode.read" => (EpisodeOfCare, Read),
        "episode.list" => (EpisodeOfCare, Search),
        "episode.create" => (EpisodeOfCare, Create),
        "episode.update" => (EpisodeOfCare, Update),
        "goal.read" | "goal.revisions" | "goal.comments" => (Goal, Read),
        "goal.list" | "goal.search" => (Goal, Search),
        "goal.propose" => (Goal, Create),
        "goal.revise" | "goal.status" | "goal.agree" | "goal.comment" => (Goal, Update),
        "measurement.read" | "measurement.history" => (Observation, Read),
        "measurement.list" | "measurement.search" => (Observation, Search),
        "progress.read" | "progress.milestones" | "progress.series" | "progress.chart" => {
            (Observation, Search)
        }
        "measurement.record" => (Observation, Create),
        "measurement.correct" => (Observation, Update),
        "practice.read" => (Observation, Read),
        "practice.list" => (Observation, Search),
        "practice.log" => (Observation, Create),
        "practice.correct" => (Observation, Update),
        "activity.read" | "activity.adherence" => (CarePlan, Read),
        "activity.list" => (CarePlan, Search),
        "activity.prescribe" => (CarePlan, Create),
        "activity.revise" | "activity.stop" => (CarePlan, Update),
        "check_in.list" | "check_in.flagged" => (QuestionnaireResponse, Search),
        "check_in.record" => (QuestionnaireResponse, Create),
        "question.read" => (Communication, Read),
        "question.list" | "question.unanswered" => (Communication, Search),
        "question.ask" | "question.note" => (Communication, Create),
        "question.answer" => (Communication, Update),
        "report.read" => (DocumentReference, Read),
        "report.list" => (DocumentReference, Search),
        "report.draft" => (DocumentReference, Create),
        "report.edit" | "report.sign" | "report.addendum" => (DocumentReference, Update),
        "user.read" => (Practitioner, Read),
        "user.list" => (Practitioner, Search),
        "user.create" => (Practitioner, Create),
        "user.update" | "user.jwks.update" => (Practitioner, Update),
        "user.jwks.read" => (Practitioner, Read),
        "measure.primary_source.read" => (Questionnaire, Read),
        "measure.create" => (Questionnaire, Create),
        "measure.primary_source" => (Questionnaire, Update),
        "webhook.read" | "webhook.deliveries" => (Subscription, Read),
        "webhook.list" => (Subscription, Search),
        "webhook.create" => (Subscription, Create),
        "webhook.update" | "webhook.rotate_secret" | "webhook.redeliver" => (Subscription, Update),
        "webhook.delete" => (Subscription, Delete),
        "audit.search" => (AuditEvent, Search),
        _ => return None,
    };
    Some(Need {
        resource,
        interaction,
    })
}

/// The policy's answer, held to a token's SMART scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Narrowed {
    /// What the policy said, unchanged.
    Policy(Decision),
    /// The policy allowed it; the token's scopes do not (HTTP 403, insufficient scope).
    InsufficientScope,
}

impl Narrowed {
    pub fn is_allowed(self) -> bool {
        self == Narrowed::Policy(Decision::Allow)
    }
}

/// Holds a policy decision to the scopes `granted` (none: the token carries no
/// SMART scopes and keeps its account's powers). Only an allowed operation is
/// asked: a record the policy hides stays hidden, a refusal stays a refusal.
pub fn narrow(
    policy: Decision,
    granted: Option<&SmartScopes>,
    who: &Principal,
    need: Option<Need>,
    client: Option<Uuid>,
) -> Narrowed {
    match (policy, granted) {
        (Decision::Allow, Some(scopes))
            if !need.is_some_and(|need| scopes.permits(who, need, client)) =>
        {
            Narrowed::InsufficientScope
        }
        _ => Narrowed::Policy(policy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        identity::Role,
        policy::{
            decide, decide_org, tests::principal, CaregiverPermission, ClientAction,
            ClientRelation, OrgAction,
        },
    };
    use proptest::prelude::*;

    fn p(context: Context, resource: ResourceType, interaction: Interaction) -> Permission {
        Permission {
            context,
            resource,
            interaction,
        }
    }

    fn parsed(text: &str) -> SmartScopes {
        SmartScopes::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn refusal(text: &str) -> String {
        match SmartScopes::parse(text) {
            Ok(s) => panic!("{text} parsed as {s}"),
            Err(crate::Invalid(e)) => format!("{}: {}", e[0].field, e[0].message),
        }
    }

    #[test]
    fn v2_scopes_name_a_context_a_resource_and_interactions() {
        use Interaction::*;
        let s = parsed("system/Observation.rs");
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![
                p(Context::System, ResourceType::Observation, Read),
                p(Context::System, ResourceType::Observation, Search)
            ]
        );
        assert_eq!(parsed("user/Goal.cruds").iter().count(), 5);
        assert!(parsed("patient/Patient.r").contains(p(
            Context::Patient,
            ResourceType::Patient,
            Read
        )));
        let all = parsed("system/*.rs");
        assert_eq!(all.iter().count(), 2 * ResourceType::ALL.len());
        assert_eq!(all.to_string(), "system/*.rs");
    }

    #[test]
    fn v1_scopes_read_as_their_v2_equivalents() {
        assert_eq!(parsed("patient/*.read"), parsed("patient/*.rs"));
        assert_eq!(parsed("user/Goal.write"), parsed("user/Goal.cud"));
        assert_eq!(
            parsed("system/Observation.*"),
            parsed("system/Observation.cruds")
        );
    }

    #[test]
    fn malformed_scopes_are_refused_saying_why() {
        assert!(refusal("system/Observation.rs?category=survey").contains("not supported"));
        assert!(refusal("system/Observation.sr").contains("cruds"));
        assert!(refusal("system/Observation.rr").contains("cruds"));
        assert!(refusal("system/Observation.x").contains("cruds"));
        assert!(refusal("system/Observation.").contains("no permission"));
        assert!(refusal("system/Observation").contains("no permissions"));
        assert!(refusal("system/Condition.rs").contains("no resource type `Condition`"));
        assert!(refusal("launch/Patient.rs").contains("patient, user or system"));
        assert!(refusal("openid").starts_with("scope: `openid`"));
    }

    #[test]
    fn written_back_per_resource_and_as_star_where_whole() {
        let s = parsed("system/Observation.rs system/Goal.r patient/*.read");
        assert_eq!(
            s.to_string(),
            "patient/*.rs system/Goal.r system/Observation.rs"
        );
    }

    #[test]
    fn operations_need_the_scope_of_their_resource() {
        let goal_create = need_of("goal.propose");
        assert_eq!(
            goal_create,
            Some(Need {
                resource: ResourceType::Goal,
                interaction: Interaction::Create
            })
        );
        let who = principal(Role::Service, Scopes::default());
        let observations = parsed("system/Observation.rs");
        let search = need_of("measurement.search").expect("mapped");
        assert!(observations.permits(&who, search, Some(Uuid::from_u128(9))));
        assert!(!observations.permits(&who, goal_create.expect("mapped"), None));
        assert_eq!(need_of("events.follow"), None);
    }

    #[test]
    fn a_patient_scope_covers_only_the_patient_in_context() {
        let need = need_of("goal.read").expect("mapped");
        let scopes = parsed("patient/Goal.rs");
        let client = principal(Role::Client, Scopes::default());
        assert!(scopes.permits(&client, need, client.client_id));
        assert!(!scopes.permits(&client, need, Some(Uuid::from_u128(77))));
        let therapist = principal(Role::Therapist, Scopes::default());
        assert!(!scopes.permits(&therapist, need, Some(Uuid::from_u128(3))));
    }

    #[test]
    fn an_integration_is_granted_system_scopes_of_its_own_areas_only() {
        let held = Scopes::parse("clinical:read").unwrap_or_default();
        let grantable = grantable_to_service(&held);
        assert!(parsed("system/Observation.rs system/Goal.rs").is_subset(&grantable));
        assert!(!parsed("system/Observation.c").is_subset(&grantable));
        assert!(!parsed("system/Patient.r").is_subset(&grantable));
        assert!(!parsed("user/Goal.r").is_subset(&grantable));
        let asked = parsed("system/*.rs");
        assert_eq!(
            asked.intersection(&grantable).to_string(),
            "system/EpisodeOfCare.rs system/Goal.rs system/Observation.rs system/CarePlan.rs \
             system/DocumentReference.rs system/QuestionnaireResponse.rs system/Communication.rs"
        );
    }

    fn any_scope_text() -> impl Strategy<Value = String> {
        let context = proptest::sample::select(vec!["patient", "user", "system"]);
        let resource = proptest::sample::select(
            std::iter::once("*")
                .chain(ResourceType::ALL.iter().map(|r| r.as_str()))
                .collect::<Vec<_>>(),
        );
        let perms = prop_oneof![
            proptest::sample::subsequence(vec!['c', 'r', 'u', 'd', 's'], 1..=5)
                .prop_map(|l| l.into_iter().collect::<String>()),
            proptest::sample::select(vec!["read".to_owned(), "write".to_owned(), "*".to_owned()]),
        ];
        proptest::collection::vec(
            (context, resource, perms).prop_map(|(c, r, p)| format!("{c}/{r}.{p}")),
            0..6,
        )
        .prop_map(|words| words.join(" "))
    }

    fn any_smart() -> impl Strategy<Value = SmartScopes> {
        any_scope_text().prop_map(|t| parsed(&t))
    }

    fn any_native() -> impl Strategy<Value = Scopes> {
        proptest::sample::subsequence(Scope::ALL.to_vec(), 0..=Scope::ALL.len())
            .prop_map(Scopes::from_iter)
    }

    fn any_relation() -> impl Strategy<Value = ClientRelation> {
        let caregiver = prop_oneof![
            Just(None),
            Just(Some(CaregiverPermission::View)),
            Just(Some(CaregiverPermission::Contribute))
        ];
        (any::<bool>(), any::<bool>(), any::<bool>(), caregiver).prop_map(|(o, s, t, c)| {
            ClientRelation {
                in_organization: o,
                is_self: s,
                on_care_team: t,
                caregiver: c,
            }
        })
    }

    fn any_need() -> impl Strategy<Value = Option<Need>> {
        let need = (
            proptest::sample::select(ResourceType::ALL.to_vec()),
            proptest::sample::select(Interaction::ALL.to_vec()),
        )
            .prop_map(|(resource, interaction)| Need {
                resource,
                interaction,
            });
        proptest::option::of(need)
    }

    proptest! {
        #[test]
        fn written_scopes_read_back_the_same(s in any_smart()) {
            prop_assert_eq!(parsed(&s.to_string()), s);
        }

        /// The promise: for every role, action, relation and scope set, what a scoped
        /// token may do is a subset of what the policy lets its account do; a record
        /// the policy hides stays hidden, and no scopes change nothing.
        #[test]
        fn scopes_only_narrow_the_policy_on_a_clients_record(
            role in proptest::sample::select(Role::ALL.to_vec()),
            native in any_native(),
            relation in any_relation(),
            action in proptest::sample::select(ClientAction::ALL.to_vec()),
            smart in any_smart(),
            need in any_need(),
            client in proptest::option::of(0u128..5),
        ) {
            let who = principal(role, native);
            let policy = decide(&who, relation, action);
            let client = client.map(Uuid::from_u128);
            let scoped = narrow(policy, Some(&smart), &who, need, client);
            if scoped.is_allowed() {
                prop_assert_eq!(policy, Decision::Allow);
            }
            if policy != Decision::Allow {
                prop_assert_eq!(scoped, Narrowed::Policy(policy));
            }
            prop_assert_eq!(narrow(policy, None, &who, need, client), Narrowed::Policy(policy));
        }

        #[test]
        fn scopes_only_narrow_the_policy_across_the_clinic(
            role in proptest::sample::select(Role::ALL.to_vec()),
            native in any_native(),
            action in proptest::sample::select(OrgAction::ALL.to_vec()),
            smart in any_smart(),
            need in any_need(),
        ) {
            let who = principal(role, native);
            let policy = decide_org(&who, action);
            let scoped = narrow(policy, Some(&smart), &who, need, None);
            prop_assert!(!scoped.is_allowed() || policy == Decision::Allow);
            if policy != Decision::Allow {
                prop_assert_eq!(scoped, Narrowed::Policy(policy));
            }
        }

        /// A scoped token is allowed exactly what both the policy and its scopes allow.
        #[test]
        fn what_both_allow_is_allowed(
            native in any_native(),
            relation in any_relation(),
            action in proptest::sample::select(ClientAction::ALL.to_vec()),
            smart in any_smart(),
            need in any_need(),
        ) {
            let who = principal(Role::Service, native);
            let policy = decide(&who, relation, action);
            let both = policy == Decision::Allow && need.is_some_and(|n| smart.permits(&who, n, None));
            prop_assert_eq!(narrow(policy, Some(&smart), &who, need, None).is_allowed(), both);
        }

        #[test]
        fn granted_is_never_more_than_asked_or_held(native in any_native(), smart in any_smart()) {
            let grantable = grantable_to_service(&native);
            let granted = smart.intersection(&grantable);
            prop_assert!(granted.is_subset(&smart));
            prop_assert!(granted.is_subset(&grantable));
            for p in granted.iter() {
                prop_assert_eq!(p.context, Context::System);
                let needed = native_scope(p.resource, p.interaction);
                prop_assert!(needed.is_some_and(|s| native.contains(s)));
            }
        }
    }
}
