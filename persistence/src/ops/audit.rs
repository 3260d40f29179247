//! Reading the audit trail: the clinic's search (admins, integrations with audit:read)
//! and each client's own access log.

use domain::{
    audit::{AuditEvent, Outcome},
    policy::{ClientAction, OrgAction},
};
use uuid::Uuid;

pub use crate::audit::{AccessEntry, AccessLogView, AuditFilter};
use crate::{
    audit::{self, Actor, Subject},
    gate::Caller,
    now, Clinic, Page, PageRequest, StoreResult,
};

impl Clinic {
    /// The clinic's audit trail, newest first.
    pub fn search_audit(
        &self,
        caller: &Caller,
        filter: AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<AuditEvent>> {
        self.on_organization(
            caller,
            OrgAction::SearchAudit,
            Subject::many("audit.search", "audit_event"),
            move |c, who| audit::search(c, who.organization_id, &filter, page),
        )
    }

    /// Who has viewed or changed a client's record, newest first, each entry in plain
    /// words. The reader's own actions are left out unless `include_own`: a client
    /// opening their log asks who *else* has been in their record.
    pub fn access_log(
        &self,
        caller: &Caller,
        client_id: Uuid,
        include_own: bool,
        page: PageRequest,
    ) -> StoreResult<Page<AccessEntry>> {
        let view = AccessLogView {
            reader: caller.who.user_id,
            include_own,
        };
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewAccessLog,
            Subject::one("client.access_log", "client", client_id),
            move |c, client| audit::access_log(c, client, view, page),
        )
    }

    /// After a list or search the gate let through (its own organization-level event
    /// already queued), leaves one more event in the access log of each client whose
    /// record the answer shows: `action` on `resource_type` `id`, about `client_id`.
    /// The answer waits until these events are durable, as for any read.
    pub(crate) fn shown_to(
        &self,
        caller: &Caller,
        action: &'static str,
        resource_type: &'static str,
        shown: impl IntoIterator<Item = (Uuid, Uuid)>,
    ) -> StoreResult<()> {
        let actor = Actor::from(&caller.who);
        let acks = shown
            .into_iter()
            .map(|(id, client_id)| {
                let subject = Subject {
                    client_id: Some(client_id),
                    ..Subject::one(action, resource_type, id)
                };
                let row = audit::row(actor, &subject, Outcome::Success, &caller.meta, now());
                self.writer.append_audit(row)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        acks.into_iter().try_for_each(|ack| ack.wait())
    }
}
