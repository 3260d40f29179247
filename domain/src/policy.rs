//! The one authorization policy. Every handler asks it; nothing else decides.
//!
//! Two questions, always in this order:
//! 1. May the caller *see* the record? If not, the answer is [`Decision::NotFound`]:
//!    a caller outside a record's reach learns nothing, not even that it exists.
//! 2. May they do *this* to it? If not, [`Decision::Forbidden`].

use crate::{
    client::Refusal,
    identity::{Principal, Role, Scope},
};

/// The outcome of asking the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Visible, but this action is not the caller's to take (HTTP 403).
    Forbidden,
    /// Outside the caller's reach; indistinguishable from absent (HTTP 404).
    NotFound,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// What a caregiver was granted by the client who invited them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CaregiverPermission {
    /// Follow progress: read only.
    #[serde(rename = "view")]
    View,
    /// Also take part: comment, agree to goals, record caregiver reports.
    #[serde(rename = "contribute")]
    Contribute,
}

impl CaregiverPermission {
    pub const ALL: &'static [CaregiverPermission] =
        &[CaregiverPermission::View, CaregiverPermission::Contribute];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Contribute => "contribute",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, crate::Invalid> {
        match s {
            "view" => Ok(Self::View),
            "contribute" => Ok(Self::Contribute),
            _ => Err(crate::Invalid::field(
                field,
                "must be one of: view, contribute",
            )),
        }
    }
}

/// What the caller is to one client record, as storage found it. Built fresh for
/// every request, so a revoked link or a removed team member loses access at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientRelation {
    /// The record exists and belongs to the caller's organization.
    pub in_organization: bool,
    /// The caller is this client, logged in.
    pub is_self: bool,
    /// The caller is a therapist currently on this client's care team.
    pub on_care_team: bool,
    /// The caller holds an active caregiver link to this client.
    pub caregiver: Option<CaregiverPermission>,
}

/// Things one can do to a client's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAction {
    /// Read the record's demographics, care team and caregivers.
    View,
    /// Read clinical content: episodes, goals, measurements, progress.
    ViewClinical,
    /// Change demographics, identifiers or status (discharge).
    UpdateDemographics,
    /// Assign or remove therapists.
    ManageCareTeam,
    /// Invite, change or revoke caregivers.
    ManageCaregivers,
    /// Give the client a login.
    InviteClient,
    /// See who has viewed or changed the record.
    ViewAccessLog,
    /// Take part in care as the client's side: comments, agreement, self-reports.
    Participate,
    /// Clinical documentation: goals, measurements, team notes.
    Document,
}

impl ClientAction {
    pub const ALL: &'static [ClientAction] = &[
        ClientAction::View,
        ClientAction::ViewClinical,
        ClientAction::UpdateDemographics,
        ClientAction::ManageCareTeam,
        ClientAction::ManageCaregivers,
        ClientAction::InviteClient,
        ClientAction::ViewAccessLog,
        ClientAction::Participate,
        ClientAction::Document,
    ];

    /// Whether the action changes data; used to pick a write transaction.
    pub fn writes(self) -> bool {
        !matches!(
            self,
            ClientAction::View | ClientAction::ViewClinical | ClientAction::ViewAccessLog
        )
    }

    /// The scope that puts a record within an integration's reach for this action: the
    /// read scope of the area the action belongs to. Without it, the record is outside
    /// its reach and answers 404, as a made-up id would; an integration must not be able
    /// to tell which ids exist from a refusal.
    fn reach(self) -> Scope {
        match self {
            ClientAction::ViewClinical | ClientAction::Document | ClientAction::Participate => {
                Scope::ClinicalRead
            }
            ClientAction::ViewAccessLog => Scope::AuditRead,
            ClientAction::View
            | ClientAction::UpdateDemographics
            | ClientAction::ManageCareTeam
            | ClientAction::ManageCaregivers
            | ClientAction::InviteClient => Scope::ClientsRead,
        }
    }

    /// The scope an integration needs for this action.
    fn scope(self) -> Option<Scope> {
        match self {
            ClientAction::View => Some(Scope::ClientsRead),
            ClientAction::ViewClinical => Some(Scope::ClinicalRead),
            ClientAction::UpdateDemographics => Some(Scope::ClientsWrite),
            ClientAction::Document => Some(Scope::ClinicalWrite),
            ClientAction::ViewAccessLog => Some(Scope::AuditRead),
            // Relationships, invitations and the client's own voice are people's business.
            ClientAction::ManageCareTeam
            | ClientAction::ManageCaregivers
            | ClientAction::InviteClient
            | ClientAction::Participate => None,
        }
    }
}

