//! The action catalog: every project-scoped route, its stable action key and label, the resource
//! it touches and the least role allowed to call it.
//!
//! Invariants:
//! * Actions come from route templates (`/applications/{id}/deploy`), never from raw paths.
//! * Every handler under [`PROJECT_SCOPE`] is registered by its action key through
//!   `routes::ProjectRoutes`, which wraps it in the capture middleware bound to this entry: the
//!   permission checked is the one of the handler that runs, never one looked up from the path.
//!   A key missing here stops the server at start-up; a test checks that every entry has a handler.
//! * Keys are stable: the audit log stores them, so renaming one orphans history. Labels may change.

use auditlog_shared::wire::Role;
use auditlog_shared::ResourceType;

/// The path every project-scoped route lives under.
pub const PROJECT_SCOPE: &str = "/api/v1/projects/{project_id}";

/// The `route` of every ingested entry: the event's own path is the sender's word, not a route
/// of this server.
pub const INGESTED_ROUTE: &str = "(ingested)";
/// The namespace of ingested actions, so that no event can pass for a request this server
/// handled (`application.delete`, `session.sign_in`, …).
pub const INGESTED_ACTION_PREFIX: &str = "ext.";

/// One project-scoped route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: &'static str,
    /// The template below [`PROJECT_SCOPE`]; `""` is the project itself.
    pub template: &'static str,
    pub action: &'static str,
    pub label: &'static str,
    pub resource_type: ResourceType,
    /// Who may call it. [`Permission::Ingest`] routes need a token with the ingest permission.
    pub permission: Permission,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    AtLeast(Role),
    Ingest,
}

/// A request under the project scope that matched no route.
pub const UNMATCHED: RouteSpec = RouteSpec {
    method: "*",
    template: "*",
    action: "request.unmatched",
    label: "Unknown request",
    resource_type: ResourceType::Project,
    permission: Permission::AtLeast(Role::Viewer),
};

/// Account events: requests outside the project scope that concern an account, recorded as
/// one entry in each project the account belongs to (with the route's template and the
/// account as the resource).
const fn account_event(
    method: &'static str,
    template: &'static str,
    action: &'static str,
    label: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        template,
        action,
        label,
        resource_type: ResourceType::User,
        permission: Permission::AtLeast(Role::Viewer),
    }
}

/// Failed sign-ins of an account, coalesced: the entry's resource name carries the count.
pub const SIGN_IN_FAILED: RouteSpec = account_event(
    "POST",
    "/api/v1/session",
    "session.sign_in_failed",
    "Failed sign-in",
);
pub const SIGNED_IN: RouteSpec =
    account_event("POST", "/api/v1/session", "session.sign_in", "Sign in");
pub const SIGNED_OUT: RouteSpec =
    account_event("DELETE", "/api/v1/session", "session.sign_out", "Sign out");
pub const SIGNED_OUT_EVERYWHERE: RouteSpec = account_event(
    "DELETE",
    "/api/v1/sessions",
    "session.sign_out_everywhere",
    "Sign out everywhere",
);
pub const PASSWORD_CHANGED: RouteSpec = account_event(
    "POST",
    "/api/v1/session/password",
    "session.password_change",
    "Change password",
);
/// Recorded in the one project the invitation is for.
pub const INVITATION_ACCEPTED: RouteSpec = account_event(
    "POST",
    "/api/v1/invitations/{secret}/accept",
    "user.invitation.accept",
    "Accept invitation",
);

/// A verification that found the chain broken: recorded in the project (by whoever ran it) so
/// the finding is in the log itself and can fire an alert.
pub const VERIFICATION_FAILED: RouteSpec = RouteSpec {
    method: "GET",
    template: "/api/v1/projects/{project_id}/audit-logs/verify",
    action: "audit_log.verification_failed",
    label: "Audit log verification failed",
    resource_type: ResourceType::Project,
    permission: Permission::AtLeast(Role::Admin),
};

/// Entries the server records besides a request's own: account events and findings.
pub const RECORDED_EVENTS: [&RouteSpec; 7] = [
    &VERIFICATION_FAILED,
    &SIGN_IN_FAILED,
    &SIGNED_IN,
    &SIGNED_OUT,
    &SIGNED_OUT_EVERYWHERE,
    &PASSWORD_CHANGED,
    &INVITATION_ACCEPTED,
];

use Permission::{AtLeast, Ingest};
use ResourceType as R;
use Role::{Admin, Developer, Viewer};

const fn route(
    method: &'static str,
    template: &'static str,
    action: &'static str,
    label: &'static str,
    resource_type: ResourceType,
    permission: Permission,
) -> RouteSpec {
    RouteSpec {
        method,
        template,
        action,
        label,
        resource_type,
        permission,
    }
}

