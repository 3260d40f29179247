//! Reading the audit trail: the clinic's search (admins, integrations with audit:read)
//! and each client's own access log.

use domain::{
    audit::AuditEvent,
    policy::{ClientAction, OrgAction},
};
use uuid::Uuid;

pub use crate::audit::{AccessEntry, AccessLogView, AuditFilter};
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
}

#[cfg(test)]
mod described {
    /// Every action code the operations record has plain words for the access log
    /// (`domain::audit::ACTIONS`): the codes are read from the operations' source.
    #[test]
    fn every_recorded_action_has_plain_words() {
        let sources = [
            include_str!("admin.rs"),
            include_str!("audit.rs"),
            include_str!("auth.rs"),
            include_str!("care.rs"),
            include_str!("ehr.rs"),
            include_str!("clients.rs"),
            include_str!("goals.rs"),
            include_str!("measures.rs"),
            include_str!("progress.rs"),
            include_str!("users.rs"),
            include_str!("me.rs"),
            include_str!("webhooks.rs"),
        ];
        let mut codes = Vec::new();
        for source in sources {
            for literal in source.split('"').skip(1).step_by(2) {
                let mut parts = literal.split('.');
                let is_code = matches!(
                    (parts.next(), parts.next(), parts.next()),
                    (Some(a), Some(b), None)
                        if !a.is_empty() && !b.is_empty()
                            && literal.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
                );
                if is_code && !literal.ends_with(".rs") {
                    codes.push(literal);
                }
            }
        }
        assert!(codes.len() >= 40, "{codes:?}");
        let missing: Vec<_> = codes
            .into_iter()
            .filter(|c| !domain::audit::is_described(c))
            .collect();
        assert!(missing.is_empty(), "no plain words for {missing:?}");
    }
}
