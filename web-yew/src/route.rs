//! The UI's URLs. Every section has a real path, so deep links and reloads work (the
//! host serves `index.html` for any path that is not a file).

use berth_protocol::role::Role;
use yew_router::Routable;

#[derive(Debug, Clone, PartialEq, Eq, Routable)]
pub enum Route {
    #[at("/")]
    Dashboard,
    #[at("/containers")]
    Containers,
    /// The form that creates a container.
    #[at("/containers/new")]
    NewContainer,
    /// The same form, filled in from a container's settings.
    #[at("/containers/new/:from")]
    DuplicateContainer { from: String },
    /// The same form for a container recreated with changed settings.
    #[at("/containers/edit/:id")]
    EditContainer { id: String },
    /// One container: overview, logs, stats, terminal.
    #[at("/containers/:id")]
    Container { id: String },
    /// One container opened on a tab (`logs`, `stats`, `terminal`).
    #[at("/containers/:id/:tab")]
    ContainerTab { id: String, tab: String },
    /// Every running container's figures.
    #[at("/stats")]
    Stats,
    #[at("/stacks")]
    Stacks,
    /// One stack: its files, their versions.
    #[at("/stacks/:name")]
    Stack { name: String },
    #[at("/backups")]
    Backups,
    #[at("/jobs")]
    Jobs,
    /// The jobs page with one job's log open.
    #[at("/jobs/:id")]
    Job { id: String },
    #[at("/schedules")]
    Schedules,
    #[at("/volumes")]
    Volumes,
    /// A volume's file browser.
    #[at("/volumes/:name")]
    VolumeFiles { name: String },
    #[at("/images")]
    Images,
    #[at("/networks")]
    Networks,
    #[at("/plugins")]
    Plugins,
    #[at("/users")]
    Users,
    #[at("/tokens")]
    Tokens,
    #[at("/audit")]
    Audit,
    #[at("/profile")]
    Profile,
    #[at("/settings")]
    Settings,
    #[not_found]
    #[at("/404")]
    NotFound,
}

impl Route {
    /// The sidebar, in order.
    pub const SECTIONS: [Route; 15] = [
        Route::Dashboard,
        Route::Containers,
        Route::Stats,
        Route::Stacks,
        Route::Backups,
        Route::Jobs,
        Route::Schedules,
        Route::Volumes,
        Route::Images,
        Route::Networks,
        Route::Plugins,
        Route::Users,
        Route::Tokens,
        Route::Audit,
        Route::Settings,
    ];

    pub fn label(&self) -> &'static str {
        match self {
            Route::Dashboard => "Dashboard",
            Route::Containers | Route::Container { .. } | Route::ContainerTab { .. } => {
                "Containers"
            }
            Route::NewContainer | Route::DuplicateContainer { .. } => "New container",
            Route::EditContainer { .. } => "Edit container",
            Route::Stats => "Stats",
            Route::Stacks | Route::Stack { .. } => "Stacks",
            Route::Backups => "Backups",
            Route::Jobs | Route::Job { .. } => "Jobs",
            Route::Schedules => "Schedules",
            Route::Volumes | Route::VolumeFiles { .. } => "Volumes",
            Route::Images => "Images",
            Route::Networks => "Networks",
            Route::Plugins => "Plugins",
            Route::Users => "Users",
            Route::Tokens => "API tokens",
            Route::Audit => "Audit log",
            Route::Profile => "Profile",
            Route::Settings => "Settings",
            Route::NotFound => "Not found",
        }
    }

    /// The least role whose user the page serves: the role of the method it is built
    /// on (the catalogue's), so a section a user could only be refused is not offered.
    pub fn least_role(&self) -> Role {
        use berth_protocol::api::catalogue::{
            AuditList, Method, NotificationsRoutes, PluginsInstances, UsersList,
        };
        match self {
            Route::Users => UsersList::ROLE,
            Route::Audit => AuditList::ROLE,
            Route::Plugins => PluginsInstances::ROLE,
            // Notification routes and the default storage: an admin's to change.
            Route::Settings => NotificationsRoutes::ROLE,
            _ => Role::Viewer,
        }
    }

    /// A stable id for tests and links: `nav-containers`.
    pub fn slug(&self) -> &'static str {
        match self {
            Route::Dashboard => "dashboard",
            Route::Containers => "containers",
            Route::Container { .. } | Route::ContainerTab { .. } => "container",
            Route::NewContainer | Route::DuplicateContainer { .. } => "new-container",
            Route::EditContainer { .. } => "edit-container",
            Route::Stats => "stats",
            Route::Stacks => "stacks",
            Route::Stack { .. } => "stack",
            Route::Backups => "backups",
            Route::Jobs => "jobs",
            Route::Job { .. } => "job",
            Route::Schedules => "schedules",
            Route::Volumes => "volumes",
            Route::VolumeFiles { .. } => "volume-files",
            Route::Images => "images",
            Route::Networks => "networks",
            Route::Plugins => "plugins",
            Route::Users => "users",
            Route::Tokens => "tokens",
            Route::Audit => "audit",
            Route::Profile => "profile",
            Route::Settings => "settings",
            Route::NotFound => "not-found",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_has_a_unique_path_that_routes_back_to_it() {
        let mut paths = std::collections::HashSet::new();
        for r in Route::SECTIONS {
            let path = r.to_path();
            assert!(paths.insert(path.clone()), "duplicate path {path}");
            assert_eq!(Route::recognize(&path), Some(r.clone()), "{path}");
        }
        assert_eq!(
            Route::recognize("/containers/abc123"),
            Some(Route::Container {
                id: "abc123".into()
            })
        );
        assert_eq!(
            Route::recognize("/containers/abc123/terminal"),
            Some(Route::ContainerTab {
                id: "abc123".into(),
                tab: "terminal".into()
            })
        );
        assert_eq!(
            Route::recognize("/containers/new"),
            Some(Route::NewContainer)
        );
        assert_eq!(
            Route::recognize("/containers/new/web"),
            Some(Route::DuplicateContainer { from: "web".into() })
        );
        assert_eq!(
            Route::recognize("/containers/edit/web"),
            Some(Route::EditContainer { id: "web".into() })
        );
        assert_eq!(
            Route::recognize("/definitely/not/a/section"),
            Some(Route::NotFound)
        );
    }

    #[test]
    fn a_viewer_is_offered_no_admin_section() {
        let offered = |role: Role| -> Vec<&str> {
            Route::SECTIONS
                .iter()
                .filter(|r| role >= r.least_role())
                .map(Route::slug)
                .collect()
        };
        let viewer = offered(Role::Viewer);
        for admin_only in ["users", "audit", "plugins", "settings"] {
            assert!(
                !viewer.contains(&admin_only),
                "{admin_only} offered to a viewer"
            );
        }
        assert!(viewer.contains(&"backups") && viewer.contains(&"tokens"));
        assert_eq!(offered(Role::Admin).len(), Route::SECTIONS.len());
    }
}