/// Declares list, create, read, update and delete routes of a named platform resource.
macro_rules! crud {
    ($path:literal, $key:literal, $singular:literal, $plural:literal, $type:expr, $writer:expr) => {
        [
            route(
                "GET",
                $path,
                concat!($key, ".list"),
                concat!("List ", $plural),
                $type,
                AtLeast(Viewer),
            ),
            route(
                "POST",
                $path,
                concat!($key, ".create"),
                concat!("Create ", $singular),
                $type,
                AtLeast($writer),
            ),
            route(
                "GET",
                concat!($path, "/{id}"),
                concat!($key, ".read"),
                concat!("View ", $singular),
                $type,
                AtLeast(Viewer),
            ),
            route(
                "PATCH",
                concat!($path, "/{id}"),
                concat!($key, ".update"),
                concat!("Update ", $singular),
                $type,
                AtLeast($writer),
            ),
            route(
                "DELETE",
                concat!($path, "/{id}"),
                concat!($key, ".delete"),
                concat!("Delete ", $singular),
                $type,
                AtLeast($writer),
            ),
        ]
    };
}

const APPLICATIONS: [RouteSpec; 5] = crud!(
    "/applications",
    "application",
    "application",
    "applications",
    R::Application,
    Developer
);
const CLUSTERS: [RouteSpec; 5] = crud!(
    "/clusters",
    "cluster",
    "cluster",
    "clusters",
    R::Cluster,
    Admin
);
const DATASTORES: [RouteSpec; 5] = crud!(
    "/datastores",
    "datastore",
    "datastore",
    "datastores",
    R::Datastore,
    Developer
);
const ENVIRONMENT_GROUPS: [RouteSpec; 5] = crud!(
    "/environment-groups",
    "environment_group",
    "environment group",
    "environment groups",
    R::EnvironmentGroup,
    Developer
);
const CLOUD_ACCOUNTS: [RouteSpec; 5] = crud!(
    "/cloud-accounts",
    "cloud_account",
    "cloud account",
    "cloud accounts",
    R::CloudAccount,
    Admin
);
const INTEGRATIONS: [RouteSpec; 5] = crud!(
    "/integrations",
    "integration",
    "integration",
    "integrations",
    R::Integration,
    Admin
);

const OTHERS: [RouteSpec; 38] = [
    route(
        "GET",
        "",
        "project.read",
        "View project",
        R::Project,
        AtLeast(Viewer),
    ),
    route(
        "GET",
        "/settings",
        "project.settings.read",
        "View project settings",
        R::Project,
        AtLeast(Viewer),
    ),
    route(
        "PATCH",
        "/settings",
        "project.settings.update",
        "Update project settings",
        R::Project,
        AtLeast(Admin),
    ),
    route(
        "POST",
        "/applications/{id}/deploy",
        "application.deploy",
        "Deploy application",
        R::Application,
        AtLeast(Developer),
    ),
    route(
        "GET",
        "/tokens",
        "api_token.list",
        "List API tokens",
        R::ApiToken,
        AtLeast(Admin),
    ),
    route(
        "POST",
        "/tokens",
        "api_token.create",
        "Create API token",
        R::ApiToken,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/tokens/{id}",
        "api_token.read",
        "View API token",
        R::ApiToken,
        AtLeast(Admin),
    ),
    route(
        "DELETE",
        "/tokens/{id}",
        "api_token.revoke",
        "Revoke API token",
        R::ApiToken,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/members",
        "user.list",
        "List members",
        R::User,
        AtLeast(Viewer),
    ),
    // The key predates invitations; adding a member now means inviting them.
    route(
        "POST",
        "/members",
        "user.add",
        "Invite member",
        R::Invitation,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/invitations",
        "user.invitation.list",
        "List invitations",
        R::Invitation,
        AtLeast(Admin),
    ),
    route(
        "DELETE",
        "/invitations/{id}",
        "user.invitation.revoke",
        "Revoke invitation",
        R::Invitation,
        AtLeast(Admin),
    ),
    route(
        "PATCH",
        "/members/{id}",
        "user.change_role",
        "Change member role",
        R::User,
        AtLeast(Admin),
    ),
    route(
        "DELETE",
        "/members/{id}",
        "user.remove",
        "Remove member",
        R::User,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/audit-logs",
        "audit_log.list",
        "View audit logs",
        R::Project,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/audit-logs/histogram",
        "audit_log.histogram",
        "View audit log volume",
        R::Project,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/audit-logs/facets",
        "audit_log.facets",
        "View audit log filters",
        R::Project,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/audit-logs/query",
        "audit_log.query",
        "Read a typed audit log query",
        R::Project,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/audit-logs/verify",
        "audit_log.verify",
        "Verify audit log",
        R::Project,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/saved-views",
        "saved_view.list",
        "List saved views",
        R::SavedView,
        AtLeast(Admin),
    ),
    route(
        "POST",
        "/saved-views",
        "saved_view.create",
        "Save audit log view",
        R::SavedView,
        AtLeast(Admin),
    ),
    route(
        "PATCH",
        "/saved-views/{id}",
        "saved_view.update",
        "Update saved view",
        R::SavedView,
        AtLeast(Admin),
    ),
    route(
        "DELETE",
        "/saved-views/{id}",
        "saved_view.delete",
        "Delete saved view",
        R::SavedView,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/streams",
        "stream.list",
        "List stream destinations",
        R::StreamDestination,
        AtLeast(Admin),
    ),
    route(
        "POST",
        "/streams",
        "stream.create",
        "Create stream destination",
        R::StreamDestination,
        AtLeast(Admin),
    ),
    route(
        "PATCH",
        "/streams/{id}",
        "stream.update",
        "Update stream destination",
        R::StreamDestination,
        AtLeast(Admin),
    ),
    route(
        "DELETE",
        "/streams/{id}",
        "stream.delete",
        "Delete stream destination",
        R::StreamDestination,
        AtLeast(Admin),
    ),
    route(
        "POST",
        "/streams/{id}/test",
        "stream.test",
        "Send stream test event",
        R::StreamDestination,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/alerts",
        "alert.list",
        "List alerts",
        R::Alert,
        AtLeast(Admin),
    ),
    route(
        "POST",
        "/alerts",
        "alert.create",
        "Create alert",
        R::Alert,
        AtLeast(Admin),
    ),
    route(
        "PATCH",
        "/alerts/{id}",
        "alert.update",
        "Update alert",
        R::Alert,
        AtLeast(Admin),
    ),
    route(
        "DELETE",
        "/alerts/{id}",
        "alert.delete",
        "Delete alert",
        R::Alert,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/alerts/{id}/firings",
        "alert.firings",
        "List alert firings",
        R::Alert,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/audit-logs/entries/{id}",
        "audit_log.entry",
        "View audit log entry",
        R::Project,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/audit-logs/chain/{id}",
        "audit_log.chain_entry",
        "View audit log chain position",
        R::Project,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/audit-logs/export.{format}",
        "audit_log.export",
        "Export audit logs",
        R::Project,
        AtLeast(Admin),
    ),
    route(
        "GET",
        "/audit-logs/exports/{export_id}/manifest",
        "audit_log.export_manifest",
        "View export manifest",
        R::Project,
        AtLeast(Admin),
    ),
    route(
        "POST",
        "/ingest",
        "audit_log.ingest",
        "Ingest events",
        R::Project,
        Ingest,
    ),
];

