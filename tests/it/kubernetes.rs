//! `deploy/kubernetes/`: every manifest validates against the Kubernetes OpenAPI schemas
//! (PyPI's kubernetes-validate, offline, strict: unknown fields are errors), the ConfigMap
//! carries `deploy/fleet/signgate.toml` byte for byte (the file the fleet test runs), and the
//! Deployment agrees with that configuration and with the image: ports, probes, grace period,
//! secret files and variables, the non-root user.

use std::path::{Path, PathBuf};
use std::process::Command;

use figment::providers::{Format, Toml};
use figment::Figment;
use serde_json::Value;
use signgate_testkit::app::repo;
use signgate_testkit::fs::tempdir;

/// Oldest and newest Kubernetes versions checked (the preStop `sleep` action needs 1.30).
const VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];
/// Seconds between the end of the drain and SIGKILL: the process exits and flushes its log.
const EXIT_MARGIN_SECONDS: u64 = 5;

fn dir() -> PathBuf {
    repo().join("deploy/kubernetes")
}

/// The virtualenv scripts/test makes, with kubernetes-validate and PyYAML.
fn venv_bin(name: &str) -> PathBuf {
    let bin = repo().join("target/venv-k8s/bin").join(name);
    assert!(
        bin.exists(),
        "{} is missing; install it with: python3 -m venv target/venv-k8s && \
         target/venv-k8s/bin/pip install kubernetes-validate (scripts/test does this)",
        bin.display()
    );
    bin
}

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    files
}