/// Decides whether `who` may do `action` to a client record they stand in `relation` to.
pub fn decide(who: &Principal, relation: ClientRelation, action: ClientAction) -> Decision {
    if !relation.in_organization {
        return Decision::NotFound;
    }
    let visible = match who.role {
        Role::Admin => true,
        Role::Therapist => relation.on_care_team,
        Role::Client => relation.is_self,
        Role::Caregiver => relation.caregiver.is_some(),
        // An integration reaches its organization's records in the areas it may read;
        // what it may do there is held to its scopes.
        Role::Service => who.scopes.contains(action.reach()),
    };
    if !visible {
        return Decision::NotFound;
    }
    let allowed = match who.role {
        Role::Admin => !matches!(action, ClientAction::Participate | ClientAction::Document),
        Role::Therapist => matches!(
            action,
            ClientAction::View
                | ClientAction::ViewClinical
                | ClientAction::UpdateDemographics
                | ClientAction::Document
                | ClientAction::Participate
        ),
        Role::Client => matches!(
            action,
            ClientAction::View
                | ClientAction::ViewClinical
                | ClientAction::ManageCaregivers
                | ClientAction::ViewAccessLog
                | ClientAction::Participate
        ),
        Role::Caregiver => match action {
            ClientAction::View | ClientAction::ViewClinical => true,
            ClientAction::Participate => {
                relation.caregiver == Some(CaregiverPermission::Contribute)
            }
            _ => false,
        },
        Role::Service => action
            .scope()
            .is_some_and(|scope| who.scopes.contains(scope)),
    };
    if allowed {
        Decision::Allow
    } else {
        Decision::Forbidden
    }
}

/// Whether a caller who may view a client's clinical record also sees the care
/// team's own notes. Clients and caregivers never do.
pub fn sees_team_notes(who: &Principal) -> bool {
    match who.role {
        Role::Admin | Role::Therapist => true,
        Role::Service => who.scopes.contains(Scope::ClinicalRead),
        Role::Client | Role::Caregiver => false,
    }
}

/// The side of a goal agreement a caller speaks for, and the action that needs.
pub fn goal_side(who: &Principal) -> Option<(crate::goal::Side, ClientAction)> {
    match who.role {
        Role::Therapist => Some((crate::goal::Side::Team, ClientAction::Document)),
        Role::Client | Role::Caregiver => {
            Some((crate::goal::Side::Client, ClientAction::Participate))
        }
        Role::Admin | Role::Service => None,
    }
}

/// The side a caller proposes, revises or agrees to a goal for, and the action that
/// needs. Admins and integrations speak for neither: they are asked for
/// `Participate`, which [`decide`] refuses them (403 where they see the record, 404
/// where they do not), so the side given with it is never used.
pub fn goal_voice(who: &Principal) -> (crate::goal::Side, ClientAction) {
    goal_side(who).unwrap_or((crate::goal::Side::Team, ClientAction::Participate))
}

/// Who a goal proposal speaks for, the action it needs, and whether the proposer's
/// side agrees by proposing. An EHR's integration may put a goal forward for the
/// care team (clinical documentation, within its scopes), but speaks for no one:
/// the client and a therapist both still agree to it in Headway.
pub fn proposal_voice(who: &Principal) -> (crate::goal::Side, ClientAction, bool) {
    match who.role {
        Role::Service => (crate::goal::Side::Team, ClientAction::Document, false),
        _ => {
            let (side, action) = goal_voice(who);
            (side, action, true)
        }
    }
}

/// The action commenting on a goal needs: a team-only note is clinical documentation
/// (the care team's alone); any other comment is taking part, for the caller's side.
pub fn comment_action(who: &Principal, team_only: bool) -> ClientAction {
    if team_only {
        ClientAction::Document
    } else {
        goal_voice(who).1
    }
}