/// Every project-scoped route.
pub fn all_routes() -> impl Iterator<Item = &'static RouteSpec> {
    static ALL: std::sync::OnceLock<Vec<RouteSpec>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        [
            &APPLICATIONS[..],
            &CLUSTERS,
            &DATASTORES,
            &ENVIRONMENT_GROUPS,
            &CLOUD_ACCOUNTS,
            &INTEGRATIONS,
            &OTHERS,
        ]
        .concat()
    })
    .iter()
}

/// The route of an action key. Handlers are registered by their action key
/// (`routes::ProjectRoutes::add`), so this is how a handler is bound to its permission.
pub fn by_action(action: &str) -> Option<&'static RouteSpec> {
    all_routes().find(|route| route.action == action)
}

/// The label of an action key, for display.
pub fn label(action: &str) -> Option<&'static str> {
    all_routes()
        .chain([&UNMATCHED])
        .chain(RECORDED_EVENTS)
        .find(|route| route.action == action)
        .map(|route| route.label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_are_unique_well_formed_and_routes_distinct() {
        let mut keys = HashSet::new();
        let mut routes = HashSet::new();
        for route in all_routes() {
            assert!(keys.insert(route.action), "duplicate key {}", route.action);
            assert!(
                routes.insert((route.method, route.template)),
                "duplicate route {route:?}"
            );
            assert!(
                auditlog_shared::ActionKey::new(route.action).is_some(),
                "{}",
                route.action
            );
        }
    }

    #[test]
    fn recorded_events_have_their_own_keys() {
        for event in RECORDED_EVENTS {
            assert!(by_action(event.action).is_none(), "{}", event.action);
            assert!(auditlog_shared::ActionKey::new(event.action).is_some());
            assert_eq!(label(event.action), Some(event.label));
        }
    }

    #[test]
    fn routes_are_found_by_their_action_key() {
        let deploy = by_action("application.deploy").unwrap();
        assert_eq!(deploy.template, "/applications/{id}/deploy");
        assert_eq!(deploy.method, "POST");
        assert_eq!(deploy.label, "Deploy application");
        assert!(by_action("application.explode").is_none());
        assert_eq!(label("api_token.revoke"), Some("Revoke API token"));
    }
}
