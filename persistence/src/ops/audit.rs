//! Reading the audit trail: the clinic's search (admins, integrations with audit:read)
//! and each client's own access log.

use domain::{
    audit::AuditEvent,
    policy::{ClientAction, OrgAction},
};
use uuid::Uuid;

pub use crate::audit::{AccessEntry, AuditFilter};
use crate::{
    audit::{self, Subject},
    gate::Caller,
    Clinic, Page, PageRequest, StoreResult,
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

    /// Who has viewed or changed a client's record, newest first.
    pub fn access_log(
        &self,
        caller: &Caller,
        client_id: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<AccessEntry>> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewAccessLog,
            Subject::one("client.access_log", "client", client_id),
            move |c, client| audit::access_log(c, client, page),
        )
    }
}