/// Where a measurement recorded by this caller comes from, and the action that needs.
pub fn measurement_source(who: &Principal) -> Option<(crate::measure::Source, ClientAction)> {
    use crate::measure::Source;
    match who.role {
        Role::Therapist => Some((Source::Therapist, ClientAction::Document)),
        Role::Service => Some((Source::Imported, ClientAction::Document)),
        Role::Client => Some((Source::ClientSelfReport, ClientAction::Participate)),
        Role::Caregiver => Some((Source::Caregiver, ClientAction::Participate)),
        Role::Admin => None,
    }
}

/// What recording (or correcting) a measurement asks of the policy, and the source
/// it is recorded as. Admins record nothing: they are asked for `Participate`, which
/// the policy refuses them (and the refusal is audited).
pub fn recording_as(who: &Principal) -> (crate::measure::Source, ClientAction) {
    measurement_source(who)
        .unwrap_or((crate::measure::Source::Therapist, ClientAction::Participate))
}

/// Who may correct a measurement: the care team (and integrations) any of a
/// client's measurements; clients and caregivers only what they recorded themselves.
/// Nothing else decides: [`crate::measure::Measurement::corrected`] asks it with the
/// stored measurement's recorder.
pub fn may_correct(who: &Principal, recorded_by: uuid::Uuid) -> Decision {
    match measurement_source(who) {
        Some((_, ClientAction::Document)) => Decision::Allow,
        Some(_) if recorded_by == who.user_id => Decision::Allow,
        _ => Decision::Forbidden,
    }
}

// --- Care teams, caregivers and a client's login --------------------------------------
// The operation fetches the facts (the account named, what is on record now) and
// these rules decide; the gate has already allowed the action itself.

/// Whether the account `therapist_id` names (`None`: no account of this clinic) may
/// join a client's care team, which it is on already or not.
pub fn may_join_care_team(
    therapist: Option<&crate::identity::User>,
    already_on_team: bool,
) -> Result<(), Refusal> {
    let therapist = therapist.ok_or_else(|| {
        crate::Invalid::field("therapist_id", "is not a user of this organization")
    })?;
    if therapist.role != Role::Therapist || !therapist.active {
        return Err(crate::Invalid::field("therapist_id", "must be an active therapist").into());
    }
    if already_on_team {
        return Err(Refusal::Conflict(
            "this therapist is already on the care team".into(),
        ));
    }
    Ok(())
}

/// Whether `account` (found by the e-mail given) may be linked as a caregiver of a
/// client of `organization`, to whom it holds an active link already or not.
pub fn may_link_caregiver(
    account: &crate::identity::User,
    organization: uuid::Uuid,
    already_linked: bool,
) -> Result<(), Refusal> {
    account.may_be_caregiver_in(organization)?;
    if already_linked {
        return Err(Refusal::Conflict(
            "this person is already a caregiver of this client".into(),
        ));
    }
    Ok(())
}

/// Whether a client may be invited to a login of their own: one login per client.
pub fn may_invite_client(existing_login: Option<uuid::Uuid>) -> Result<(), Refusal> {
    match existing_login {
        Some(_) => Err(Refusal::Conflict("this client already has a login".into())),
        None => Ok(()),
    }
}

/// Organization-wide actions, not about one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgAction {
    /// List the clients the caller may see (the list itself is scoped).
    ListClients,
    /// Register a new client.
    CreateClient,
    /// Create, change or deactivate accounts.
    ManageUsers,
    /// See the organization's staff directory.
    ListUsers,
    /// Search the organization's audit trail.
    SearchAudit,
    /// Define the clinic's own outcome measures.
    ManageMeasures,
    /// Hear of changes live. Everyone may; each hears only what they may read
    /// (`crate::change::may_see`).
    FollowChanges,
    /// See the clinic's webhook endpoints and their deliveries (admins only).
    ViewWebhooks,
    /// Register, change, pause, delete webhook endpoints, rotate their secrets and
    /// redeliver (admins only).
    ManageWebhooks,
    /// See the care team's worklists across its clients: flagged check-ins, questions
    /// waiting for an answer (each list holds only clients whose clinical record the
    /// caller may read, and leaves an event in each shown client's access log).
    ReviewCaseload,
    /// See the clinic's therapists as an EHR names them (FHIR Practitioner and
    /// PractitionerRole). Everyone may ask; each sees the therapists
    /// [`practitioner_scope`] shows them, and a therapist outside it answers 404.
    ViewPractitioners,
}

