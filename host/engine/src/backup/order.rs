//! The order in which a backup holds several containers (those sharing a volume, often
//! the services of one compose project): a container is stopped before the containers
//! it depends on and started after them, as `docker compose` itself does. Dependencies
//! come from compose's labels (`com.docker.compose.depends_on`, services matched
//! within the same project) and from `network_mode: container:<id>` (what compose's
//! `network_mode: service:<name>` becomes).

use std::collections::HashMap;

use super::journal::Subject;

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
const DEPENDS_ON: &str = "com.docker.compose.depends_on";

/// A container with what it depends on.
#[derive(Debug, Clone)]
pub struct Node {
    subject: Subject,
    project: Option<String>,
    service: Option<String>,
    /// Services of the same project.
    depends_on: Vec<String>,
    /// A container (id or name) whose network stack it shares.
    network_of: Option<String>,
}

impl Node {
    pub fn new(
        subject: Subject,
        labels: &HashMap<String, String>,
        network_mode: Option<String>,
    ) -> Self {
        // `db:service_healthy:false,cache:service_started:true`
        let depends_on = labels
            .get(DEPENDS_ON)
            .map(|v| {
                v.split(',')
                    .filter_map(|d| d.split(':').next())
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Self {
            subject,
            project: labels.get(PROJECT).cloned(),
            service: labels.get(SERVICE).cloned(),
            depends_on,
            network_of: network_mode
                .as_deref()
                .and_then(|m| m.strip_prefix("container:"))
                .map(str::to_owned),
        }
    }

    fn depends_on(&self, other: &Node) -> bool {
        let by_service = self.project.is_some()
            && self.project == other.project
            && other
                .service
                .as_ref()
                .is_some_and(|s| self.depends_on.contains(s));
        let by_network = self.network_of.as_ref().is_some_and(|n| {
            *n == other.subject.name || (n.len() >= 12 && other.subject.id.starts_with(n.as_str()))
        });
        by_service || by_network
    }
}

/// Dependents before their dependencies (the stop order; starting goes in reverse).
/// Otherwise the given order is kept; a cycle (which compose refuses anyway) keeps
/// its members in the given order.
pub fn hold_order(nodes: Vec<Node>) -> Vec<Subject> {
    let n = nodes.len();
    // dependents[j]: how many not-yet-placed nodes depend on j.
    let mut dependents = vec![0usize; n];
    for (i, a) in nodes.iter().enumerate() {
        for (j, b) in nodes.iter().enumerate() {
            if i != j && a.depends_on(b) {
                dependents[j] += 1;
            }
        }
    }
    let mut placed = vec![false; n];
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        // The first unplaced node nothing unplaced depends on; on a cycle, the first
        // unplaced one.
        let next = (0..n)
            .find(|&j| !placed[j] && dependents[j] == 0)
            .or_else(|| (0..n).find(|&j| !placed[j]))
            .expect("an unplaced node");
        placed[next] = true;
        for (j, b) in nodes.iter().enumerate() {
            if !placed[j] && nodes[next].depends_on(b) {
                dependents[j] = dependents[j].saturating_sub(1);
            }
        }
        out.push(nodes[next].subject.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, service: &str, deps: &str, net: Option<&str>) -> Node {
        let mut labels = HashMap::from([
            (PROJECT.to_owned(), "shop".to_owned()),
            (SERVICE.to_owned(), service.to_owned()),
        ]);
        if !deps.is_empty() {
            labels.insert(DEPENDS_ON.to_owned(), deps.to_owned());
        }
        Node::new(
            Subject {
                id: format!("{name}-0123456789abcdef"),
                name: name.to_owned(),
                running: true,
                paused: false,
            },
            &labels,
            net.map(str::to_owned),
        )
    }

    fn names(v: Vec<Subject>) -> Vec<String> {
        v.into_iter().map(|s| s.name).collect()
    }

    #[test]
    fn dependents_are_held_before_what_they_depend_on() {
        // Listed in the worst order: dependencies first.
        let db = node("shop-db-1", "db", "", None);
        let cache = node("shop-cache-1", "cache", "", None);
        let api = node(
            "shop-api-1",
            "api",
            "db:service_healthy:false,cache:service_started:true",
            None,
        );
        let web = node("shop-web-1", "web", "api:service_started:false", None);
        // Shares api's network stack (`network_mode: service:api`).
        let sidecar = node(
            "shop-sidecar-1",
            "sidecar",
            "",
            Some("container:shop-api-1"),
        );
        let order = names(hold_order(vec![db, cache, api, web, sidecar]));
        let at = |n: &str| order.iter().position(|x| x == n).unwrap();
        assert!(at("shop-web-1") < at("shop-api-1"));
        assert!(at("shop-sidecar-1") < at("shop-api-1"));
        assert!(at("shop-api-1") < at("shop-db-1"));
        assert!(at("shop-api-1") < at("shop-cache-1"));
    }

    #[test]
    fn unrelated_containers_keep_their_order_and_other_projects_do_not_count() {
        let a = node("a", "db", "", None);
        let mut b = node("b", "web", "db:service_started:false", None);
        b.project = Some("other".into());
        assert_eq!(names(hold_order(vec![a, b])), vec!["a", "b"]);
    }

    #[test]
    fn a_cycle_does_not_lose_anyone() {
        let a = node("a", "a", "b:service_started:false", None);
        let b = node("b", "b", "a:service_started:false", None);
        let mut got = names(hold_order(vec![a, b]));
        got.sort();
        assert_eq!(got, vec!["a", "b"]);
    }
}