/// `kubernetes-validate --strict` on `files` for `version`: (passed, its output).
fn validate(files: &[PathBuf], version: &str) -> (bool, String) {
    let out = Command::new(venv_bin("kubernetes-validate"))
        .args(["--strict", "--kubernetes-version", version])
        .args(files)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Every document of a YAML file, as JSON (PyYAML from the same virtualenv reads it).
fn documents(file: &Path) -> Vec<Value> {
    let out = Command::new(venv_bin("python"))
        .args([
            "-c",
            "import sys, json, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1], encoding='utf-8'))), sys.stdout)",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every resource of `kind` in the directory.
fn resources(kind: &str) -> Vec<Value> {
    manifests()
        .iter()
        .flat_map(|f| documents(f))
        .filter(|d| d["kind"] == kind)
        .collect()
}

/// The one resource of `kind` in the directory.
fn resource(kind: &str) -> Value {
    let found = resources(kind);
    assert_eq!(found.len(), 1, "{kind}: {found:?}");
    found.into_iter().next().unwrap()
}

fn fleet_config_path() -> PathBuf {
    repo().join("deploy/fleet/signgate.toml")
}

/// A TOML file as JSON, as figment reads it for the service.
fn toml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    Figment::from(Toml::string(&text))
        .extract::<Value>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `server.<key>` of the fleet configuration, or of the built-in default when it does not say.
fn server_setting(key: &str) -> Value {
    let fleet = toml(&fleet_config_path());
    match &fleet["server"][key] {
        Value::Null => toml(&repo().join("config/signgate.toml"))["server"][key].clone(),
        v => v.clone(),
    }
}

fn container() -> Value {
    let deployment = resource("Deployment");
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(containers.len(), 1);
    containers.into_iter().next().unwrap()
}

fn env(container: &Value, name: &str) -> Option<Value> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .cloned()
}

fn port_of(address: &str) -> u64 {
    address
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {address:?}"))
}

fn container_port(container: &Value, name: &str) -> u64 {
    container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no container port named {name}"))["containerPort"]
        .as_u64()
        .unwrap()
}

/// Every `(key, value)` whose key ends in `suffix`, anywhere in `value`.
fn settings_ending(value: &Value, suffix: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if k.ends_with(suffix) => found.push((k.clone(), s.clone())),
                    _ => settings_ending(v, suffix, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| settings_ending(v, suffix, found)),
        _ => {}
    }
}

#[test]
fn every_kubernetes_manifest_validates_against_the_openapi_schemas() {
    let files = manifests();
    for version in VERSIONS {
        let (ok, said) = validate(&files, version);
        assert!(ok, "kubernetes-validate {version}:\n{said}");
        for file in &files {
            let name = file.file_name().unwrap().to_str().unwrap();
            assert!(
                said.lines()
                    .any(|l| l.contains(name) && l.contains("passed")),
                "{name} was not validated against {version}:\n{said}"
            );
        }
    }
    // The validator does refuse: the Deployment with a wrongly typed and an unknown field.
    let text = std::fs::read_to_string(dir().join("deployment.yaml")).unwrap();
    let broken_dir = tempdir();
    for (what, broken) in [
        (
            "a string replica count",
            text.replace("replicas: 3", "replicas: three"),
        ),
        (
            "an unknown field",
            text.replace("terminationGracePeriodSeconds:", "terminationGraceSeconds:"),
        ),
    ] {
        assert_ne!(broken, text);
        let file = broken_dir.join("deployment.yaml");
        std::fs::write(&file, broken).unwrap();
        let (ok, said) = validate(&[file], VERSIONS[1]);
        assert!(!ok, "a Deployment with {what} passed:\n{said}");
    }
}

#[test]
fn the_configmap_carries_the_fleet_configuration_byte_for_byte() {
    let config_map = resource("ConfigMap");
    let carried = config_map["data"]["signgate.toml"]
        .as_str()
        .expect("the ConfigMap has data.signgate.toml");
    let file = std::fs::read_to_string(fleet_config_path()).unwrap();
    assert!(
        carried == file,
        "deploy/kubernetes/configmap.yaml differs from deploy/fleet/signgate.toml; \
         run deploy/kubernetes/make-configmap"
    );
    // The Deployment mounts that ConfigMap where SIGNGATE_CONFIG points.
    let deployment = resource("Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["configMap"]["name"] == config_map["metadata"]["name"])
        .expect("a volume from the ConfigMap");
    let container = container();
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == volume["name"])
        .expect("the ConfigMap's volume is mounted");
    assert_eq!(
        env(&container, "SIGNGATE_CONFIG").unwrap()["value"],
        format!("{}/signgate.toml", mount["mountPath"].as_str().unwrap())
    );
}

#[test]
fn the_deployment_agrees_with_the_configuration_on_ports_probes_grace_and_secrets() {
    let deployment = resource("Deployment");
    let spec = &deployment["spec"];
    let pod = &spec["template"]["spec"];
    let container = container();
    assert_eq!(spec["replicas"], 3);

    // Ports: what the service listens on inside the pod is what the pod and Service expose.
    let listen = env(&container, "SIGNGATE_SERVER__LISTEN").expect("the pod sets its listen");
    let listen = listen["value"].as_str().unwrap();
    assert!(
        listen.starts_with("0.0.0.0:") || listen.starts_with("[::]:"),
        "{listen}: a pod must listen beyond loopback"
    );
    let metrics = env(&container, "SIGNGATE_SERVER__METRICS_LISTEN").expect("metrics listen");
    let metrics = metrics["value"].as_str().unwrap();
    assert_eq!(container_port(&container, "http"), port_of(listen));
    assert_eq!(container_port(&container, "metrics"), port_of(metrics));
    let annotations = &spec["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(
        annotations["prometheus.io/port"],
        port_of(metrics).to_string()
    );
    assert_eq!(annotations["prometheus.io/path"], "/metrics");
    let service = resource("Service");
    let targets: Vec<&Value> = service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["targetPort"])
        .collect();
    assert!(targets.contains(&&Value::from("http")), "{targets:?}");
    assert_eq!(service["spec"]["selector"], spec["selector"]["matchLabels"]);

    // Probes: liveness on /healthz, readiness on /readyz, both on the service's port.
    for (probe, path) in [
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ] {
        assert_eq!(container[probe]["httpGet"]["path"], path, "{probe}");
        assert_eq!(container[probe]["httpGet"]["port"], "http", "{probe}");
    }

    // Grace: the preStop pause, then the configured drain, then the exit margin.
    let grace = server_setting("shutdown_grace_seconds").as_u64().unwrap();
    let pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .expect("a preStop sleep");
    assert_eq!(
        pod["terminationGracePeriodSeconds"].as_u64().unwrap(),
        pause + grace + EXIT_MARGIN_SECONDS,
        "terminationGracePeriodSeconds = preStop {pause} s + shutdown_grace_seconds {grace} s + {EXIT_MARGIN_SECONDS} s"
    );

    // Every secret file the configuration names is a key of a Secret mounted at its folder.
    let secrets = resources("Secret");
    let fleet = toml(&fleet_config_path());
    let mut files = Vec::new();
    settings_ending(&fleet, "_file", &mut files);
    for (key, path) in &files {
        let path = Path::new(path);
        assert!(
            path.is_absolute(),
            "{key} = {path:?}: name mounted files absolutely"
        );
        let mount = container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| Some(Path::new(m["mountPath"].as_str().unwrap())) == path.parent())
            .unwrap_or_else(|| panic!("{key} = {path:?}: nothing is mounted at its folder"));
        let volume = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap();
        let secret = secrets
            .iter()
            .find(|s| s["metadata"]["name"] == volume["secret"]["secretName"])
            .unwrap_or_else(|| panic!("{key} = {path:?}: the volume is not one of the Secrets"));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            secret["stringData"].get(name).is_some() || secret["data"].get(name).is_some(),
            "{key} = {path:?}: the Secret has no key {name}"
        );
    }
    // Every variable it names is set in the container, from a key the Secret has.
    let mut vars = Vec::new();
    settings_ending(&fleet, "_env", &mut vars);
    for (key, var) in &vars {
        let set = env(&container, var)
            .unwrap_or_else(|| panic!("{key} = {var:?}: the container does not set it"));
        if let Some(from) = set["valueFrom"]["secretKeyRef"].as_object() {
            let secret = secrets
                .iter()
                .find(|s| s["metadata"]["name"] == from["name"])
                .unwrap_or_else(|| panic!("{var}: no Secret {}", from["name"]));
            assert!(
                secret["stringData"]
                    .get(from["key"].as_str().unwrap())
                    .is_some(),
                "{var}: the Secret {} has no key {}",
                from["name"],
                from["key"]
            );
        }
    }

    // Hardening, and the image's numeric user.
    let security = &container["securityContext"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let user = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the Dockerfile's USER");
    assert_eq!(
        format!(
            "{}:{}",
            pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]
        ),
        user.trim()
    );
    assert!(container["resources"]["requests"]["memory"].is_string());
    assert!(container["resources"]["requests"]["cpu"].is_string());
}

#[test]
fn the_autoscaler_and_disruption_budget_keep_the_deployments_replicas() {
    let deployment = resource("Deployment");
    let hpa = resource("HorizontalPodAutoscaler");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["name"],
        deployment["metadata"]["name"]
    );
    assert_eq!(hpa["spec"]["minReplicas"], deployment["spec"]["replicas"]);
    assert_eq!(hpa["spec"]["metrics"][0]["resource"]["name"], "cpu");
    let pdb = resource("PodDisruptionBudget");
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
}
