//! The Kubernetes manifests as each overlay renders them (`kubectl kustomize`, where kubectl
//! is installed; otherwise the base's own files as written, without the overlays' patches):
//! every service runs non-root with probes, resources and a locked-down container, has a
//! PodDisruptionBudget and is reachable only as a NetworkPolicy allows; the public address
//! is https; the migrate Job runs as the owner.

use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

const SERVICES: [&str; 5] = [
    "scheduling",
    "review-dialogue",
    "action-tracking",
    "notifications",
    "gateway",
];

fn kubernetes() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes")
}

/// The overlay's documents, rendered by kubectl when it is here; else the base's files.
fn rendered(overlay: &str) -> (Vec<Yaml>, bool) {
    let dir = kubernetes().join("overlays").join(overlay);
    match Command::new("kubectl").arg("kustomize").arg(&dir).output() {
        Ok(output) => {
            assert!(
                output.status.success(),
                "kubectl kustomize {}: {}",
                dir.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            let text = String::from_utf8(output.stdout).unwrap();
            (YamlLoader::load_from_str(&text).unwrap(), true)
        }
        Err(_) => {
            let base = kubernetes().join("base");
            let listed = YamlLoader::load_from_str(
                &std::fs::read_to_string(base.join("kustomization.yaml")).unwrap(),
            )
            .unwrap();
            let mut docs = Vec::new();
            for file in listed[0]["resources"].as_vec().unwrap() {
                let text = std::fs::read_to_string(base.join(file.as_str().unwrap())).unwrap();
                docs.extend(YamlLoader::load_from_str(&text).unwrap());
            }
            (docs, false)
        }
    }
}

fn of_kind<'a>(docs: &'a [Yaml], kind: &str) -> Vec<&'a Yaml> {
    docs.iter()
        .filter(|doc| doc["kind"].as_str() == Some(kind))
        .collect()
}