impl OrgAction {
    pub const ALL: &'static [OrgAction] = &[
        OrgAction::ListClients,
        OrgAction::CreateClient,
        OrgAction::ManageUsers,
        OrgAction::ListUsers,
        OrgAction::SearchAudit,
        OrgAction::ManageMeasures,
        OrgAction::FollowChanges,
        OrgAction::ViewWebhooks,
        OrgAction::ManageWebhooks,
        OrgAction::ReviewCaseload,
        OrgAction::ViewPractitioners,
    ];

    /// Whether the action changes data; used to pick a write transaction.
    pub fn writes(self) -> bool {
        matches!(
            self,
            OrgAction::CreateClient
                | OrgAction::ManageUsers
                | OrgAction::ManageMeasures
                | OrgAction::ManageWebhooks
        )
    }
}

/// Decides an organization-wide action. Never [`Decision::NotFound`]: the caller's
/// own organization is always visible to them.
pub fn decide_org(who: &Principal, action: OrgAction) -> Decision {
    let allowed = match (who.role, action) {
        (Role::Admin, _) | (_, OrgAction::FollowChanges | OrgAction::ViewPractitioners) => true,
        (_, OrgAction::ListClients) if who.role != Role::Service => true,
        (Role::Therapist, OrgAction::ListUsers | OrgAction::ReviewCaseload) => true,
        (Role::Service, OrgAction::ReviewCaseload) => who.scopes.contains(Scope::ClinicalRead),
        (Role::Service, OrgAction::ListClients) => who.scopes.contains(Scope::ClientsRead),
        (Role::Service, OrgAction::CreateClient) => who.scopes.contains(Scope::ClientsWrite),
        (Role::Service, OrgAction::SearchAudit) => who.scopes.contains(Scope::AuditRead),
        _ => false,
    };
    if allowed {
        Decision::Allow
    } else {
        Decision::Forbidden
    }
}

/// Which accounts the directory (`/users`) shows this caller. A therapist sees the
/// clinic's staff and integrations, and the people on their own caseload (the clients
/// whose care team they are on, and those clients' caregivers); never other clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryScope {
    /// Every account of the organization.
    Organization,
    /// Staff and integrations, and the caseload of this therapist.
    StaffAndCaseloadOf(uuid::Uuid),
    /// No account.
    Nothing,
}

/// The directory scope for a caller who passed `decide_org(.., ListUsers)`.
pub fn directory_scope(who: &Principal) -> DirectoryScope {
    match who.role {
        Role::Admin => DirectoryScope::Organization,
        Role::Therapist => DirectoryScope::StaffAndCaseloadOf(who.user_id),
        Role::Client | Role::Caregiver | Role::Service => DirectoryScope::Nothing,
    }
}

/// Which therapists a caller sees as Practitioners: the clinic's staff (and an
/// integration that may read client records) see every therapist of the clinic; a
/// client sees the therapists who are or were on their own care team, a caregiver
/// those of the clients they hold an active link to (as the care team they may
/// already read names them); nobody else sees any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PractitionerScope {
    /// Every therapist of the organization.
    Organization,
    /// Therapists who are or were on this client's care team.
    CareTeamOf(uuid::Uuid),
    /// Therapists who are or were on the care team of a client this caregiver holds
    /// an active link to.
    CareTeamsFollowedBy(uuid::Uuid),
    /// No therapist.
    Nothing,
}

/// The practitioner scope for a caller who passed `decide_org(.., ViewPractitioners)`.
pub fn practitioner_scope(who: &Principal) -> PractitionerScope {
    match who.role {
        Role::Admin | Role::Therapist => PractitionerScope::Organization,
        Role::Service if who.scopes.contains(Scope::ClientsRead) => PractitionerScope::Organization,
        Role::Service => PractitionerScope::Nothing,
        Role::Client => who
            .client_id
            .map_or(PractitionerScope::Nothing, PractitionerScope::CareTeamOf),
        Role::Caregiver => PractitionerScope::CareTeamsFollowedBy(who.user_id),
    }
}

/// Which clients a list query may return for this caller. Storage turns this into
/// a WHERE clause, so a list can never show what `decide` would hide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientScope {
    /// Every client of the organization.
    Organization,
    /// Clients whose care team the therapist is on.
    CareTeamOf(uuid::Uuid),
    /// Only this client record.
    Only(uuid::Uuid),
    /// Clients who hold an active caregiver link to this user.
    CaregiverOf(uuid::Uuid),
    /// Nothing at all.
    Nothing,
}

