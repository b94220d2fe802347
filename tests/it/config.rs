//! Configuration errors stop the start and name the key.

use serde_json::json;
use signgate_testkit::app::{default_config, settings};
use signgate_testkit::fs::tempdir;

/// Each configuration is refused with its key named in the message.
fn assert_each_refused_naming(cases: &[(Vec<(&str, serde_json::Value)>, &str)]) {
    for (overrides, key) in cases {
        let err = error_of(overrides);
        assert!(
            err.contains(key),
            "{overrides:?}: expected {key:?} in {err}"
        );
    }
}

fn error_of(overrides: &[(&str, serde_json::Value)]) -> String {
    match settings(&default_config(), overrides) {
        Ok(_) => panic!("configuration {overrides:?} should be refused"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn the_default_configuration_is_valid() {
    let s = settings(&default_config(), &[]).unwrap();
    assert!(s.dev);
    assert_eq!(s.rules.len(), 2);
    assert_eq!(s.server.trusted_proxies.len(), 2);
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        (vec![("server.listen", json!("nowhere"))], "server.listen"),
        (
            vec![("server.request_timeout_ms", json!("soon"))],
            "server.request_timeout_ms",
        ),
        (vec![("server.colour", json!("blue"))], "colour"),
        (
            vec![("server.trusted_proxies", json!(["10.0.0.0/99"]))],
            "server.trusted_proxies",
        ),
        (
            vec![("server.files_prefix", json!("files"))],
            "server.files_prefix",
        ),
        (vec![("log.format", json!("xml"))], "log.format"),
        (
            vec![("auth.jwt.verified_cache_seconds", json!(7200))],
            "auth.jwt.verified_cache_seconds",
        ),
        (
            vec![(
                "rules",
                json!([{"pattern": "a/../b", "access": "public", "distribution": "demo"}]),
            )],
            "rules[0].pattern",
        ),
        (
            vec![(
                "rules",
                json!([{"pattern": "a/**", "access": "everyone", "distribution": "demo"}]),
            )],
            "rules[0].access",
        ),
        (
            vec![(
                "rules",
                json!([{"pattern": "a/**", "access": "public", "distribution": "nope"}]),
            )],
            "rules[0].distribution",
        ),
        (
            vec![(
                "rules",
                json!([{"pattern": "a/**", "access": "authenticated", "distribution": "demo", "lifetime_seconds": 0}]),
            )],
            "rules[0].lifetime_seconds",
        ),
        (
            vec![(
                "rules",
                json!([{"pattern": "u/{sub}/**", "access": "public", "distribution": "demo"}]),
            )],
            "rules[0]",
        ),
        (
            vec![(
                "distributions",
                json!([{"name": "demo", "url": "ftp://x", "key_set": "demo"}]),
            )],
            "distributions[0].url",
        ),
        (
            vec![(
                "distributions",
                json!([{"name": "demo", "url": "https://x.example", "key_set": "demo", "hash": "md5"}]),
            )],
            "distributions[0].hash",
        ),
        (
            vec![(
                "key_sets",
                json!([{"name": "demo", "active": "KNOPE", "keys": [{"key_pair_id": "KDEMO2RSA0001", "private_key_file": "dev/demo-rsa-private.pem"}]}]),
            )],
            "key_sets[0]",
        ),
        (
            vec![(
                "key_sets",
                json!([{"name": "demo", "active": "K1", "keys": [{"key_pair_id": "K1", "private_key_file": "dev/missing.pem"}]}]),
            )],
            "key_sets[0].keys[0].private_key_file",
        ),
        (
            vec![(
                "key_sets",
                json!([{"name": "demo", "active": "K1", "keys": [{"key_pair_id": "K1", "private_key_file": "dev/demo-rsa-public.pem"}]}]),
            )],
            "public key",
        ),
        (vec![("auth.order", json!(["kerberos"]))], "auth.order"),
        (
            vec![(
                "auth.jwt.issuers",
                json!([{"issuer": "x", "algorithms": ["HS999"], "secret": "0123456789abcdef0123456789abcdef"}]),
            )],
            "auth.jwt.issuers[0].algorithms",
        ),
        (
            vec![(
                "auth.jwt.issuers",
                json!([{"issuer": "x", "algorithms": ["HS256"], "secret": "short"}]),
            )],
            "at least 32 bytes",
        ),
        (
            vec![(
                "auth.jwt.issuers",
                json!([{"issuer": "x", "algorithms": ["RS256", "HS256"], "jwks_url": "https://x"}]),
            )],
            "one family",
        ),
        (
            vec![(
                "auth.jwt.issuers",
                json!([{"issuer": "x", "algorithms": ["RS256"]}]),
            )],
            "exactly one key source",
        ),
    ];
    assert_each_refused_naming(&cases);
}

#[test]
fn demo_keys_and_inline_secrets_need_a_dev_setup() {
    let err = error_of(&[("dev", json!(false))]);
    assert!(
        err.contains("demo key") && err.contains("dev = true"),
        "{err}"
    );
    let dir = tempdir();
    let key = signgate_cloudfront::SigningKey::generate(
        signgate_cloudfront::KeyPairId::parse("K1").unwrap(),
        signgate_cloudfront::KeyType::EcdsaP256,
    )
    .unwrap();
    std::fs::write(dir.join("k.pem"), key.private_pkcs8_pem()).unwrap();
    let key_sets = json!([{"name": "demo", "active": "K1", "keys": [{"key_pair_id": "K1", "private_key_file": dir.join("k.pem")}]}]);
    let err = error_of(&[("dev", json!(false)), ("key_sets", key_sets.clone())]);
    assert!(
        err.contains("auth.jwt.issuers[0].secret") && err.contains("secret_file"),
        "{err}"
    );
    std::fs::write(
        dir.join("secret"),
        "a-real-secret-that-is-long-enough-0123456789\n",
    )
    .unwrap();
    let issuers = json!([{"issuer": "signgate-dev", "audience": ["signgate"], "algorithms": ["HS256"], "secret_file": dir.join("secret")}]);
    let s = settings(
        &default_config(),
        &[
            ("dev", json!(false)),
            ("key_sets", key_sets),
            ("auth.jwt.issuers", issuers),
        ],
    )
    .unwrap();
    assert!(!s.dev);
}

#[test]
fn signed_cookies_never_go_to_cloudfronts_shared_domain() {
    let rules = json!([{"pattern": "hls/{sub}/**", "access": "authenticated", "distribution": "demo", "cookies": true}]);
    let err = error_of(&[("rules", rules.clone())]);
    assert!(
        err.contains("rules[0].cookies") && err.contains("cloudfront.net"),
        "{err}"
    );
    let dist = |domain: &str| json!([{"name": "demo", "url": "https://media.example.com", "key_set": "demo", "cookie_domain": domain}]);
    let err = error_of(&[("distributions", dist("cloudfront.net"))]);
    assert!(err.contains("distributions[0].cookie_domain"), "{err}");
    let err = error_of(&[
        ("distributions", dist("other.example")),
        ("server.public_url", json!("https://files.example.com")),
    ]);
    assert!(err.contains("must cover both"), "{err}");
    settings(
        &default_config(),
        &[
            ("distributions", dist("example.com")),
            ("server.public_url", json!("https://files.example.com")),
            ("rules", rules.clone()),
        ],
    )
    .unwrap();
    let err = error_of(&[
        ("distributions", dist("")),
        ("server.public_url", json!("https://files.example.com")),
        ("rules", rules),
    ]);
    assert!(err.contains("never reach"), "{err}");
}

#[test]
fn ip_bound_urls_are_never_cached() {
    let rules = json!([{"pattern": "a/**", "access": "authenticated", "distribution": "demo", "policy": "custom", "bind_client_ip": true, "cache_step_seconds": 60}]);
    let err = error_of(&[("rules", rules)]);
    assert!(err.contains("rules[0].cache_step_seconds"), "{err}");
}

#[test]
fn redis_sessions_need_their_own_key_prefix() {
    let cfg =
        json!({"url": "redis://127.0.0.1:6379/", "cookie": "sid", "subject_field": "user_id"});
    let err = error_of(&[
        ("auth.order", json!(["redis_session"])),
        ("auth.redis_session", cfg),
    ]);
    assert!(err.contains("auth.redis_session.key_prefix"), "{err}");
}

#[test]
fn max_session_bytes_outside_1_kib_to_1_mib_is_refused_naming_the_key() {
    let redis = |max: serde_json::Value| {
        vec![
            ("auth.order", json!(["redis_session"])),
            (
                "auth.redis_session",
                json!({"url": "redis://127.0.0.1:6379/", "cookie": "sid", "key_prefix": "s:", "subject_field": "user_id", "max_session_bytes": max}),
            ),
        ]
    };
    let django = |backend: &str, max: serde_json::Value| {
        vec![
            ("auth.order", json!(["django_session"])),
            (
                "auth.django_session",
                json!({"backend": backend, "secret_key": "k", "database_url": "sqlite:///nowhere.sqlite3", "max_session_bytes": max}),
            ),
        ]
    };
    let mut cases = Vec::new();
    for max in [
        json!(0),
        json!(1023),
        json!(1_048_577),
        json!(u64::MAX),
        json!(-1),
    ] {
        cases.push((redis(max.clone()), "auth.redis_session.max_session_bytes"));
        cases.push((
            django("db", max.clone()),
            "auth.django_session.max_session_bytes",
        ));
        cases.push((
            django("signed_cookies", max),
            "auth.django_session.max_session_bytes",
        ));
    }
    assert_each_refused_naming(&cases);
    for max in [1024, 65_536, 1_048_576] {
        for overrides in [
            redis(json!(max)),
            django("db", json!(max)),
            django("signed_cookies", json!(max)),
        ] {
            settings(&default_config(), &overrides).unwrap_or_else(|e| panic!("{max}: {e:#}"));
        }
    }
}

#[test]
fn a_files_prefix_on_or_around_a_fixed_route_is_refused_naming_the_key() {
    for prefix in [
        "/cookies",
        "/cookies/",
        "/cookies/media",
        "/auth",
        "/sign",
        "/healthz",
        "/readyz/x",
    ] {
        let err = error_of(&[("server.files_prefix", json!(prefix))]);
        assert!(
            err.contains("server.files_prefix") && err.contains("collides"),
            "{prefix}: {err}"
        );
    }
    for prefix in ["/files", "/media/files", "/cookies-archive", "/signed"] {
        settings(&default_config(), &[("server.files_prefix", json!(prefix))])
            .unwrap_or_else(|e| panic!("{prefix}: {e:#}"));
    }
}

#[test]
fn values_check_config_used_to_accept_and_serve_mishandled_are_refused_naming_the_key() {
    let cases = [
        (
            vec![("server.login_url", json!("/\\evil.example"))],
            "server.login_url",
        ),
        (
            vec![("server.login_url", json!("/\t/evil.example"))],
            "server.login_url",
        ),
        (
            vec![(
                "distributions",
                json!([{"name": "demo", "url": "https://media.example.com/*", "key_set": "demo"}]),
            )],
            "distributions[0].url",
        ),
        (
            vec![(
                "auth.jwt.issuers",
                json!([{"issuer": "x", "algorithms": ["HS256"], "secret": "0123456789abcdef0123456789abcdef", "leeway_seconds": u64::MAX}]),
            )],
            "auth.jwt.issuers[0].leeway_seconds",
        ),
        (
            vec![("server.max_batch_keys", json!(0))],
            "server.max_batch_keys",
        ),
        (
            vec![("server.max_batch_keys", json!(1_000_000))],
            "server.max_batch_keys",
        ),
    ];
    assert_each_refused_naming(&cases);
}

#[test]
fn keys_are_fetched_over_https_unless_a_dev_setup_fetches_from_loopback() {
    let issuer = |url: &str| {
        (
            "auth.jwt.issuers",
            json!([{"issuer": "x", "algorithms": ["ES256"], "jwks_url": url}]),
        )
    };
    let err = error_of(&[issuer("http://idp.example/jwks?api_key=s3cret")]);
    assert!(
        err.contains("auth.jwt.issuers[0].jwks_url") && err.contains("https://"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
    settings(&default_config(), &[issuer("http://127.0.0.1:9/jwks")]).unwrap();
    settings(&default_config(), &[issuer("https://idp.example/jwks")]).unwrap();
    // Without dev, plain http is refused even to loopback.
    let dir = tempdir();
    let key = signgate_cloudfront::SigningKey::generate(
        signgate_cloudfront::KeyPairId::parse("K1").unwrap(),
        signgate_cloudfront::KeyType::EcdsaP256,
    )
    .unwrap();
    std::fs::write(dir.join("k.pem"), key.private_pkcs8_pem()).unwrap();
    let key_sets = json!([{"name": "demo", "active": "K1", "keys": [{"key_pair_id": "K1", "private_key_file": dir.join("k.pem")}]}]);
    let err = error_of(&[
        ("dev", json!(false)),
        ("key_sets", key_sets),
        issuer("http://127.0.0.1:9/jwks"),
    ]);
    assert!(
        err.contains("auth.jwt.issuers[0].jwks_url") && err.contains("dev = true"),
        "{err}"
    );
}

#[test]
fn jwks_refetches_are_bounded_outside_development() {
    let issuer = |refresh: u64| {
        (
            "auth.jwt.issuers",
            json!([{"issuer": "idp", "audience": ["signgate"], "algorithms": ["ES256"],
                    "jwks_url": "https://idp.example/jwks", "jwks_min_refresh_seconds": refresh}]),
        )
    };
    let dir = tempdir();
    let key = signgate_cloudfront::SigningKey::generate(
        signgate_cloudfront::KeyPairId::parse("K1").unwrap(),
        signgate_cloudfront::KeyType::EcdsaP256,
    )
    .unwrap();
    std::fs::write(dir.join("k.pem"), key.private_pkcs8_pem()).unwrap();
    let key_sets = json!([{"name": "demo", "active": "K1", "keys": [{"key_pair_id": "K1", "private_key_file": dir.join("k.pem")}]}]);
    let production = |refresh: u64| {
        settings(
            &default_config(),
            &[
                ("dev", json!(false)),
                ("key_sets", key_sets.clone()),
                issuer(refresh),
            ],
        )
    };
    // 0 would let every token with an unknown kid be a fetch from the identity provider.
    let err = format!("{:#}", production(0).unwrap_err());
    assert!(
        err.contains("auth.jwt.issuers[0].jwks_min_refresh_seconds: at least 1"),
        "{err}"
    );
    let err = format!("{:#}", production(86_401).unwrap_err());
    assert!(err.contains("at most 86400"), "{err}");
    production(1).unwrap();
    // Tests (dev = true) may refetch at once.
    settings(&default_config(), &[issuer(0)]).unwrap();
}