fn named<'a>(docs: &'a [Yaml], kind: &str, name: &str) -> &'a Yaml {
    of_kind(docs, kind)
        .into_iter()
        .find(|doc| doc["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// Whether a label selector (matchLabels and `In` expressions; empty: everything) picks
/// a pod with `labels`.
fn selects(selector: &Yaml, labels: &Yaml) -> bool {
    let labelled = |key: &Yaml| labels[key.as_str().unwrap_or_default()].as_str();
    let by_labels = selector["matchLabels"].as_hash().is_none_or(|wanted| {
        wanted
            .iter()
            .all(|(key, value)| labelled(key) == value.as_str())
    });
    let by_expressions = selector["matchExpressions"]
        .as_vec()
        .is_none_or(|expressions| {
            expressions.iter().all(|e| {
                e["operator"].as_str() == Some("In")
                    && e["values"]
                        .as_vec()
                        .unwrap()
                        .iter()
                        .any(|v| labelled(&e["key"]) == v.as_str())
            })
        });
    by_labels && by_expressions
}

fn check(overlay: &str) -> (Vec<Yaml>, bool) {
    let (docs, by_kubectl) = rendered(overlay);
    let policies = of_kind(&docs, "NetworkPolicy");
    let deny = named(&docs, "NetworkPolicy", "default-deny");
    assert!(deny["spec"]["podSelector"].as_hash().unwrap().is_empty());
    let types: Vec<&str> = deny["spec"]["policyTypes"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(types, ["Ingress", "Egress"]);

    for service in SERVICES {
        let deployment = named(&docs, "Deployment", service);
        let pod = &deployment["spec"]["template"];
        let context = &pod["spec"]["securityContext"];
        assert_eq!(context["runAsNonRoot"].as_bool(), Some(true), "{service}");
        assert!(context["runAsUser"].as_i64().is_some_and(|uid| uid > 0));
        for container in pod["spec"]["containers"].as_vec().unwrap() {
            for probe in ["readinessProbe", "livenessProbe"] {
                assert!(
                    container[probe]["httpGet"]["path"].as_str().is_some(),
                    "{service}: {probe}"
                );
            }
            let resources = &container["resources"];
            assert!(resources["requests"]["cpu"].as_str().is_some(), "{service}");
            assert!(
                resources["requests"]["memory"].as_str().is_some(),
                "{service}"
            );
            assert!(
                resources["limits"]["memory"].as_str().is_some(),
                "{service}"
            );
            let locked = &container["securityContext"];
            assert_eq!(locked["allowPrivilegeEscalation"].as_bool(), Some(false));
            assert_eq!(locked["readOnlyRootFilesystem"].as_bool(), Some(true));
            assert_eq!(locked["capabilities"]["drop"][0].as_str(), Some("ALL"));
        }
        let labels = &pod["metadata"]["labels"];
        assert!(
            of_kind(&docs, "PodDisruptionBudget")
                .iter()
                .any(|pdb| selects(&pdb["spec"]["selector"], labels)),
            "{service} has no PodDisruptionBudget"
        );
        assert!(
            policies.iter().any(|policy| {
                !policy["spec"]["ingress"].is_badvalue()
                    && selects(&policy["spec"]["podSelector"], labels)
            }),
            "nothing may reach {service}"
        );
    }
    // Only the gateway takes traffic from anywhere.
    let open: Vec<&str> = policies
        .iter()
        .filter(|p| {
            p["spec"]["ingress"]
                .as_vec()
                .is_some_and(|rules| rules.iter().any(|rule| rule["from"].is_badvalue()))
        })
        .filter_map(|p| p["spec"]["podSelector"]["matchLabels"]["app"].as_str())
        .collect();
    assert_eq!(open, ["gateway"]);

    let migrate = named(&docs, "Job", "migrate");
    let env = &migrate["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(env.as_vec().unwrap().iter().any(|variable| {
        variable["valueFrom"]["secretKeyRef"]["key"].as_str() == Some("owner-database-url")
    }));
    let config = &named(&docs, "ConfigMap", "waymark")["data"];
    assert!(
        config["WAYMARK_GATEWAY__URL"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert_eq!(config["WAYMARK_DATABASE__MIGRATE"].as_str(), Some("false"));
    (docs, by_kubectl)
}

#[test]
fn the_production_overlay_is_locked_down_and_keeps_three_copies() {
    let (docs, by_kubectl) = check("production");
    if by_kubectl {
        let config = &named(&docs, "ConfigMap", "waymark")["data"];
        assert_eq!(config["WAYMARK_NATS__REPLICAS"].as_str(), Some("3"));
        assert_eq!(
            config["WAYMARK_GATEWAY__URL"].as_str(),
            Some("https://waymark.trust.example.org")
        );
        for service in SERVICES {
            assert_eq!(
                named(&docs, "Deployment", service)["spec"]["replicas"].as_i64(),
                Some(2)
            );
        }
    }
}

#[test]
fn the_small_trust_overlay_runs_one_of_each_and_can_still_be_drained() {
    let (docs, by_kubectl) = check("small-trust");
    if by_kubectl {
        let config = &named(&docs, "ConfigMap", "waymark")["data"];
        assert_eq!(config["WAYMARK_NATS__REPLICAS"].as_str(), Some("1"));
        for service in SERVICES {
            assert_eq!(
                named(&docs, "Deployment", service)["spec"]["replicas"].as_i64(),
                Some(1)
            );
            let budget = named(&docs, "PodDisruptionBudget", service);
            assert_eq!(budget["spec"]["maxUnavailable"].as_i64(), Some(1));
            assert!(budget["spec"]["minAvailable"].is_badvalue());
        }
    }
}

/// Every metric a rule or a panel names is one the code records; every alert names a runbook
/// section that exists.
#[test]
fn alerts_and_the_dashboard_use_real_metrics_and_name_their_runbook() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let monitoring = root.join("deploy/monitoring");
    let rules = YamlLoader::load_from_str(
        &std::fs::read_to_string(monitoring.join("alerts.yaml")).unwrap(),
    )
    .unwrap();
    let operations = std::fs::read_to_string(root.join("docs/operations.md")).unwrap();
    let sections: Vec<String> = operations
        .lines()
        .filter_map(|line| {
            line.strip_prefix("### ")
                .or_else(|| line.strip_prefix("## "))
        })
        .map(|title| title.to_lowercase().replace(' ', "-"))
        .collect();
    let mut expressions = Vec::new();
    let alerts = rules[0]["groups"][0]["rules"].as_vec().unwrap();
    assert!(alerts.len() >= 6);
    for alert in alerts {
        let name = alert["alert"].as_str().unwrap();
        let runbook = alert["annotations"]["runbook"].as_str().unwrap();
        let anchor = runbook
            .strip_prefix("docs/operations.md#")
            .unwrap_or_else(|| panic!("{name}: runbook {runbook}"));
        assert!(
            sections.iter().any(|s| s == anchor),
            "{name}: no section #{anchor}"
        );
        assert!(
            operations.contains(&format!("*{name}*")),
            "{name} is not explained"
        );
        expressions.push(alert["expr"].as_str().unwrap().to_owned());
    }
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(monitoring.join("dashboard.json")).unwrap())
            .unwrap();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            expressions.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    let mut source = String::new();
    for dir in ["crates", "services"] {
        read_sources(&root.join(dir), &mut source);
    }
    for expression in &expressions {
        for metric in expression
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| word.starts_with("waymark_"))
        {
            assert!(
                source.contains(&format!("\"{metric}\"")),
                "`{metric}` (in `{expression}`) is not a metric the code records"
            );
        }
    }
}

fn read_sources(dir: &Path, into: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.ends_with("tests") {
            read_sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}