pub fn client_scope(who: &Principal) -> ClientScope {
    match who.role {
        Role::Admin => ClientScope::Organization,
        Role::Service if who.scopes.contains(Scope::ClientsRead) => ClientScope::Organization,
        Role::Service => ClientScope::Nothing,
        Role::Therapist => ClientScope::CareTeamOf(who.user_id),
        Role::Client => who
            .client_id
            .map_or(ClientScope::Nothing, ClientScope::Only),
        Role::Caregiver => ClientScope::CaregiverOf(who.user_id),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::identity::Scopes;
    use proptest::prelude::*;
    use uuid::Uuid;

    pub(crate) fn principal(role: Role, scopes: Scopes) -> Principal {
        Principal {
            user_id: Uuid::from_u128(1),
            organization_id: Uuid::from_u128(2),
            role,
            client_id: (role == Role::Client).then(|| Uuid::from_u128(3)),
            scopes,
        }
    }

    #[test]
    fn an_integration_proposes_goals_for_the_team_but_agrees_for_no_one() {
        use crate::goal::Side;
        let none = Scopes::default();
        let service = principal(Role::Service, none.clone());
        assert_eq!(
            proposal_voice(&service),
            (Side::Team, ClientAction::Document, false)
        );
        // Every other role proposes as it speaks, and agrees by proposing.
        for role in [Role::Therapist, Role::Client, Role::Caregiver, Role::Admin] {
            let who = principal(role, none.clone());
            let (side, action) = goal_voice(&who);
            assert_eq!(proposal_voice(&who), (side, action, true), "{role:?}");
        }
    }

    #[test]
    fn goals_are_voiced_by_a_side_and_team_notes_are_documentation() {
        use crate::goal::Side;
        let none = Scopes::default();
        for (role, side, action) in [
            (Role::Therapist, Side::Team, ClientAction::Document),
            (Role::Client, Side::Client, ClientAction::Participate),
            (Role::Caregiver, Side::Client, ClientAction::Participate),
            (Role::Admin, Side::Team, ClientAction::Participate),
            (Role::Service, Side::Team, ClientAction::Participate),
        ] {
            let who = principal(role, none.clone());
            assert_eq!(goal_voice(&who), (side, action), "{role:?}");
            assert_eq!(comment_action(&who, false), action);
            assert_eq!(comment_action(&who, true), ClientAction::Document);
        }
    }

    fn any_role() -> impl Strategy<Value = Role> {
        proptest::sample::select(Role::ALL.to_vec())
    }
    fn any_action() -> impl Strategy<Value = ClientAction> {
        proptest::sample::select(ClientAction::ALL.to_vec())
    }
    fn any_scopes() -> impl Strategy<Value = Scopes> {
        proptest::sample::subsequence(Scope::ALL.to_vec(), 0..=Scope::ALL.len())
            .prop_map(Scopes::from_iter)
    }
    fn any_permission() -> impl Strategy<Value = Option<CaregiverPermission>> {
        prop_oneof![
            Just(None),
            Just(Some(CaregiverPermission::View)),
            Just(Some(CaregiverPermission::Contribute))
        ]
    }
    fn any_relation() -> impl Strategy<Value = ClientRelation> {
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any_permission(),
        )
            .prop_map(|(o, s, t, c)| ClientRelation {
                in_organization: o,
                is_self: s,
                on_care_team: t,
                caregiver: c,
            })
    }

    #[test]
    fn the_care_team_corrects_any_measurement_others_only_their_own() {
        let someone_else = Uuid::from_u128(99);
        for (role, theirs, others) in [
            (Role::Therapist, Decision::Allow, Decision::Allow),
            (Role::Client, Decision::Allow, Decision::Forbidden),
            (Role::Caregiver, Decision::Allow, Decision::Forbidden),
            (Role::Admin, Decision::Forbidden, Decision::Forbidden),
        ] {
            let who = principal(role, Scopes::default());
            assert_eq!(may_correct(&who, who.user_id), theirs, "{role:?}");
            assert_eq!(may_correct(&who, someone_else), others, "{role:?}");
        }
        let integration = principal(Role::Service, Scopes::from_iter([Scope::ClinicalWrite]));
        assert_eq!(may_correct(&integration, someone_else), Decision::Allow);
    }

    #[test]
    fn each_role_records_as_its_own_source_and_admins_are_asked_to_participate() {
        use crate::measure::Source;
        for (role, source, action) in [
            (Role::Therapist, Source::Therapist, ClientAction::Document),
            (Role::Service, Source::Imported, ClientAction::Document),
            (
                Role::Client,
                Source::ClientSelfReport,
                ClientAction::Participate,
            ),
            (
                Role::Caregiver,
                Source::Caregiver,
                ClientAction::Participate,
            ),
            (Role::Admin, Source::Therapist, ClientAction::Participate),
        ] {
            let who = principal(role, Scopes::default());
            assert_eq!(recording_as(&who), (source, action), "{role:?}");
        }
        // ... which the policy refuses an admin, even on a client they may see.
        let rel = ClientRelation {
            in_organization: true,
            is_self: false,
            on_care_team: false,
            caregiver: None,
        };
        let admin = principal(Role::Admin, Scopes::default());
        let (_, action) = recording_as(&admin);
        assert_eq!(decide(&admin, rel, action), Decision::Forbidden);
    }

    proptest! {
        #[test]
        fn clients_and_caregivers_never_correct_another_persons_measurement(role in proptest::sample::select(vec![Role::Client, Role::Caregiver]), scopes in any_scopes(), recorder in any::<u128>()) {
            let who = principal(role, scopes);
            let recorded_by = Uuid::from_u128(recorder);
            prop_assume!(recorded_by != who.user_id);
            prop_assert_eq!(may_correct(&who, recorded_by), Decision::Forbidden);
        }

        #[test]
        fn another_organization_is_always_invisible(role in any_role(), scopes in any_scopes(), mut rel in any_relation(), action in any_action()) {
            rel.in_organization = false;
            prop_assert_eq!(decide(&principal(role, scopes), rel, action), Decision::NotFound);
        }

        #[test]
        fn whoever_may_act_may_also_view(role in any_role(), scopes in any_scopes(), rel in any_relation(), action in any_action()) {
            let who = principal(role, scopes);
            if decide(&who, rel, action).is_allowed() && role != Role::Service {
                prop_assert!(decide(&who, rel, ClientAction::View).is_allowed());
            }
        }

        #[test]
        fn a_persons_visibility_does_not_depend_on_the_action(role in any_role(), scopes in any_scopes(), rel in any_relation(), a in any_action(), b in any_action()) {
            prop_assume!(role != Role::Service);
            let who = principal(role, scopes);
            prop_assert_eq!(decide(&who, rel, a) == Decision::NotFound, decide(&who, rel, b) == Decision::NotFound);
        }

        #[test]
        fn an_integration_without_the_areas_read_scope_cannot_tell_a_record_exists(scopes in any_scopes(), mut rel in any_relation(), action in any_action()) {
            let who = principal(Role::Service, scopes.clone());
            let present = decide(&who, ClientRelation { in_organization: true, ..rel }, action);
            rel.in_organization = false;
            let absent = decide(&who, rel, action);
            prop_assert_eq!(present == absent, !scopes.contains(action.reach()));
            // Visible means it may read that area: a refusal there is about the action only.
            if present == Decision::Forbidden {
                prop_assert!(scopes.contains(action.reach()));
            }
        }

        #[test]
        fn a_client_reaches_only_their_own_record(scopes in any_scopes(), mut rel in any_relation(), action in any_action()) {
            rel.is_self = false;
            prop_assert_eq!(decide(&principal(Role::Client, scopes), rel, action), Decision::NotFound);
        }

        #[test]
        fn a_therapist_off_the_team_sees_nothing(scopes in any_scopes(), mut rel in any_relation(), action in any_action()) {
            rel.on_care_team = false;
            prop_assert_eq!(decide(&principal(Role::Therapist, scopes), rel, action), Decision::NotFound);
        }

        #[test]
        fn a_caregiver_needs_a_live_link_and_never_documents(scopes in any_scopes(), rel in any_relation(), action in any_action()) {
            let who = principal(Role::Caregiver, scopes);
            let decision = decide(&who, rel, action);
            if rel.caregiver.is_none() || !rel.in_organization {
                prop_assert_eq!(decision, Decision::NotFound);
            }
            if decision.is_allowed() {
                prop_assert!(matches!(action, ClientAction::View | ClientAction::ViewClinical | ClientAction::Participate));
            }
            if rel.in_organization && action == ClientAction::Participate && rel.caregiver == Some(CaregiverPermission::View) {
                prop_assert_eq!(decision, Decision::Forbidden);
            }
        }

        #[test]
        fn a_service_account_is_held_to_its_scopes(scopes in any_scopes(), mut rel in any_relation(), action in any_action()) {
            rel.in_organization = true;
            let decision = decide(&principal(Role::Service, scopes.clone()), rel, action);
            match (scopes.contains(action.reach()), action.scope()) {
                (false, _) => prop_assert_eq!(decision, Decision::NotFound),
                (true, Some(needed)) => prop_assert_eq!(decision.is_allowed(), scopes.contains(needed)),
                (true, None) => prop_assert_eq!(decision, Decision::Forbidden),
            }
        }

        #[test]
        fn a_client_or_caregiver_sees_only_the_care_teams_they_may_read(role in any_role(), scopes in any_scopes()) {
            let who = principal(role, scopes.clone());
            prop_assert!(decide_org(&who, OrgAction::ViewPractitioners).is_allowed());
            let expected = match role {
                Role::Admin | Role::Therapist => PractitionerScope::Organization,
                Role::Service if scopes.contains(Scope::ClientsRead) => PractitionerScope::Organization,
                Role::Service => PractitionerScope::Nothing,
                Role::Client => PractitionerScope::CareTeamOf(Uuid::from_u128(3)),
                Role::Caregiver => PractitionerScope::CareTeamsFollowedBy(who.user_id),
            };
            prop_assert_eq!(practitioner_scope(&who), expected);
        }

        #[test]
        fn org_actions_are_never_hidden(role in any_role(), scopes in any_scopes(), action in proptest::sample::select(OrgAction::ALL.to_vec())) {
            prop_assert_ne!(decide_org(&principal(role, scopes), action), Decision::NotFound);
        }

        #[test]
        fn the_directory_is_whole_only_for_admins_and_empty_for_whoever_may_not_list(role in any_role(), scopes in any_scopes()) {
            let who = principal(role, scopes);
            let scope = directory_scope(&who);
            prop_assert_eq!(scope == DirectoryScope::Organization, role == Role::Admin);
            if !decide_org(&who, OrgAction::ListUsers).is_allowed() {
                prop_assert_eq!(scope, DirectoryScope::Nothing);
            }
        }

        #[test]
        fn only_admins_manage_users(role in any_role(), scopes in any_scopes()) {
            prop_assert_eq!(decide_org(&principal(role, scopes), OrgAction::ManageUsers).is_allowed(), role == Role::Admin);
        }

        /// Webhooks push the whole clinic's changes to a URL: only admins see or
        /// manage them, whatever scopes an integration holds.
        #[test]
        fn only_admins_see_or_manage_webhooks(role in any_role(), scopes in any_scopes()) {
            let who = principal(role, scopes);
            for action in [OrgAction::ViewWebhooks, OrgAction::ManageWebhooks] {
                prop_assert_eq!(decide_org(&who, action).is_allowed(), role == Role::Admin);
                prop_assert_eq!(action.writes(), action == OrgAction::ManageWebhooks);
            }
        }
    }

    proptest! {
        #[test]
        fn clients_and_caregivers_never_see_team_notes(scopes in any_scopes()) {
            prop_assert!(!sees_team_notes(&principal(Role::Client, scopes.clone())));
            prop_assert!(!sees_team_notes(&principal(Role::Caregiver, scopes)));
        }
    }

    fn account(role: Role, active: bool) -> crate::identity::User {
        crate::identity::User {
            id: Uuid::from_u128(7),
            organization_id: Uuid::from_u128(2),
            email: Some("someone@example.org".into()),
            display_name: "Someone".into(),
            role,
            discipline: None,
            client_id: None,
            scopes: Scopes::default(),
            active,
            has_password: true,
            version: 1,
            created_at: chrono::DateTime::default(),
            updated_at: chrono::DateTime::default(),
        }
    }

    fn field_of(r: Result<(), Refusal>) -> Option<String> {
        match r {
            Err(Refusal::Invalid(crate::Invalid(e))) => e.first().map(|f| f.field.clone()),
            _ => None,
        }
    }

    #[test]
    fn only_an_active_therapist_of_the_clinic_joins_a_care_team_once() {
        let therapist = account(Role::Therapist, true);
        assert_eq!(may_join_care_team(Some(&therapist), false), Ok(()));
        assert!(matches!(
            may_join_care_team(Some(&therapist), true),
            Err(Refusal::Conflict(_))
        ));
        assert_eq!(
            field_of(may_join_care_team(None, false)).as_deref(),
            Some("therapist_id")
        );
        for (role, active) in [
            (Role::Therapist, false),
            (Role::Admin, true),
            (Role::Client, true),
        ] {
            let who = account(role, active);
            assert_eq!(
                field_of(may_join_care_team(Some(&who), false)).as_deref(),
                Some("therapist_id"),
                "{role:?} active={active}"
            );
        }
    }

    #[test]
    fn a_caregiver_account_of_the_clinic_is_linked_once() {
        let org = Uuid::from_u128(2);
        let carer = account(Role::Caregiver, true);
        assert_eq!(may_link_caregiver(&carer, org, false), Ok(()));
        assert!(matches!(
            may_link_caregiver(&carer, org, true),
            Err(Refusal::Conflict(_))
        ));
        // The wrong kind of account is a bad e-mail, whether linked or not.
        let therapist = account(Role::Therapist, true);
        assert_eq!(
            field_of(may_link_caregiver(&therapist, org, true)).as_deref(),
            Some("email")
        );
        assert_eq!(
            field_of(may_link_caregiver(&carer, Uuid::from_u128(9), false)).as_deref(),
            Some("email")
        );
    }

    #[test]
    fn a_client_gets_one_login() {
        assert_eq!(may_invite_client(None), Ok(()));
        assert_eq!(
            may_invite_client(Some(Uuid::from_u128(5))),
            Err(Refusal::Conflict("this client already has a login".into()))
        );
    }

    #[test]
    fn relations_grant_what_the_clinic_expects() {
        let rel = |is_self, team, cg| ClientRelation {
            in_organization: true,
            is_self,
            on_care_team: team,
            caregiver: cg,
        };
        let none = Scopes::default();
        let admin = principal(Role::Admin, none.clone());
        assert_eq!(
            decide(
                &admin,
                rel(false, false, None),
                ClientAction::ManageCareTeam
            ),
            Decision::Allow
        );
        assert_eq!(
            decide(&admin, rel(false, false, None), ClientAction::Document),
            Decision::Forbidden
        );
        let therapist = principal(Role::Therapist, none.clone());
        assert_eq!(
            decide(&therapist, rel(false, true, None), ClientAction::Document),
            Decision::Allow
        );
        assert_eq!(
            decide(
                &therapist,
                rel(false, true, None),
                ClientAction::ManageCareTeam
            ),
            Decision::Forbidden
        );
        let client = principal(Role::Client, none.clone());
        assert_eq!(
            decide(
                &client,
                rel(true, false, None),
                ClientAction::ManageCaregivers
            ),
            Decision::Allow
        );
        assert_eq!(
            decide(
                &client,
                rel(true, false, None),
                ClientAction::UpdateDemographics
            ),
            Decision::Forbidden
        );
        let caregiver = principal(Role::Caregiver, none);
        assert_eq!(
            decide(
                &caregiver,
                rel(false, false, Some(CaregiverPermission::View)),
                ClientAction::View
            ),
            Decision::Allow
        );
        assert_eq!(
            decide(
                &caregiver,
                rel(false, false, Some(CaregiverPermission::Contribute)),
                ClientAction::Participate
            ),
            Decision::Allow
        );
        // Everyone who may see the client's record may see their clinical record too.
        for role in [Role::Admin, Role::Therapist, Role::Client, Role::Caregiver] {
            let rel = ClientRelation {
                in_organization: true,
                is_self: true,
                on_care_team: true,
                caregiver: Some(CaregiverPermission::View),
            };
            let who = principal(role, Scopes::default());
            assert_eq!(
                decide(&who, rel, ClientAction::ViewClinical),
                Decision::Allow,
                "{role}"
            );
        }
        assert_eq!(
            client_scope(&principal(Role::Service, Scopes::default())),
            ClientScope::Nothing
        );
    }
}
